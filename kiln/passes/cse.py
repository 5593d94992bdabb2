"""Common-subexpression elimination: one node per (op, inputs, attributes).

Effectful ops (assign) and random sources are never merged; constants merge by value.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ir.graph import Graph, Node, Value
from ..ir.opdef import get
from .manager import graph_pass
from .rewrite import copy_node


def _key(n: Node) -> tuple | None:
    if get(n.op).traits & {"effectful", "random"}:
        return None
    return (n.op, tuple(v.uid for v in n.inputs), tuple(sorted((k, _hashable(v)) for k, v in n.attrs.items())),
            tuple(v.type for v in n.outputs))


def _hashable(x: Any) -> Any:
    if isinstance(x, float):
        return ("float", x, math.copysign(1.0, x))  # 0.0 == -0.0, but they are different attributes
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if isinstance(x, (list, tuple)):
        return tuple(_hashable(v) for v in x)
    if isinstance(x, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in x.items()))
    return x


@graph_pass("cse")
def cse(g: Graph) -> Graph:
    seen: dict[tuple, Node] = {}
    subst: dict[Value, Value] = {}
    nodes: list[Node] = []
    for node in g.nodes:
        n = node
        if any(v in subst for v in n.inputs):
            n = copy_node(n, tuple(subst.get(v, v) for v in n.inputs), subst)
        key = _key(n)
        if key is not None and key in seen:
            for old, new in zip(node.outputs, seen[key].outputs):
                subst[old] = new  # later uses name the original Value
            continue
        if key is not None:
            seen[key] = n
        nodes.append(n)
    if len(nodes) == len(g.nodes) and not subst:
        return g
    return Graph(g.name, g.inputs, nodes, [subst.get(v, v) for v in g.outputs])
