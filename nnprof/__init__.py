"""nnprof: predict neural-network inference latency from the network's graph (NAR-Former V2)."""

__version__ = "0.1.0"
