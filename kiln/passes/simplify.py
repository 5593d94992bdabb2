"""Algebraic simplification: identities that hold exactly (bit for bit, NaN and inf included)
under NumPy semantics, so a simplified graph computes what the traced one did.

Left out on purpose: x*0 → 0 (NaN·0, inf·0), x-x → 0 (NaN), exp(log x) → x (NaN for x < 0),
log(exp x) → x (exp rounds and overflows), x + 0.0 → x for floats (-0.0 + 0.0 is +0.0).
"""
from __future__ import annotations

import numpy as np

from ..ir import dtypes as dt
from ..ir.builder import Emitter
from ..ir.graph import Graph, Node, Value
from ..ir.opdef import get
from .manager import graph_pass
from .rewrite import constant_of, is_splat, producer, rewrite, rule

S = "simplify"


def _same(n: Node, v: Value) -> Value | None:
    """v as the replacement of n, when it has exactly n's type (no broadcasting hidden)."""
    return v if v.type == n.out.type else None


# arithmetic identities ---------------------------------------------------------------------------

def _is_zero_identity(c: Value, negative: bool) -> bool:
    """Is c a zero that leaves x unchanged when added (-0.0) or subtracted (+0.0)? For floats
    only that signed zero does: -0.0 + 0.0 is +0.0. Any integer zero does."""
    k = constant_of(c)
    if k is None or k.size == 0 or not (k == 0).all():
        return False
    return not c.dtype.is_float or bool((np.signbit(k) == negative).all())


@rule(S, "add")
def add_zero(n: Node, e: Emitter) -> Value | None:
    a, b = n.inputs
    if _is_zero_identity(b, negative=True):
        return _same(n, a)
    return _same(n, b) if _is_zero_identity(a, negative=True) else None


@rule(S, "subtract")
def subtract_zero(n: Node, e: Emitter) -> Value | None:
    a, b = n.inputs
    return _same(n, a) if _is_zero_identity(b, negative=False) else None


@rule(S, "multiply")
def multiply_one(n: Node, e: Emitter) -> Value | None:
    a, b = n.inputs
    if is_splat(b, 1):
        return _same(n, a)
    return _same(n, b) if is_splat(a, 1) else None


@rule(S, "multiply")
def multiply_minus_one(n: Node, e: Emitter) -> Value | None:
    a, b = n.inputs
    for x, c in ((a, b), (b, a)):
        if is_splat(c, -1) and x.type == n.out.type:
            return e.negative(x)
    return None


@rule(S, "divide")
def divide_one(n: Node, e: Emitter) -> Value | None:
    a, b = n.inputs
    return _same(n, a) if is_splat(b, 1) else None


@rule(S, "power")
def power_small_integer(n: Node, e: Emitter) -> Value | None:
    """x**1 → x, x**2 → x·x (both correctly rounded, as pow is for these exponents)."""
    x, p = n.inputs
    if x.type != n.out.type:
        return None
    if is_splat(p, 1):
        return x
    return e.multiply(x, x) if is_splat(p, 2) else None


@rule(S, "add")
def add_negated(n: Node, e: Emitter) -> Value | None:
    a, b = n.inputs
    if (nb := producer(b, "negative")) is not None:
        return e.subtract(a, nb.inputs[0])
    if (na := producer(a, "negative")) is not None:
        return e.subtract(b, na.inputs[0])
    return None


@rule(S, "subtract")
def subtract_negated(n: Node, e: Emitter) -> Value | None:
    a, b = n.inputs
    nb = producer(b, "negative")
    return e.add(a, nb.inputs[0]) if nb is not None else None


@rule(S, "negative", "logical_not", "invert")
def involution(n: Node, e: Emitter) -> Value | None:
    """neg(neg x), not(not x), ~~x → x."""
    inner = producer(n.inputs[0], n.op)
    return _same(n, inner.inputs[0]) if inner is not None else None


@rule(S, "abs")
def abs_idempotent(n: Node, e: Emitter) -> Value | None:
    inner = n.inputs[0].producer
    if inner is not None and inner.op in ("abs", "exp"):  # already non-negative (or NaN)
        return n.inputs[0]
    return None


@rule(S, "where")
def where_same_branches(n: Node, e: Emitter) -> Value | None:
    c, a, b = n.inputs
    if a is b:
        return _same(n, a)
    cond = constant_of(c)
    if cond is not None and cond.size > 0 and (cond.all() or not cond.any()):
        return _same(n, a if cond.all() else b)
    return None


# casts ----------------------------------------------------------------------------------------------

def _exact(src: dt.DType, via: dt.DType) -> bool:
    """Does every `src` value survive a round trip through `via`?"""
    if src == via or src.is_bool:
        return True
    if via.is_bool:
        return False
    if src.is_float:
        return via.is_float and via.itemsize >= src.itemsize
    if via.is_float:  # ints: float mantissa must hold them
        return (via.itemsize == 8 and src.itemsize <= 4)
    return via.itemsize >= src.itemsize


@rule(S, "astype")
def astype_identity(n: Node, e: Emitter) -> Value | None:
    x = n.inputs[0]
    if x.dtype == n.out.dtype:
        return x
    inner = producer(x, "astype")
    if inner is not None and _exact(inner.inputs[0].dtype, x.dtype):
        src = inner.inputs[0]
        return src if src.dtype == n.out.dtype else e.astype(src, dtype=n.out.dtype.name)
    return None


# movement --------------------------------------------------------------------------------------------

@rule(S, "reshape", "broadcast_to")
def movement_identity(n: Node, e: Emitter) -> Value | None:
    return _same(n, n.inputs[0])


@rule(S, "reshape")
def reshape_reshape(n: Node, e: Emitter) -> Value | None:
    inner = producer(n.inputs[0], "reshape")
    return e.reshape_to(inner.inputs[0], n.out.shape) if inner is not None else None


@rule(S, "broadcast_to")
def broadcast_broadcast(n: Node, e: Emitter) -> Value | None:
    inner = producer(n.inputs[0], "broadcast_to")
    return e.broadcast(inner.inputs[0], n.out.shape) if inner is not None else None


@rule(S, "broadcast_to")
def broadcast_scalar_constant(n: Node, e: Emitter) -> Value | None:
    """broadcast_to(reshape(c)) of a one-element constant → broadcast_to(c)."""
    inner = producer(n.inputs[0], "reshape")
    if inner is not None and producer(inner.inputs[0], "constant") is not None and inner.inputs[0].type.size == 1:
        return e.broadcast(inner.inputs[0], n.out.shape) if inner.inputs[0].ndim <= n.out.ndim else None
    return None


@rule(S, "transpose")
def transpose_transpose(n: Node, e: Emitter) -> Value | None:
    perm = tuple(n.attrs["perm"])
    if perm == tuple(range(len(perm))):
        return n.inputs[0]
    inner = producer(n.inputs[0], "transpose")
    if inner is None:
        return None
    first = tuple(inner.attrs["perm"])
    return e.transpose_to(inner.inputs[0], tuple(first[p] for p in perm))


@rule(S, "sum", "max", "min", "prod")
def reduce_nothing(n: Node, e: Emitter) -> Value | None:
    """A reduction over no axes, or only over axes of length 1, is a reshape."""
    x = n.inputs[0]
    axes = n.attrs.get("axes", ())
    if n.op == "sum" and x.dtype.is_float:  # a float sum is 0.0 + x: it turns -0.0 into +0.0
        return None
    if all(x.shape[a] == 1 for a in axes) and x.dtype == n.out.dtype and x.type.size > 0:
        return e.reshape_to(x, n.out.shape)
    return None


@rule(S, "sum")
def sum_of_negated(n: Node, e: Emitter) -> Value | None:
    """sum(-x) → -sum(x): negation commutes with rounding, so this is exact."""
    inner = producer(n.inputs[0], "negative")
    if inner is None:
        return None
    return e.negative(e.sum(inner.inputs[0], **n.attrs))


@rule(S, name="slice_after_elementwise")
def slice_after_elementwise(n: Node, e: Emitter) -> Value | None:
    """f(x[s], c) → f(x, c)[s] for an elementwise f whose other operands do not vary along the
    axes the slice cuts, when x comes from a reduction (through reshapes and elementwise ops)
    and is at most a third larger than x[s]: f then fuses into the reduction's kernel as an
    epilogue (a stride-1 direct convolution's bias and activation, computed on its whole
    rows) instead of running as a kernel of its own. Exact: f sees the same elements."""
    if "elementwise" not in get(n.op).traits:
        return None
    sliced = [v for v in n.inputs if producer(v, "slice") is not None]
    if len(sliced) != 1 or sliced[0].shape != n.out.shape:
        return None
    (v,) = sliced
    s = v.producer
    x = s.inputs[0]
    if any(step != 1 for step in s.attrs["steps"]) or 3 * x.type.size > 4 * v.type.size or not _after_reduction(x):
        return None
    cut = [d for d in range(x.ndim) if x.shape[d] != v.shape[d]]
    for u in n.inputs:
        lead = n.out.ndim - u.ndim
        if u is not v and any(d >= lead and u.shape[d - lead] != 1 for d in cut):
            return None
    wide = getattr(e, n.op)(*[x if u is v else u for u in n.inputs], **n.attrs)
    return e.slice(wide, **s.attrs)


def _after_reduction(x: Value, visits: int = 16) -> bool:
    """Is x a reduction's result, up to reshapes and elementwise ops (a few producers deep)?"""
    todo, seen = [x], set()
    while todo and len(seen) < visits:
        p = todo.pop().producer
        if p is None or p in seen:
            continue
        seen.add(p)
        traits = get(p.op).traits
        if "reduction" in traits:
            return True
        if p.op == "reshape" or "elementwise" in traits:
            todo.extend(p.inputs)
    return False


@graph_pass("simplify")
def simplify(g: Graph) -> Graph:
    return rewrite(g, S)
