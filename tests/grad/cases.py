"""Input generators for the gradient check, one per differentiable registry op.

Shapes and discrete choices come from hypothesis; values from a seeded NumPy generator, so
they never tie or sit on a kink (|x| at 0, floor at an integer, max with equal elements),
where finite differences say nothing about the gradient.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

SIDE = dict(min_side=1, max_side=3)


@dataclass
class Drawn:
    """Inputs for one op call: arrays (float64 ones are differentiated), attrs, args to check."""

    inputs: list
    attrs: dict = field(default_factory=dict)
    diff: tuple[int, ...] = (0,)
    zero_grad: bool = False  # the op blocks gradients (stop_gradient)


def _u(rng, shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape)


def _away_from_zero(rng, shape, lo=0.3, hi=2.0):
    return _u(rng, shape, lo, hi) * rng.choice([-1.0, 1.0], size=shape)


def _off_integers(rng, shape):
    """Values whose fractional part is in [0.1, 0.9] (floor/ceil are flat there)."""
    return rng.integers(-3, 3, size=shape) + rng.uniform(0.1, 0.9, size=shape)


def _shape(data, min_dims=0, max_dims=3):
    return data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, **SIDE))


def _two_shapes(data, n=2):
    drawn = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=0, max_dims=3, **SIDE))
    return drawn.input_shapes


def unary(values):
    def gen(data, rng):
        return Drawn([values(rng, _shape(data))])
    return gen


def binary(left, right):
    def gen(data, rng):
        a, b = _two_shapes(data)
        return Drawn([left(rng, a), right(rng, b)], diff=(0, 1))
    return gen


def _mod_like(data, rng):
    """x, y with x / y well inside an integer interval (mod and floor_divide jump at integers);
    y broadcasts against x."""
    a = _shape(data)
    nd = data.draw(st.integers(0, len(a)))
    b = tuple(1 if data.draw(st.booleans()) else n for n in a[len(a) - nd:])
    y = _away_from_zero(rng, b, 0.5, 2.0)
    x = _off_integers(rng, a) * np.broadcast_to(y, a)
    return Drawn([np.array(x, dtype=np.float64), y], diff=(0, 1))


def where(data, rng):
    c, a, b = _two_shapes(data, 3)
    return Drawn([rng.random(c) < 0.5, _u(rng, a), _u(rng, b)], diff=(1, 2))


def _axes(data, ndim):
    axes = data.draw(st.sets(st.integers(0, max(ndim - 1, 0)), max_size=ndim)) if ndim else set()
    return tuple(sorted(axes)), data.draw(st.booleans())


def reduction(kind):
    def gen(data, rng):
        shape = _shape(data)
        axes, keep = _axes(data, len(shape))
        if kind == "prod":
            x = _away_from_zero(rng, shape, 0.5, 1.5)
            if x.size and data.draw(st.booleans()):
                x.reshape(-1)[data.draw(st.integers(0, x.size - 1))] = 0.0  # one exact zero
        else:  # max/min: distinct values, so there are no ties
            x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5 + _u(rng, shape, 0, 0.1)
        return Drawn([np.asarray(x, dtype=np.float64)], {"axes": axes, "keepdims": keep})
    return gen


def reduce_sum(data, rng):
    shape = _shape(data)
    axes, keep = _axes(data, len(shape))
    return Drawn([_u(rng, shape)], {"axes": axes, "keepdims": keep})


def cumsum(data, rng):
    shape = _shape(data, min_dims=1)
    return Drawn([_u(rng, shape)], {"axis": data.draw(st.integers(0, len(shape) - 1))})


def reshape(data, rng):
    shape = _shape(data)
    n = int(np.prod(shape))
    target = data.draw(st.sampled_from([(n,), tuple(reversed(shape)), (1, n), shape + (1,)]))
    return Drawn([_u(rng, shape)], {"shape": target})


def transpose(data, rng):
    shape = _shape(data)
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    return Drawn([_u(rng, shape)], {"perm": perm})


def broadcast_to(data, rng):
    target = _shape(data, min_dims=1)
    nd = data.draw(st.integers(0, len(target)))
    small = tuple(1 if data.draw(st.booleans()) else n for n in target[len(target) - nd:])
    return Drawn([_u(rng, small)], {"shape": target})


def slice_(data, rng):
    shape = _shape(data, min_dims=1)
    starts, stops, steps = [], [], []
    for n in shape:
        step = data.draw(st.sampled_from([1, 1, 2, 3, -1, -2]))
        a = data.draw(st.none() | st.integers(-n - 1, n))
        b = data.draw(st.none() | st.integers(-n - 1, n))
        a, b, s = slice(a, b, step).indices(n)
        if not len(range(a, b, s)):  # NOTE: the slice op's NumPy ref misreads empty (-1, -1, -1)
            a, b, s = 0, 0, 1
        starts.append(a), stops.append(b), steps.append(s)
    return Drawn([_u(rng, shape)], {"starts": tuple(starts), "stops": tuple(stops), "steps": tuple(steps)})


def concatenate(data, rng):
    shape = _shape(data, min_dims=1)
    axis = data.draw(st.integers(0, len(shape) - 1))
    k = data.draw(st.integers(2, 3))
    parts = []
    for j in range(k):
        s = list(shape)
        s[axis] = data.draw(st.integers(0 if j else 1, 3))  # NOTE: all-empty concat fails forward too
        parts.append(_u(rng, tuple(s)))
    return Drawn(parts, {"axis": axis}, diff=tuple(range(k)))


def _window(data, h: int, w: int) -> dict:
    """Window attrs (kernel, stride, padding, dilation) that fit an h x w image."""
    while True:
        k = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
        s = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
        d = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)))
        p = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in range(2))
        if all(n + lo + hi >= dd * (kk - 1) + 1 for n, kk, dd, (lo, hi) in zip((h, w), k, d, p)):
            return {"stride": s, "padding": p, "dilation": d, "kernel": k}


def im2col(data, rng):
    n, c, h, w = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), data.draw(st.integers(1, 5)),
                  data.draw(st.integers(1, 5)))
    return Drawn([_u(rng, (n, c, h, w))], {**_window(data, h, w), "value": float(rng.uniform(-1, 1))})


def col2im(data, rng):
    from kiln.ir.ops.window import out_size
    n, c, h, w = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2)), data.draw(st.integers(1, 5)),
                  data.draw(st.integers(1, 5)))
    attrs = _window(data, h, w)
    k = attrs.pop("kernel")
    oh, ow = (out_size(m, kk, ss, lo, hi, dd) for m, kk, ss, (lo, hi), dd in
              zip((h, w), k, attrs["stride"], attrs["padding"], attrs["dilation"]))
    return Drawn([_u(rng, (n, c) + k + (oh, ow))], {**attrs, "size": (h, w)})


def pad(data, rng):
    shape = _shape(data, min_dims=1)  # np.pad (the reference) refuses 0-d arrays
    pads = tuple((data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in shape)
    return Drawn([_u(rng, shape)], {"pads": pads, "value": float(rng.uniform(-1, 1))})


def take(data, rng):
    shape = _shape(data, min_dims=1)
    axis = data.draw(st.integers(0, len(shape) - 1))
    n = shape[axis]
    idx_shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4))
    mode = data.draw(st.sampled_from(["raise", "raise", "clip", "wrap", "fill"]))
    wide = n if mode == "raise" else 2 * n + 1  # the other modes define out of range indices
    idx = rng.integers(-wide, wide, size=idx_shape).astype(np.int64)  # negatives wrap, duplicates add up
    return Drawn([_u(rng, shape), idx], {"axis": axis, "mode": mode, "fill": 0.5 if mode == "fill" else None})


def gather_nd(data, rng):
    shape = _shape(data, min_dims=1)
    m = data.draw(st.integers(1, len(shape)))
    lead = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4))
    mode = data.draw(st.sampled_from(["raise", "clip", "wrap", "fill"]))
    wide = 1 if mode == "raise" else 2
    idx = np.stack([rng.integers(-shape[d] * wide, shape[d] * wide, size=lead) for d in range(m)],
                   axis=-1).astype(np.int64)
    return Drawn([_u(rng, shape), idx], {"mode": mode, "fill": 0.5 if mode == "fill" else None})


def dynamic_slice(data, rng):
    shape = _shape(data, min_dims=1)
    sizes = tuple(data.draw(st.integers(0, n)) for n in shape)
    steps = tuple(data.draw(st.sampled_from([1, 2, -1])) if m > 1 and (m - 1) * 2 < n else 1
                  for m, n in zip(sizes, shape))
    starts = rng.integers(-2, max(shape) + 2, size=len(shape)).astype(np.int64)  # clamped to fit
    return Drawn([_u(rng, shape), starts], {"sizes": sizes, "steps": steps})


def scatter_nd(data, rng):
    shape = _shape(data, min_dims=1)
    m = data.draw(st.integers(1, len(shape)))
    lead = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=4))
    mode = data.draw(st.sampled_from(["raise", "clip", "wrap", "drop"]))
    wide = 1 if mode == "raise" else 2
    idx = np.stack([rng.integers(-shape[d] * wide, shape[d] * wide, size=lead) for d in range(m)],
                   axis=-1).astype(np.int64)
    upd = _u(rng, tuple(lead) + tuple(shape[m:]))
    return Drawn([idx, upd], {"shape": tuple(shape), "mode": mode}, diff=(1,))


def matmul(data, rng):
    ba, bb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, **SIDE)).input_shapes
    m, k, n = (data.draw(st.integers(1, 3)) for _ in range(3))
    return Drawn([_u(rng, ba + (m, k)), _u(rng, bb + (k, n))], diff=(0, 1))


def astype(data, rng):
    return Drawn([_u(rng, _shape(data))], {"dtype": "float64"})


def stop_gradient(data, rng):
    return Drawn([_u(rng, _shape(data))], zero_grad=True)


CASES: dict[str, Callable] = {
    "add": binary(_u, _u),
    "subtract": binary(_u, _u),
    "multiply": binary(_u, _u),
    "divide": binary(_u, _away_from_zero),
    "power": binary(lambda r, s: _u(r, s, 0.3, 2.0), _u),
    "maximum": binary(_u, _u),
    "minimum": binary(_u, _u),
    "mod": _mod_like,
    "floor_divide": _mod_like,
    "negative": unary(_u),
    "abs": unary(_away_from_zero),
    "sign": unary(_away_from_zero),
    "floor": unary(_off_integers),
    "ceil": unary(_off_integers),
    "exp": unary(_u),
    "log": unary(lambda r, s: _u(r, s, 0.2, 3.0)),
    "log1p": unary(lambda r, s: _u(r, s, -0.7, 3.0)),
    "sqrt": unary(lambda r, s: _u(r, s, 0.2, 3.0)),
    "sin": unary(_u),
    "cos": unary(_u),
    "tanh": unary(_u),
    "sigmoid": unary(lambda r, s: _u(r, s, -6.0, 6.0)),
    "where": where,
    "astype": astype,
    "stop_gradient": stop_gradient,
    "sum": reduce_sum,
    "prod": reduction("prod"),
    "max": reduction("max"),
    "min": reduction("min"),
    "cumsum": cumsum,
    "reshape": reshape,
    "transpose": transpose,
    "broadcast_to": broadcast_to,
    "slice": slice_,
    "concatenate": concatenate,
    "pad": pad,
    "take": take,
    "gather_nd": gather_nd,
    "dynamic_slice": dynamic_slice,
    "scatter_nd": scatter_nd,
    "matmul": matmul,
    "im2col": im2col,
    "col2im": col2im,
}
