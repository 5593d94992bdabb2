"""How a drawn op gets its operands and attributes. Attributes are drawn by name, valid most of
the time and out of range now and then (the type rules must refuse those as NumPy does).
Ops whose operands must fit each other (index arrays, windows, contractions) have a maker."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from kiln.ir import dtypes as dt
from kiln.ir.bounds import GATHER_MODES, SCATTER_MODES
from kiln.ir.graph import Value
from kiln.ir.opdef import get
from kiln.ir.ops.window import out_size

from . import values
from .graphs import Builder, arity


def _axes(b: Builder, x: Value, attrs: dict):
    nd = x.ndim
    ax = b.draw(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd)) if nd else []
    ax = [a - nd if b.draw(st.booleans()) else a for a in ax]
    if b.draw(st.integers(0, 15)) == 0:  # a duplicate or an axis past the end
        ax.append(ax[0] if ax else nd)
    return tuple(ax)


def _axis(b: Builder, x: Value | None, attrs: dict):
    nd = len(attrs["shape"]) if x is None else x.ndim
    wild = b.draw(st.integers(0, 15)) == 0  # one past either end now and then
    return b.draw(st.integers(-nd - 1, nd) if wild else st.integers(-nd, max(nd - 1, 0)))


def _factor(b: Builder, size: int) -> tuple[int, ...]:
    """A random shape with `size` elements (0 anywhere for size 0), with size-1 dims."""
    dims = []
    rest = size
    while rest > 1 and len(dims) < 4:
        divisors = [d for d in range(2, min(rest, 64) + 1) if rest % d == 0] or [rest]
        d = b.draw(st.sampled_from(divisors))
        dims.append(d)
        rest //= d
    if rest != 1 or size == 0:
        dims.append(rest)
    for _ in range(b.draw(st.integers(0, 2))):
        dims.insert(b.draw(st.integers(0, len(dims))), 1)
    return tuple(dims)


def _shape(b: Builder, x: Value | None, attrs: dict):
    if x is None:
        return b.draw(st.lists(values.SIDE, max_size=3).map(tuple))
    kind = b.draw(st.sampled_from(["reshape", "broadcast", "random"]))
    if kind == "reshape":
        return _factor(b, x.type.size)
    if kind == "broadcast":
        lead = b.draw(st.lists(values.SIDE, max_size=2))
        return tuple(lead) + tuple(b.draw(values.SIDE) if n == 1 else n for n in x.shape)
    return b.draw(st.lists(values.SIDE, max_size=4).map(tuple))


def _perm(b: Builder, x: Value, attrs: dict):
    perm = b.draw(st.permutations(range(x.ndim)))
    return tuple(perm) if b.draw(st.integers(0, 15)) else tuple(perm) + (x.ndim,)


def _slices(b: Builder, x: Value, attrs: dict):
    """(starts, stops, steps) as slice.indices() gives them, one per dim."""
    bound = st.one_of(st.none(), st.integers(-6, 6))
    triples = [slice(b.draw(bound), b.draw(bound), b.draw(st.sampled_from([1, 1, 2, 3, -1, -2]))).indices(n)
               for n in x.shape]
    attrs["stops"] = tuple(t[1] for t in triples)
    attrs["steps"] = tuple(t[2] for t in triples)
    return tuple(t[0] for t in triples)


def _pads(b: Builder, x: Value, attrs: dict):
    lo = -1 if b.draw(st.integers(0, 15)) == 0 else 0
    return tuple((b.draw(st.integers(lo, 2)), b.draw(st.integers(0, 2))) for _ in x.shape)


def _value(b: Builder, x: Value | None, attrs: dict):
    if x is not None:  # a fill value of x's dtype
        return b.draw(values.elements(x.dtype))
    d = b.draw(values.DTYPES)
    return b.draw(values.array(d, b.draw(st.lists(st.integers(0, 3), max_size=2).map(tuple))))


def _dtype(b: Builder, x: Value | None, attrs: dict):
    return b.draw(values.DTYPES).name


def _mode(b: Builder, x: Value | None, attrs: dict):
    """An index mode of the op being drawn (the caller replaces it for scatters)."""
    return b.draw(st.sampled_from(GATHER_MODES))


def _fill(b: Builder, x: Value | None, attrs: dict):
    """The default fill (None) mostly, else a value of x's dtype."""
    return None if x is None or b.draw(st.booleans()) else np.asarray(b.draw(values.elements(x.dtype))).item()


ATTRS = {"mode": _mode, "fill": _fill, "axes": _axes, "keepdims": lambda b, x, a: b.draw(st.booleans()), "axis": _axis, "shape": _shape,
         "perm": _perm, "starts": _slices, "stops": None, "steps": None, "pads": _pads, "value": _value,
         "dtype": _dtype}


def draw_attrs(b: Builder, name: str, x: Value | None) -> dict:
    attrs: dict = {}
    for a in get(name).attrs:
        if a not in attrs:
            attrs[a] = ATTRS[a](b, x, attrs)
    return attrs


def elementwise(b: Builder, name: str) -> None:
    """Operands from the pool, cast to one dtype (the condition of `where` to bool)."""
    xs = [b.pick() for _ in range(arity(get(name)))]
    d = b.draw(st.sampled_from([x.dtype for x in xs] + [b.draw(values.DTYPES)]))
    if name == "where":
        xs = [b.cast(xs[0], dt.bool_)] + [b.cast(x, d) for x in xs[1:]]
    else:
        xs = [b.cast(x, d) for x in xs]
    if None not in xs:
        b.apply(name, xs, draw_attrs(b, name, xs[0]))


def generic(b: Builder, name: str) -> None:
    """Operands from the pool (variadic ops: the first one's shape, varied along `axis`)."""
    n = arity(get(name))
    x = b.pick() if n != 0 else None
    attrs = draw_attrs(b, name, x)
    if n is None:
        more = b.draw(st.integers(0, 2))
        xs = [x] + [b.arg(x.dtype, _along(b, x.shape, attrs.get("axis", 0))) for _ in range(more)]
    else:
        xs = [x] + [b.pick() for _ in range(n - 1)] if x is not None else []
    b.apply(name, xs, attrs)


def _along(b: Builder, shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    if not shape or not -len(shape) <= axis < len(shape):
        return shape
    ax = axis % len(shape)
    return shape[:ax] + (b.draw(st.integers(0, 3)),) + shape[ax + 1:]


def _indices(b: Builder, shape: tuple[int, ...], bounds: tuple[int, ...],
             allow_negative: bool = True) -> Value:
    """An int index array of `shape`; column k (last axis) indexes a dim of size bounds[k]."""
    d = b.draw(st.sampled_from([dt.int32, dt.int64]))
    arr = np.zeros(shape, d.np)
    for k, n in enumerate(bounds):
        lo = -n if allow_negative else 0
        col = b.draw(values.array(d, shape[:-1], st.integers(lo, max(n - 1, lo)))) if n else 0
        arr[..., k] = col
    v = b.arg(d, shape, st.just(0))
    b.arrays[-1] = arr.astype(d.np)
    return v


def take(b: Builder, name: str) -> None:
    x = b.pick()
    attrs = draw_attrs(b, name, x)
    n = x.shape[attrs["axis"] % x.ndim] if x.ndim and -x.ndim <= attrs["axis"] < x.ndim else 0
    ishape = b.draw(st.lists(st.integers(0, 3), max_size=2).map(tuple)) if n else (0,)
    idx = _indices(b, ishape + (1,), (n,))
    b.apply(name, [x, b.apply("reshape", [idx], {"shape": ishape})], attrs)


def gather_nd(b: Builder, name: str) -> None:
    x = b.pick()
    m = b.draw(st.integers(0, x.ndim))
    lead = b.draw(st.lists(st.integers(0, 3), max_size=2).map(tuple))
    b.apply(name, [x, _indices(b, lead + (m,), x.shape[:m])], draw_attrs(b, name, x))


def scatter_nd(b: Builder, name: str) -> None:
    upd = b.pick()
    k = b.draw(st.integers(0, upd.ndim))
    front = tuple(b.draw(st.integers(1, 4)) for _ in range(b.draw(st.integers(0, 2))))
    shape = front + upd.shape[k:]
    # negative and out-of-range targets: index helper's part of issue 15 (see KNOWN in the test)
    idx = _indices(b, upd.shape[:k] + (len(front),), front, allow_negative=False)
    b.apply(name, [idx, upd], {"shape": shape, "mode": b.draw(st.sampled_from(SCATTER_MODES))})


def matmul(b: Builder, name: str) -> None:
    a = b.pick()
    if a.ndim < 2:
        a = b.apply("reshape", [a], {"shape": (1,) * (2 - a.ndim) + a.shape})
    batch = tuple(b.draw(st.sampled_from([1, n])) for n in a.shape[:-2])
    batch = batch[b.draw(st.integers(0, len(batch))):]
    y = b.arg(a.dtype, batch + (a.shape[-1], b.draw(values.SIDE)))
    b.apply(name, [a, y], {})


def _window(b: Builder) -> dict:
    pair = st.tuples(st.integers(1, 3), st.integers(1, 3))
    return {"kernel": b.draw(pair), "stride": b.draw(pair), "dilation": b.draw(pair),
            "padding": b.draw(st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                        st.tuples(st.integers(0, 2), st.integers(0, 2))))}


def im2col(b: Builder, name: str) -> None:
    x = b.pick()
    if x.ndim != 4:
        x = b.arg(x.dtype, tuple(b.draw(st.integers(0, 2)) for _ in range(2)) + (b.draw(st.integers(1, 6)),
                                                                              b.draw(st.integers(1, 6))))
    w = _window(b)
    b.apply(name, [x], w | {"value": _value(b, x, w)})


def col2im(b: Builder, name: str) -> None:
    w = _window(b)
    size = (b.draw(st.integers(1, 6)), b.draw(st.integers(1, 6)))
    o = [out_size(size[i], w["kernel"][i], w["stride"][i], *w["padding"][i], w["dilation"][i])
         for i in range(2)]
    if min(o) < 1:
        return
    nc = tuple(b.draw(st.integers(0, 2)) for _ in range(2))
    cols = b.arg(b.draw(values.DTYPES), nc + tuple(w["kernel"]) + tuple(o))
    b.apply(name, [cols], {"size": size, "stride": w["stride"], "padding": w["padding"],
                           "dilation": w["dilation"]})


def random_uniform(b: Builder, name: str) -> None:
    state = b.arg(dt.int64, (2,), st.integers(-(1 << 63), (1 << 63) - 1))
    shape = b.draw(st.lists(values.SIDE, max_size=3).map(tuple))
    if math.prod(shape) > 64:
        shape = shape[:1]
    b.apply(name, [state], {"shape": shape, "dtype": b.draw(st.sampled_from(["float32", "float64"]))})


def check_index(b: Builder, name: str) -> None:
    """Indices checked against an axis of `bound` elements (labels: no negatives)."""
    bound, negative = b.draw(st.integers(1, 6)), b.draw(st.booleans())
    shape = b.draw(st.lists(st.integers(0, 3), max_size=2).map(tuple))
    idx = _indices(b, shape + (1,), (bound,), allow_negative=negative)
    attrs = {"bound": bound, "negative": negative, "axis": 0, "caller": "take"}
    b.apply(name, [b.apply("reshape", [idx], {"shape": shape})], attrs)


def dynamic_slice(b: Builder, name: str) -> None:
    """Windows of x from run-time starts (any value: the op clamps them like JAX)."""
    x = b.pick()
    steps = tuple(b.draw(st.sampled_from([1, 1, 2, -1])) for _ in x.shape)
    sizes = tuple(b.draw(st.integers(0, max((n - 1) // abs(s) + 1, 0))) if n else 0 for n, s in zip(x.shape, steps))
    starts = b.arg(dt.int64, (x.ndim,), st.integers(-8, 8))
    b.apply(name, [x, starts], {"sizes": sizes, "steps": steps})


MAKERS = {"check_index": check_index, "dynamic_slice": dynamic_slice, "take": take, "gather_nd": gather_nd, "scatter_nd": scatter_nd, "matmul": matmul, "im2col": im2col,
          "col2im": col2im, "random_uniform": random_uniform}


def make(b: Builder, name: str) -> None:
    if name in MAKERS:
        MAKERS[name](b, name)
    elif "elementwise" in get(name).traits:
        elementwise(b, name)
    else:
        generic(b, name)
