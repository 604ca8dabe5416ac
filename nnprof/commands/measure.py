"""`nnprof` commands: measure."""
