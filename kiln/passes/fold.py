"""Constant folding through each op's NumPy reference.

A node folds when every input is a constant, the op is pure and not a source of values
(constant, iota, random), and the result is no larger than its largest input and under
`MAX_ELEMENTS`. A result whose elements are all equal becomes a one-element constant
broadcast to the shape (the canonical splat, which fusion reads as a scalar).

A reference that raises a kiln error (an index out of bounds) raises it here, with the
node's op and line, exactly as the compiled code would at run time; one that raises
anything else (NumPy refusing an input the kernels define) leaves the node to run time.
"""
from __future__ import annotations

import numpy as np

from ..errors import KilnError
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
    if n.op in ("broadcast_to", "reshape") and n.inputs[0].type.size == 1:
        return None  # already the canonical form of a splat
    try:
        with np.errstate(all="ignore"):  # contiguous inputs: NumPy's sum of −0.0s is −0.0 over a broadcast
            # view, +0.0 over an array (as kiln's kernels compute it)
            result = op.ref(*[np.array(c, dtype=v.dtype.np, order="C") for c, v in zip(values, n.inputs)],
                            **n.attrs)
    except KilnError as err:  # what the compiled code raises (a bad index): raised now, at the user's line
        raise err.at(n.op, n.loc) from None
    except (ArithmeticError, IndexError, TypeError, ValueError):
        return None  # NumPy refuses what the kernel defines: left for run time
    result = np.asarray(result, dtype=n.out.dtype.np).reshape(n.out.shape)
    if result.size > 1 and _splat(result):  # keep one element, broadcast it
        return e.broadcast(e.const(result.flat[0], n.out.dtype), n.out.shape)
    return e.const(result, n.out.dtype)


def _splat(a: np.ndarray) -> bool:
    """Are all elements the same bits (so 0.0 and -0.0 differ, and equal NaNs agree)?"""
    flat = np.ascontiguousarray(a).reshape(-1)
    raw = flat.view(np.uint8).reshape(flat.size, -1)
    return bool((raw == raw[0]).all())


@graph_pass("fold")
def fold(g: Graph) -> Graph:
    return rewrite(g, "fold")
