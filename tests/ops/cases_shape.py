"""Conformance cases for shape ops and indexing ops (take, gather_nd, scatter_nd, one_hot, masks)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from .harness import ALL, ANY, INTS, NUMERIC, Case, Dom, Example, array, axis_int, kn, shape

SMALL_INT = Dom(-10.0, 10.0, int_lo=-10, int_hi=10)


def _dtype(data, pool=ALL, label="dtype") -> str:
    return data.draw(st.sampled_from(pool), label=label)


def _neg(data, a: int, n: int, label: str) -> int:
    """a or its negative spelling (a - n)."""
    return data.draw(st.sampled_from([a, a - n]), label=label)


def _primes(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


def _draw_reshape(data) -> Example:
    shp = shape(data)
    size = math.prod(shp)
    nd = data.draw(st.integers(0, 4), label="new_ndim")
    if size == 0:
        nd = max(nd, 1)
        target = [data.draw(st.integers(0, 4), label="dim") for _ in range(nd)]
        target[data.draw(st.integers(0, nd - 1), label="zero_at")] = 0
    else:
        nd = max(nd, 1) if size > 1 else nd
        target = [1] * nd
        for p in _primes(size):
            target[data.draw(st.integers(0, nd - 1), label="factor_to")] *= p
        if nd and data.draw(st.booleans(), label="use_minus_one"):
            target[data.draw(st.integers(0, nd - 1), label="minus_one_at")] = -1
    return Example((array(data, _dtype(data), shp, ANY, "x"),), {"shape": tuple(target)})


def _draw_expand_dims(data) -> Example:
    shp = shape(data, max_dims=3)
    k = data.draw(st.integers(1, 2), label="new_axes")
    out_nd = len(shp) + k
    pos = data.draw(st.lists(st.integers(0, out_nd - 1), min_size=k, max_size=k, unique=True),
                    label="positions")
    ax = tuple(_neg(data, p, out_nd, "axis") for p in pos)
    axis = ax[0] if k == 1 and data.draw(st.booleans(), label="as_int") else ax
    return Example((array(data, _dtype(data), shp, ANY, "x"),), {"axis": axis})


def _draw_squeeze(data) -> Example:
    shp = shape(data, max_side=2)
    ones = [d for d, n in enumerate(shp) if n == 1]
    picked = data.draw(st.lists(st.sampled_from(ones), unique=True) if ones else st.just([]),
                       label="squeezed")
    axis = tuple(_neg(data, a, len(shp), "axis") for a in picked)
    forms = ["none", "tuple", "int"] if len(axis) == 1 else ["none", "tuple"]
    form = data.draw(st.sampled_from(forms), label="form")
    axis = None if form == "none" else axis[0] if form == "int" else axis
    return Example((array(data, _dtype(data), shp, ANY, "x"),), {"axis": axis})


def _draw_broadcast_to(data) -> Example:
    shp = shape(data, max_dims=3)
    lead = shape(data, max_dims=2, label="lead")
    target = lead + tuple(data.draw(st.integers(0, 3), label="grow") if n == 1 else n for n in shp)
    return Example((array(data, _dtype(data), shp, ANY, "x"),), {"shape": target})


def _draw_tile(data) -> Example:
    shp = shape(data, max_dims=3, max_side=3)
    reps = data.draw(st.integers(0, 3) | st.lists(st.integers(0, 3), max_size=len(shp) + 1).map(tuple),
                     label="reps")
    return Example((array(data, _dtype(data), shp, ANY, "x"),), {"reps": reps})


def _dtypes(data, k: int) -> list[str]:
    """k dtypes: usually one, sometimes mixed (result follows NumPy promotion)."""
    if data.draw(st.booleans(), label="same_dtype"):
        return [_dtype(data)] * k
    return [_dtype(data) for _ in range(k)]


def _draw_concatenate(data) -> Example:
    k = data.draw(st.integers(1, 4), label="count")
    dts = _dtypes(data, k)
    if data.draw(st.integers(0, 4), label="axis_none") == 0:
        xs = [array(data, d, shape(data, max_dims=3), ANY, "x") for d in dts]
        return Example((xs,), {"axis": None})
    base = shape(data, min_dims=1, max_dims=3)
    axis = axis_int(data, len(base))
    xs = []
    for d in dts:
        s = list(base)
        s[axis] = data.draw(st.integers(0, 3), label="len_along_axis")
        xs.append(array(data, d, tuple(s), ANY, "x"))
    return Example((xs,), {"axis": axis})


def _draw_stack(data) -> Example:
    k = data.draw(st.integers(1, 4), label="count")
    base = shape(data, max_dims=3)
    axis = data.draw(st.integers(-len(base) - 1, len(base)), label="axis")
    return Example(([array(data, d, base, ANY, "x") for d in _dtypes(data, k)],), {"axis": axis})


def _draw_split(sizes: bool):
    def draw(data):
        base = shape(data, min_dims=1, max_dims=3)
        axis = axis_int(data, len(base))
        if sizes:
            parts = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=4), label="sizes")
            n, arg = sum(parts), list(parts)
        else:
            arg = data.draw(st.integers(1, 4), label="count")
            n = arg * data.draw(st.integers(0, 3), label="per_part")
        s = list(base)
        s[axis] = n
        return Example((array(data, _dtype(data), tuple(s), ANY, "x"),), {"split": arg, "axis": axis})
    return draw


def _split_ref(x, *, split, axis):
    if isinstance(split, int):
        return np.split(x, split, axis=axis)
    return np.split(x, np.cumsum(split)[:-1], axis=axis)


def _draw_unstack(data) -> Example:
    shp = shape(data, min_dims=1, max_dims=3)
    return Example((array(data, _dtype(data), shp, ANY, "x"),), {"axis": axis_int(data, len(shp))})


def _draw_pad(data) -> Example:
    d = _dtype(data)
    shp = shape(data, min_dims=1, max_dims=3, max_side=3)
    form = data.draw(st.sampled_from(["per_axis", "int", "pair"]), label="pad_form")
    if form == "int":
        width = data.draw(st.integers(0, 2), label="pad_width")
    elif form == "pair":
        width = data.draw(st.tuples(st.integers(0, 2), st.integers(0, 2)), label="pad_width")
    else:
        width = tuple(data.draw(st.tuples(st.integers(0, 2), st.integers(0, 2)), label="pad") for _ in shp)
    value = None
    if data.draw(st.booleans(), label="has_constant"):
        kind = np.dtype(d).kind
        values = {"b": st.booleans(), "i": st.integers(-9, 9), "f": st.sampled_from([1.5, -2.0, 7.0])}
        value = data.draw(values[kind],
                          label="constant_values")
    return Example((array(data, d, shp, ANY, "x"),), {"pad_width": width, "value": value})


def _pad_call(x, *, pad_width, value):
    if value is None:
        return kn.pad(x, pad_width)
    return kn.pad(x, pad_width, constant_values=value)


def _pad_ref(x, *, pad_width, value):
    return np.pad(x, pad_width, mode="constant", constant_values=0 if value is None else value)


# --- gather / scatter -------------------------------------------------------------------------

def _indices(data, n: int, idx_shape: tuple[int, ...], negative: bool, label: str) -> np.ndarray:
    """Integer indices into a dim of size n (in [-n, n) when negative)."""
    d = _dtype(data, INTS, label="index_dtype")
    if n == 0:  # nothing to index: only an empty index array is valid
        idx_shape = idx_shape + (0,) if 0 not in idx_shape else idx_shape
        return np.zeros(idx_shape, d)
    return array(data, d, idx_shape, Dom(-n if negative else 0, n - 1), label)


def _draw_take(negative: bool):
    def draw(data):
        shp = shape(data, max_dims=3)
        flat = data.draw(st.integers(0, 3), label="axis_none") == 0 or not shp
        axis = None if flat else axis_int(data, len(shp))
        n = math.prod(shp) if axis is None else shp[axis]
        idx = _indices(data, n, shape(data, max_dims=2, label="index_shape"), negative, "indices")
        return Example((array(data, _dtype(data), shp, ANY, "x"), idx), {"axis": axis})
    return draw


def _coords(data, target: tuple[int, ...], k: int, lead: tuple[int, ...]) -> np.ndarray:
    d = _dtype(data, INTS, label="index_dtype")
    cols = [array(data, d, lead, Dom(0, target[j] - 1), f"coord{j}") for j in range(k)]
    return np.stack(cols, axis=-1).astype(d) if cols else np.zeros(lead + (0,), d)


def _draw_gather_nd(data) -> Example:
    shp = shape(data, min_dims=1, max_dims=3)
    k = data.draw(st.integers(1, len(shp)), label="index_depth")
    shp = tuple(max(n, 1) if j < k else n for j, n in enumerate(shp))
    idx = _coords(data, shp, k, shape(data, max_dims=2, label="batch_shape"))
    return Example((array(data, _dtype(data), shp, ANY, "params"), idx))


def gather_nd_ref(params, indices):
    return params[tuple(np.moveaxis(indices, -1, 0))]


def _draw_scatter_nd(data) -> Example:
    target = shape(data, min_dims=1, max_dims=3)
    k = data.draw(st.integers(1, len(target)), label="index_depth")
    target = tuple(max(n, 1) if j < k else n for j, n in enumerate(target))
    lead = shape(data, max_dims=2, label="batch_shape")
    idx = _coords(data, target, k, lead)  # duplicates are common: they add up (TF semantics)
    upd = array(data, _dtype(data, NUMERIC), lead + target[k:], SMALL_INT, "updates")
    return Example((idx, upd), {"shape": target})


def scatter_nd_ref(indices, updates, *, shape):
    out = np.zeros(shape, updates.dtype)
    np.add.at(out, tuple(np.moveaxis(indices, -1, 0)), updates)
    return out


def _draw_one_hot(data) -> Example:
    depth = data.draw(st.integers(1, 5), label="depth")
    labels = array(data, _dtype(data, INTS), shape(data, max_dims=3), Dom(0, depth - 1), "labels")
    return Example((labels,), {"depth": depth})


def _draw_meshgrid(data) -> Example:
    k = data.draw(st.integers(1, 3), label="count")
    xs = [array(data, _dtype(data, NUMERIC), (data.draw(st.integers(0, 4), label="len"),), ANY, "x")
          for _ in range(k)]
    return Example(tuple(xs), {"indexing": data.draw(st.sampled_from([None, "xy", "ij"]), label="indexing")})


def _meshgrid_call(*xs, indexing):
    return kn.meshgrid(*xs) if indexing is None else kn.meshgrid(*xs, indexing=indexing)


def _meshgrid_ref(*xs, indexing):
    return np.meshgrid(*xs, indexing=indexing or "xy")


def _draw_boolean_mask(data) -> Example:
    shp = shape(data, min_dims=1, max_dims=3)
    k = data.draw(st.integers(1, len(shp)), label="mask_ndim")
    return Example((array(data, _dtype(data), shp, ANY, "x"), array(data, "bool", shp[:k], ANY, "mask")))


def _draw_nonzero(data) -> Example:
    return Example((array(data, _dtype(data), shape(data, min_dims=1), Dom(-1.0, 1.0, step=1.0), "cond"),))


def cases() -> list[Case]:
    return [
        Case("reshape", _draw_reshape, lambda x, *, shape: kn.reshape(x, shape),
             lambda x, *, shape: np.reshape(x, shape)),
        Case("expand_dims", _draw_expand_dims, lambda x, *, axis: kn.expand_dims(x, axis),
             lambda x, *, axis: np.expand_dims(x, axis)),
        Case("squeeze", _draw_squeeze, lambda x, *, axis: kn.squeeze(x, axis=axis),
             lambda x, *, axis: np.squeeze(x, axis=axis)),
        Case("broadcast_to", _draw_broadcast_to, lambda x, *, shape: kn.broadcast_to(x, shape),
             lambda x, *, shape: np.broadcast_to(x, shape)),
        Case("tile", _draw_tile, lambda x, *, reps: kn.tile(x, reps), lambda x, *, reps: np.tile(x, reps)),
        Case("concatenate", _draw_concatenate, lambda xs, *, axis: kn.concatenate(xs, axis=axis),
             lambda xs, *, axis: np.concatenate(xs, axis=axis)),
        Case("stack", _draw_stack, lambda xs, *, axis: kn.stack(xs, axis=axis),
             lambda xs, *, axis: np.stack(xs, axis=axis)),
        Case("split", _draw_split(sizes=False), lambda x, *, split, axis: kn.split(x, split, axis=axis),
             _split_ref),
        Case("split:sizes", _draw_split(sizes=True), lambda x, *, split, axis: kn.split(x, split, axis=axis),
             _split_ref),
        Case("unstack", _draw_unstack, lambda x, *, axis: kn.unstack(x, axis=axis),
             lambda x, *, axis: np.unstack(x, axis=axis)),
        Case("pad", _draw_pad, _pad_call, _pad_ref),
        Case("take", _draw_take(negative=False), lambda x, i, *, axis: kn.take(x, i, axis=axis),
             lambda x, i, *, axis: np.take(x, i, axis=axis)),
        Case("take:negative", _draw_take(negative=True), lambda x, i, *, axis: kn.take(x, i, axis=axis),
             lambda x, i, *, axis: np.take(x, i, axis=axis), examples=10),
        Case("gather_nd", _draw_gather_nd, lambda p, i: kn.gather_nd(p, i), gather_nd_ref),
        Case("scatter_nd", _draw_scatter_nd, lambda i, u, *, shape: kn.scatter_nd(i, u, shape),
             scatter_nd_ref,
             scale=lambda i, u, *, shape: scatter_nd_ref(i, np.abs(u), shape=shape)),
        Case("one_hot", _draw_one_hot, lambda x, *, depth: kn.one_hot(x, depth),
             lambda x, *, depth: (x[..., None] == np.arange(depth)).astype(np.float32),
             dtype=lambda ex: np.dtype("float32")),
        Case("meshgrid", _draw_meshgrid, _meshgrid_call, _meshgrid_ref),
        Case("boolean_mask", _draw_boolean_mask, lambda x, m: kn.boolean_mask(x, m), lambda x, m: x[m],
             data_dependent=True),
        Case("where:one_arg", _draw_nonzero, lambda c: kn.where(c), lambda c: np.nonzero(c),
             data_dependent=True),
    ]
