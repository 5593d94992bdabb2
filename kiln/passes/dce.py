"""Dead code elimination: drop nodes whose results reach no output and no assign."""
from __future__ import annotations

from ..ir.graph import Graph
from ..ir.opdef import get
from .manager import graph_pass


@graph_pass("dce")
def dce(g: Graph) -> Graph:
    live = set(g.outputs)
    keep = []
    for n in reversed(g.nodes):
        if "effectful" in get(n.op).traits or any(v in live for v in n.outputs):
            keep.append(n)
            live.update(n.inputs)
    if len(keep) == len(g.nodes):
        return g
    return Graph(g.name, g.inputs, keep[::-1], g.outputs)
