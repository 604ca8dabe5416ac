"""The one exception type that means "the user asked for something we cannot do".

The CLI turns it into a single line on stderr and a non-zero exit code; anything else
is a bug and keeps its traceback.
"""


class NNProfError(Exception):
    """A user-facing error: the message is one line that names the problem (and the fix)."""
