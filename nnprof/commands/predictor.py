"""`nnprof` commands: predictor."""
