"""ONNX -> raw graph: ops, attributes, shapes, edges and per-node cost counts.

The raw graph is a plain, JSON-serialisable record of a network. It holds everything the
encoder needs, so a dataset can keep raw graphs and be re-encoded when the encoding
changes, without converting or measuring anything again.

Conventions
-----------
* One node per ONNX operator. Graph inputs and initializers (weights) are not nodes.
* Edges follow tensors from producer node to consumer node (directed, node indices).
* ``macs``: multiply-accumulate operations (one MAC = one multiply + one add). nnprof
  reports "FLOPs" as MACs, the convention of the published zoo tables (ResNet-50 at 224
  is "4.1 GFLOPs" = 4.1 G MACs).
* ``params``: parameter elements the node owns (the initializers it consumes).
* ``mem``: memory access in elements = output elements + parameter elements (NNLQP's
  definition). Bytes = 4 x elements for fp32.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

RAW_GRAPH_VERSION = 1


@dataclass
class Node:
    name: str
    op: str  # ONNX op_type, e.g. "Conv"
    attrs: dict[str, Any] = field(default_factory=dict)  # ONNX attributes, JSON-friendly values
    in_shapes: list[list[int]] = field(default_factory=list)  # shapes of all inputs ([] if unknown)
    out_shape: list[int] = field(default_factory=list)  # shape of the first output, batch included
    has_bias: bool = False  # Conv/ConvTranspose/Gemm: a third input is present
    macs: int = 0
    params: int = 0
    mem: int = 0


@dataclass
class RawGraph:
    name: str
    nodes: list[Node]
    edges: list[tuple[int, int]]  # (producer, consumer) node indices
    batch_size: int
    input_shape: list[int]  # shape of the (first) graph input, batch included
    version: int = RAW_GRAPH_VERSION

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def mem(self) -> int:
        return sum(n.mem for n in self.nodes)

    def ops(self) -> list[str]:
        return [n.op for n in self.nodes]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["edges"] = [list(e) for e in self.edges]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RawGraph:
        nodes = [Node(**n) for n in d["nodes"]]
        return cls(
            name=d["name"],
            nodes=nodes,
            edges=[(int(a), int(b)) for a, b in d["edges"]],
            batch_size=int(d["batch_size"]),
            input_shape=[int(s) for s in d["input_shape"]],
            version=int(d.get("version", RAW_GRAPH_VERSION)),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, s: str) -> RawGraph:
        return cls.from_dict(json.loads(s))
