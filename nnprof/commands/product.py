"""`nnprof` commands: product."""
