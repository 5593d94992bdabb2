"""The NumPy evaluation of a graph through each op's registry `ref`, with an error bound per
element that says how far a correct compiled result may be from it.

Every op's reference runs on float64 copies of float32 operands and is rounded to the node's
dtype once: the correctly rounded result. A value computed only by correctly rounded ops
(arithmetic, sqrt, comparisons, movement, gathers, max/min) from the inputs must match it
bitwise (bound 0: same NaN positions, same signed zeros). Where an operand is inexact, its
bound travels forward: an elementwise op is evaluated at the corners of its operands' error
intervals (which catches jumps: floor, comparisons, casts); an int or bool result that an
operand's error could change is not comparable (bound inf). Inexact ops add their own:
transcendentals 2 ulp (4 eps |y|, tests/codegen/test_mathlib.py's promise), sums, products and
contractions n eps sum|x| for n terms (a running sum's bound; pairwise summation is tighter).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from kiln.ir.graph import Graph, Node, Value
from kiln.ir.opdef import get

from .known import ZERO_SIGN_OF_SUMS

SUMS = ("sum", "prod", "cumsum")  # combiners whose rounding grows with the number of terms


def eps(d: np.dtype) -> float:
    return float(np.finfo(d).eps)


def _tiny(d: np.dtype) -> float:
    """An absolute floor: results in the subnormal range round to multiples of this."""
    return float(np.finfo(d).smallest_subnormal)


def run_ref(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    """The op's reference, rounded to the node's dtype: on float64 copies of float32 operands
    for transcendentals and reductions (the correctly rounded result), in the operands' own
    dtypes for the other elementwise ops (NumPy's float32 semantics, e.g. of floor_divide)."""
    op = get(node.op)
    native = "elementwise" in op.traits and "transcendental" not in op.traits
    wide = [x.astype(np.float64) if x.dtype == np.float32 and not native else x for x in xs]
    with np.errstate(all="ignore"):
        out = np.asarray(get(node.op).ref(*wide, **node.attrs))
        return out.astype(node.out.dtype.np)


def _ref64(node: Node, xs: list[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(get(node.op).ref(*xs, **node.attrs))


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| where NaN matches NaN and equal infinities match (else an infinite distance)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(all="ignore"):
        d = np.abs(a - b)
    d = np.where(a == b, 0.0, d)
    d = np.where(np.isnan(a) & np.isnan(b), 0.0, d)
    return np.where(np.isnan(d), np.inf, d)


def _elementwise_bound(node: Node, xs: list[np.ndarray], es: list[np.ndarray], y64: np.ndarray) -> np.ndarray:
    """Largest change of the result over the corners of the operands' error intervals."""
    shape = node.out.shape
    moving = [i for i, e in enumerate(es) if np.any(e > 0)]
    dev = np.zeros(shape)
    for i in moving:  # an infinite bound (or any bound on an int/bool operand) poisons its elements
        if xs[i].dtype.kind != "f":
            dev = np.where(np.broadcast_to(es[i] > 0, shape), np.inf, dev)
    floats = [i for i in moving if xs[i].dtype.kind == "f"]
    wide = [x.astype(np.float64) if x.dtype.kind == "f" else x for x in xs]
    for signs in itertools.product((-1.0, 1.0), repeat=len(floats)):
        corner = list(wide)
        for i, s in zip(floats, signs):
            with np.errstate(all="ignore"):
                corner[i] = wide[i] + s * np.where(np.isinf(es[i]), 0.0, es[i])
        dev = np.maximum(dev, _distance(_ref64(node, corner), y64))
    for i in floats:
        dev = np.where(np.broadcast_to(np.isinf(es[i]), shape), np.inf, dev)
    return dev


def _reduction_bound(node: Node, xs: list[np.ndarray], es: list[np.ndarray], y64: np.ndarray) -> np.ndarray:
    """Operand error carried by the op (max/min: the largest; others are linear in each
    operand, so the reference applied to the bounds), plus rounding of n-term sums."""
    op = get(node.op)
    floats = [x.dtype.kind == "f" for x in xs]
    if op.combiner == "prod":  # |prod(x + d) - prod(x)| <= prod(|x| + e) - prod(|x|)
        a = np.abs(xs[0].astype(np.float64))
        carried = np.nan_to_num(_ref64(node, [a + es[0]]) - _ref64(node, [a]), nan=np.inf) if np.any(
            es[0] > 0) else np.zeros(node.out.shape)
    elif op.combiner in ("max", "min", "argmax", "argmin"):
        e = es[0]
        red = tuple(a % max(e.ndim, 1) for a in node.attrs.get("axes", (node.attrs.get("axis", 0),)))
        carried = np.max(e, axis=red, keepdims=node.attrs["keepdims"], initial=0.0) if e.size else np.zeros(
            node.out.shape)
    else:
        carried = np.zeros(node.out.shape)
        for i in range(len(xs)):  # bilinear ops (matmul): |a| e_b + e_a |b| + e_a e_b
            if np.any(es[i] > 0):
                args = [es[i] if j == i else np.abs(x.astype(np.float64)) + es[j] if floats[j] else x
                        for j, x in enumerate(xs)]
                carried = carried + np.nan_to_num(_ref64(node, args), nan=np.inf)
    carried = np.broadcast_to(np.asarray(carried, np.float64), node.out.shape)
    if node.out.dtype.is_float and (op.combiner in SUMS or op.scatter is not None):
        if ZERO_SIGN_OF_SUMS:
            carried = carried + _tiny(node.out.dtype.np)
        n = _terms(node)
        if n > 1:
            mags = [np.abs(x.astype(np.float64)) + e if f else x for x, e, f in zip(xs, es, floats)]
            carried = carried + n * eps(node.out.dtype.np) * np.nan_to_num(_ref64(node, mags), nan=np.inf)
    return carried


def _terms(node: Node) -> int:
    op = get(node.op)
    if op.rshape is not None:
        return math.prod(op.rshape(node))
    return math.prod(node.inputs[0].shape[:-1])  # scatter: at most every update lands on one point


# NumPy leaves the sign of a zero that max/min pick from ±0 to its loops (SIMD and scalar loops
# differ: np.minimum(-0.0, 0.0) is 0.0 here); kiln follows IEEE 754-2019 (min -0.0, max +0.0).
SIGNLESS_ZERO = ("maximum", "minimum")


def _signless_zero(node: Node) -> bool:
    return node.op in SIGNLESS_ZERO or get(node.op).combiner in ("max", "min")


def _bound(node: Node, xs: list[np.ndarray], es: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    bound = _carried(node, xs, es, y)
    if y.dtype.kind == "f" and _signless_zero(node):
        return np.where(y == 0, np.maximum(bound, _tiny(y.dtype)), bound)
    return bound


def _carried(node: Node, xs: list[np.ndarray], es: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    op = get(node.op)
    y64 = y.astype(np.float64) if y.dtype.kind == "f" else y
    if "elementwise" in op.traits:
        wide = [x.astype(np.float64) if x.dtype.kind == "f" else x for x in xs]
        dev = _elementwise_bound(node, xs, es, _ref64(node, wide))
    elif op.reduce is not None or op.scatter is not None:
        dev = _reduction_bound(node, xs, es, y64)
    elif any(np.any(e > 0) for e in es):  # movement, gathers, windows: the bounds move as the values do
        moved = [e if x.dtype.kind == "f" else x for x, e in zip(xs, es)]
        fill = {k: 0 for k in node.attrs if k == "value"}
        with np.errstate(all="ignore"):
            dev = np.asarray(get(node.op).ref(*moved, **(node.attrs | fill)), np.float64)
        if any(x.dtype.kind != "f" and np.any(e > 0) for x, e in zip(xs, es)):
            dev = np.full(node.out.shape, np.inf)  # an inexact index: anything may be read
    else:
        dev = np.zeros(node.out.shape)
    dev = np.broadcast_to(np.asarray(dev, np.float64), node.out.shape)
    if y.dtype.kind != "f":
        return np.where(dev > 0, np.inf, 0.0)
    u = np.where(np.isfinite(y64), eps(y.dtype) * np.abs(y64), 0.0)
    if "transcendental" in op.traits:
        return dev + 4 * u + 2 * _tiny(y.dtype)
    return np.where(dev > 0, dev + u + _tiny(y.dtype), 0.0)


def evaluate(graph: Graph, inputs: list[np.ndarray]) -> dict[Value, tuple[np.ndarray, np.ndarray]]:
    """(reference, bound) of every value of the graph."""
    env: dict[Value, tuple[np.ndarray, np.ndarray]] = {}
    for v, a in zip(graph.inputs, inputs):
        env[v] = (a, np.zeros(a.shape))
    for n in graph.nodes:
        xs = [env[v][0] for v in n.inputs]
        es = [env[v][1] for v in n.inputs]
        y = run_ref(n, xs)
        assert y.shape == n.out.shape, f"{n.op}: reference shape {y.shape}, type rule {n.out.shape}"
        env[n.out] = (y, _bound(n, xs, es, y))
    return env


def mismatch(got: np.ndarray, want: np.ndarray, bound: np.ndarray) -> str | None:
    """None if `got` is within `bound` of `want` (bound 0: bitwise, NaN matching NaN)."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"got {got.dtype}{list(got.shape)}, expected {want.dtype}{list(want.shape)}"
    if want.dtype.kind == "f":
        same_bits = got.view(f"u{got.itemsize}") == want.view(f"u{want.itemsize}")
        exact = same_bits | (np.isnan(got) & np.isnan(want))
        bad = np.where(bound == 0, ~exact, _distance(got, want) > bound)
    else:
        bad = (got != want) & (bound == 0)
    if not bad.any():
        return None
    i = tuple(np.argwhere(bad)[0])
    return (f"{int(bad.sum())} of {got.size} elements differ; first at {i}: got {got[i]!r}, "
            f"expected {want[i]!r} (bound {bound[i]:.3g})")
