"""Constant folding through each op's NumPy reference.

A node folds when every input is a constant, the op is pure and not a source of values
(constant, iota, random), and the result is no larger than its largest input (so a
broadcast of a scalar stays a cheap broadcast, not a big dense constant) and under
`MAX_ELEMENTS`.
"""
from __future__ import annotations

import numpy as np

from ..ir.builder import Emitter
from ..ir.graph import Graph, Node, Value
from ..ir.opdef import get
from .manager import graph_pass
from .rewrite import constant_of, rewrite, rule

MAX_ELEMENTS = 1 << 16


@rule("fold")
def fold_constant_inputs(n: Node, e: Emitter) -> Value | None:
    op = get(n.op)
    if not n.inputs or op.ref is None or op.traits & {"random", "effectful"}:
        return None
    size = n.out.type.size
    if size > MAX_ELEMENTS or size > max(max(v.type.size for v in n.inputs), 1):
        return None
    values = [constant_of(v) for v in n.inputs]
    if any(c is None for c in values):
        return None
    with np.errstate(all="ignore"):
        result = op.ref(*[np.asarray(c, dtype=v.dtype.np) for c, v in zip(values, n.inputs)], **n.attrs)
    result = np.asarray(result, dtype=n.out.dtype.np).reshape(n.out.shape)
    return e.const(result, n.out.dtype)


@graph_pass("fold")
def fold(g: Graph) -> Graph:
    return rewrite(g, "fold")
