"""`nnprof` commands: frontend."""
