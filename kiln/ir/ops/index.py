"""Gather and scatter: point values whose input index is itself read from an array.

Every index op has a `mode` (NumPy's and JAX's): "raise" (the default) accepts
[-n, n), negatives counting from the end, and checks every index — at fold time through
`bounds.normalize`, in compiled code with the kernel IR's `check` (a bad one raises
IndexError after the call), or by `check_index` before a clipping take (its own kernel,
so the gather's row copies stay vectorized); "clip" clamps into [0, n-1] (negatives to 0, as NumPy's clip);
"wrap" takes indices modulo n; "fill" (gathers) reads `fill` where an index, negatives
wrapped once, is out of range, and "drop" (scatters) drops such updates. No mode ever reads
or writes outside a buffer.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import DTypeError, OutOfBoundsError, ShapeError
from .. import dtypes as dt
from ..bounds import GATHER_MODES, SCATTER_MODES, IndexSite, apply_mode, default_fill, normalize
from ..opdef import defop, norm_axis

GRAD_SCATTER = {"raise": "raise", "clip": "clip", "wrap": "wrap", "fill": "drop"}  # a gather's adjoint
GRAD_GATHER = {"raise": "raise", "clip": "clip", "wrap": "wrap", "drop": "fill"}  # a scatter's


def _check_index(t, mode: str, modes: tuple[str, ...]) -> None:
    if not t.dtype.is_int:
        raise DTypeError(f"indices must be integers, got {t.dtype}")
    if mode not in modes:
        raise ShapeError(f"mode must be one of {modes}, got {mode!r}")


def _empty_axis(axis: int, points: int, mode: str, skip: str) -> None:
    """Points to compute over an axis of size 0: no index is valid (NumPy raises too)."""
    if points and mode != skip:
        raise OutOfBoundsError(f"cannot index an empty axis {axis} (every index is out of bounds)")


def _offset(b, node, i, n: int, axis: int, mode: str):
    """(offset in [0, n) to read, in-range condition or None) for index `i` in `mode`."""
    if mode == "raise":
        return b.check(i, IndexSite(node.op, axis, n, loc=node.loc)), None
    i = b.cast(i, dt.int64)
    if mode == "clip":
        return b.min(b.max(i, b.const(0)), b.const(max(n - 1, 0))), None
    if mode == "wrap":
        return b.mod(i, b.const(max(n, 1))), None
    i = b.select(b.lt(i, b.const(0)), b.add(i, b.const(n)), i)
    ok = b.and_(b.ge(i, b.const(0)), b.lt(i, b.const(n)))
    return b.min(b.max(i, b.const(0)), b.const(max(n - 1, 0))), ok


def _fill(node):
    fill = node.attrs.get("fill")
    return default_fill(node.out.dtype.np) if fill is None else fill


def _ref_offsets(op: str, idx: np.ndarray, bounds: tuple[int, ...], mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and in-range mask of index rows (last axis: one index per bound), checked in
    C order as the compiled code visits them (the first bad one raises)."""
    idx = np.asarray(idx).astype(np.int64)
    if mode == "raise":
        n = np.asarray(bounds, dtype=np.int64)
        bad = (idx < -n) | (idx >= n)
        if bad.any():
            at = tuple(np.argwhere(bad)[0])
            raise IndexSite(op, int(at[-1]), bounds[at[-1]]).error(int(idx[at]))
        return np.where(idx < 0, idx + n, idx), np.ones(idx.shape, bool)
    cols = [apply_mode(idx[..., d], n, mode) for d, n in enumerate(bounds)]
    return np.stack([c[0] for c in cols], -1), np.stack([c[1] for c in cols], -1)


# take ------------------------------------------------------------------------------------

def _take_shape(types, axis, mode="raise", fill=None):
    x, idx = types
    _check_index(idx, mode, GATHER_MODES)
    if x.ndim == 0:
        raise ShapeError("cannot take along an axis of a 0-d array")
    ax = norm_axis(axis, x.ndim)
    out = x.shape[:ax] + idx.shape + x.shape[ax + 1:]
    if x.shape[ax] == 0:
        _empty_axis(ax, math.prod(out), mode, "fill")
    return out


def _take_emit(b, node, ix, operand):
    x, idx = node.inputs
    ax = norm_axis(node.attrs["axis"], x.ndim)
    mode, n = node.attrs.get("mode", "raise"), x.shape[ax]
    if n == 0:  # fill mode: every index is out of range
        return b.const(_fill(node), node.out.dtype)
    j, ok = _offset(b, node, operand(1, ix[ax:ax + idx.ndim]), n, ax, mode)
    value = operand(0, ix[:ax] + (j,) + ix[ax + idx.ndim:])
    return value if ok is None else b.guard(ok, value, b.const(_fill(node), node.out.dtype))


def _take_ref(x, idx, axis, mode="raise", fill=None):
    ax = norm_axis(axis, x.ndim)
    n = x.shape[ax]
    if mode == "raise":
        j, ok = normalize(IndexSite("take", ax, n), idx), None
    else:
        j, ok = apply_mode(idx, n, mode)
    out = np.take(x, j, axis=ax) if n else np.zeros(x.shape[:ax] + np.shape(idx) + x.shape[ax + 1:], x.dtype)
    if mode != "fill":
        return out
    ok = ok.reshape((1,) * ax + ok.shape + (1,) * (x.ndim - ax - 1))
    return np.where(ok, out, default_fill(x.dtype) if fill is None else fill).astype(x.dtype)


def _take_grad(e, g, y, x, idx, axis, mode="raise", fill=None):
    """Scatter-add g back: the index dims of g move to the front, scatter_nd into (n,) + rest."""
    ax, k = norm_axis(axis, x.ndim), idx.ndim
    if 0 in x.shape or 0 in g.shape:
        return e.zeros_like(x), None
    n = x.shape[ax]
    i = e.reshape(idx, shape=tuple(idx.shape) + (1,))
    upd = e.transpose_to(g, tuple(range(ax, ax + k)) + tuple(range(ax)) + tuple(range(ax + k, g.ndim)))
    out = e.scatter_nd(i, upd, shape=(n,) + tuple(x.shape[:ax]) + tuple(x.shape[ax + 1:]), mode=GRAD_SCATTER[mode])
    return e.transpose_to(out, tuple(range(1, ax + 1)) + (0,) + tuple(range(ax + 1, x.ndim))), None


defop("take", shape=_take_shape, dtype=lambda types, **_: types[0].dtype, ref=_take_ref, emit=_take_emit,
      traits={"gather"}, attrs=("axis", "mode", "fill"), grad=_take_grad)


# gather_nd (TensorFlow semantics, batch_dims=0; indices in [-n, n) like NumPy's) ----------

def _gather_nd_shape(types, mode="raise", fill=None):
    params, idx = types
    _check_index(idx, mode, GATHER_MODES)
    if idx.ndim == 0 or idx.shape[-1] > params.ndim:
        raise ShapeError(f"indices of shape {idx.shape} do not index params of shape {params.shape}")
    out = idx.shape[:-1] + params.shape[idx.shape[-1]:]
    for d in range(idx.shape[-1]):
        if params.shape[d] == 0:
            _empty_axis(d, math.prod(out), mode, "fill")
    return out


def _gather_nd_emit(b, node, ix, operand):
    params, idx = node.inputs
    m, lead, mode = idx.shape[-1], idx.ndim - 1, node.attrs.get("mode", "raise")
    if 0 in params.shape[:m]:  # fill mode: every index is out of range
        return b.const(_fill(node), node.out.dtype)
    coords, inside = [], b.const(True, dt.bool_)
    for d in range(m):
        j, ok = _offset(b, node, operand(1, ix[:lead] + (b.const(d),)), params.shape[d], d, mode)
        coords.append(j)
        inside = inside if ok is None else b.and_(inside, ok)
    value = operand(0, tuple(coords) + ix[lead:])
    return value if mode != "fill" else b.guard(inside, value, b.const(_fill(node), node.out.dtype))


def _gather_nd_ref(params, idx, mode="raise", fill=None):
    idx = np.asarray(idx)
    m = idx.shape[-1]
    out_shape = idx.shape[:-1] + params.shape[m:]
    if m == 0:
        return np.broadcast_to(params, out_shape)
    j, ok = _ref_offsets("gather_nd", idx, params.shape[:m], mode)
    if 0 in params.shape[:m]:
        return np.full(out_shape, default_fill(params.dtype) if fill is None else fill, params.dtype)
    out = params[tuple(np.moveaxis(j, -1, 0))]
    if mode != "fill":
        return out
    ok = ok.all(-1).reshape(idx.shape[:-1] + (1,) * (params.ndim - m))
    return np.where(ok, out, default_fill(params.dtype) if fill is None else fill).astype(params.dtype)


def _gather_nd_grad(e, g, y, params, idx, mode="raise", fill=None):
    m, lead = idx.shape[-1], idx.ndim - 1
    if 0 in params.shape or 0 in g.shape:
        return e.zeros_like(params), None
    if m == 0:  # every index row selects all of params
        return (e.sum(g, axes=tuple(range(lead)), keepdims=False) if lead else g), None
    return e.scatter_nd(idx, g, shape=tuple(params.shape), mode=GRAD_SCATTER[mode]), None


defop("gather_nd", shape=_gather_nd_shape, dtype=lambda types, **_: types[0].dtype, ref=_gather_nd_ref,
      emit=_gather_nd_emit, traits={"gather"}, attrs=("mode", "fill"), grad=_gather_nd_grad)


# scatter_nd (TensorFlow semantics: duplicates add up; indices in [-n, n) like NumPy's) ----

def _scatter_nd_shape(types, shape, mode="raise"):
    idx, upd = types
    _check_index(idx, mode, SCATTER_MODES)
    if upd.dtype.is_bool:  # updates are added where indices repeat: bool has no such sum
        raise DTypeError("scatter_nd adds its updates; bool updates are not supported (cast them to int)")
    shape = tuple(shape)
    if idx.ndim == 0 or idx.shape[-1] > len(shape):
        raise ShapeError(f"indices of shape {idx.shape} do not index an output of shape {shape}")
    want = idx.shape[:-1] + shape[idx.shape[-1]:]
    if upd.shape != want:
        raise ShapeError(f"updates must have shape {want} for indices {idx.shape} into {shape}, got {upd.shape}")
    for d in range(idx.shape[-1]):
        if shape[d] == 0:
            _empty_axis(d, math.prod(want), mode, "drop")
    return shape


def _scatter_nd_target(b, node, ix, operand):
    """(element offset in the output, in-range flag) for update point `ix`."""
    idx = node.inputs[0]
    shape, mode = node.out.shape, node.attrs.get("mode", "raise")
    m, lead = idx.shape[-1], idx.ndim - 1
    inside, coords = b.const(True, dt.bool_), []
    for d in range(m):
        j, ok = _offset(b, node, operand(0, ix[:lead] + (b.const(d),)), shape[d], d,
                        "fill" if mode == "drop" else mode)
        coords.append(j)
        inside = inside if ok is None else b.and_(inside, ok)
    return b.linear(tuple(coords) + ix[lead:], shape), inside


def _scatter_nd_ref(idx, upd, shape, mode="raise"):
    out = np.zeros(shape, dtype=upd.dtype)
    idx = np.asarray(idx)
    m = idx.shape[-1]
    if m == 0:  # every update lands on the whole output
        return out + upd.reshape((-1,) + tuple(shape)).sum(0, dtype=upd.dtype)
    j, ok = _ref_offsets("scatter_nd", idx, tuple(shape[:m]), "fill" if mode == "drop" else mode)
    keep = ok.all(-1)
    np.add.at(out, tuple(np.moveaxis(j[keep], -1, 0)), upd[keep])
    return out


def _scatter_nd_grad(e, g, y, idx, upd, shape, mode="raise"):
    """Each update's cotangent is g at its target; updates dropped as out of range get 0."""
    m = idx.shape[-1]
    if 0 in upd.shape or 0 in tuple(shape):
        return None, e.zeros_like(upd)
    if m == 0:
        return None, e.broadcast(g, upd.shape)
    return None, e.gather_nd(g, idx, mode=GRAD_GATHER[mode], fill=0)


defop("scatter_nd", shape=_scatter_nd_shape, dtype=lambda types, **_: types[1].dtype, ref=_scatter_nd_ref,
      scatter=_scatter_nd_target, traits={"scatter"}, attrs=("shape", "mode"), grad=_scatter_nd_grad)


# check_index: indices (or a loss's class ids) checked once, as an op of their own -----------
# `bound` is one int (every index, on `axis`), or one per entry of the last axis (index rows
# of gather_nd/scatter_nd: entry d indexes axis d)

def _check_index_shape(types, bound, negative, axis, caller):
    (idx,) = types
    _check_index(idx, "raise", ("raise",))
    bounds = bound if isinstance(bound, tuple) else (bound,)
    if isinstance(bound, tuple) and (idx.ndim == 0 or idx.shape[-1] != len(bound)):
        raise ShapeError(f"indices of shape {idx.shape} do not have one entry per bound of {bound}")
    if idx.size and min(bounds) <= 0:
        raise OutOfBoundsError(f"no index is valid for an axis of size {min(bounds)}")
    return idx.shape


def _site(attrs, d: int | None = None, loc=None) -> IndexSite:
    """Negative indices count from the end (NumPy's indices); labels lie in [0, bound)."""
    bound, axis = attrs["bound"], attrs["axis"]
    if d is not None:
        bound, axis = bound[d], d
    return IndexSite(attrs["caller"], axis, bound, attrs["negative"], "index" if attrs["negative"] else "label", loc)


def _check_index_emit(b, node, ix, operand):
    i, attrs = operand(0, ix), node.attrs
    if not isinstance(attrs["bound"], tuple):
        return b.cast(b.check(i, _site(attrs, loc=node.loc)), node.out.dtype)
    if ix[-1].is_const:  # read where the entry is known (inlined into a gather)
        return b.cast(b.check(i, _site(attrs, ix[-1].attr, node.loc)), node.out.dtype)
    value = b.const(0)
    for d in range(len(attrs["bound"])):  # each entry checked against its own axis only
        value = b.add(value, b.guard(b.eq(ix[-1], b.const(d)), b.check(i, _site(attrs, d, node.loc)), b.const(0)))
    return b.cast(value, node.out.dtype)


def _check_index_ref(idx, bound, negative, axis, caller):
    if not isinstance(bound, tuple):
        attrs = {"bound": bound, "negative": negative, "axis": axis, "caller": caller}
        return normalize(_site(attrs), idx).astype(idx.dtype)
    return _ref_offsets(caller, idx, bound, "raise")[0].astype(idx.dtype)


defop("check_index", shape=_check_index_shape, dtype=lambda types, **_: types[0].dtype, ref=_check_index_ref,
      emit=_check_index_emit, traits={"internal"}, attrs=("bound", "negative", "axis", "caller"))
