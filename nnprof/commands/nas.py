"""`nnprof` commands: nas."""
