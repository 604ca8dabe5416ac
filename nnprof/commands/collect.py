"""`nnprof` commands: collect."""
