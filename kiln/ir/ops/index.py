"""Gather and scatter: point values whose input index is itself read from an array.

Indices are wrapped once if negative and clamped into range (JAX's rule for compiled
code: no out-of-bounds read can happen); scatter drops out-of-range updates.
"""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from .. import dtypes as dt
from ..opdef import defop, norm_axis


def _check_index_dtype(t):
    if not t.dtype.is_int:
        raise DTypeError(f"indices must be integers, got {t.dtype}")


def _wrap_clamp(b, i, n):
    i = b.cast(i, dt.int64)
    i = b.select(b.lt(i, b.const(0)), b.add(i, b.const(n)), i)
    return b.min(b.max(i, b.const(0)), b.const(max(n - 1, 0)))


def _clamp_indices(e, i, n):
    """The forward rule on graph values: wrap negatives once, clamp into [0, n-1] (n int or array)."""
    n = np.asarray(n, dtype=i.dtype.np)
    zero = e.const(0, i.dtype)
    i = e.where(e.less(i, zero), e.add(i, e.const(n, i.dtype)), i)
    return e.minimum(e.maximum(i, zero), e.const(np.maximum(n - 1, 0), i.dtype))


# take ------------------------------------------------------------------------------------

def _take_shape(types, axis):
    x, idx = types
    _check_index_dtype(idx)
    ax = norm_axis(axis, x.ndim)
    if x.shape[ax] == 0 and idx.size > 0:
        raise ShapeError(f"cannot take from an empty axis {ax} of shape {x.shape}")
    return x.shape[:ax] + idx.shape + x.shape[ax + 1:]


def _take_emit(b, node, ix, operand):
    x, idx = node.inputs
    ax = norm_axis(node.attrs["axis"], x.ndim)
    j = _wrap_clamp(b, operand(1, ix[ax:ax + idx.ndim]), x.shape[ax])
    return operand(0, ix[:ax] + (j,) + ix[ax + idx.ndim:])


def _take_grad(e, g, y, x, idx, axis):
    """Scatter-add g back: the index dims of g move to the front, scatter_nd into (n,) + rest."""
    ax, k = norm_axis(axis, x.ndim), idx.ndim
    if 0 in x.shape or 0 in g.shape:
        return e.zeros_like(x), None
    n = x.shape[ax]
    i = e.reshape(_clamp_indices(e, idx, n), shape=tuple(idx.shape) + (1,))
    upd = e.transpose_to(g, tuple(range(ax, ax + k)) + tuple(range(ax)) + tuple(range(ax + k, g.ndim)))
    out = e.scatter_nd(i, upd, shape=(n,) + tuple(x.shape[:ax]) + tuple(x.shape[ax + 1:]))
    return e.transpose_to(out, tuple(range(1, ax + 1)) + (0,) + tuple(range(ax + 1, x.ndim))), None


defop("take", shape=_take_shape, dtype=lambda types, axis: types[0].dtype,
      ref=lambda x, idx, axis: np.take(x, idx, axis=axis), emit=_take_emit, traits={"gather"},
      attrs=("axis",), grad=_take_grad)


# gather_nd (TensorFlow semantics, batch_dims=0) -------------------------------------------

def _gather_nd_shape(types):
    params, idx = types
    _check_index_dtype(idx)
    if idx.ndim == 0 or idx.shape[-1] > params.ndim:
        raise ShapeError(f"indices of shape {idx.shape} do not index params of shape {params.shape}")
    return idx.shape[:-1] + params.shape[idx.shape[-1]:]


def _gather_nd_emit(b, node, ix, operand):
    params, idx = node.inputs
    m, lead = idx.shape[-1], idx.ndim - 1
    coords = tuple(_wrap_clamp(b, operand(1, ix[:lead] + (b.const(d),)), params.shape[d]) for d in range(m))
    return operand(0, coords + ix[lead:])


def _gather_nd_ref(params, idx):
    idx = np.asarray(idx)
    return params[tuple(np.moveaxis(idx, -1, 0))] if idx.shape[-1] else np.broadcast_to(
        params, idx.shape[:-1] + params.shape)


def _gather_nd_grad(e, g, y, params, idx):
    m, lead = idx.shape[-1], idx.ndim - 1
    if 0 in params.shape or 0 in g.shape:
        return e.zeros_like(params), None
    if m == 0:  # every index row selects all of params
        return (e.sum(g, axes=tuple(range(lead)), keepdims=False) if lead else g), None
    i = _clamp_indices(e, idx, params.shape[:m])
    return e.scatter_nd(i, g, shape=tuple(params.shape)), None


defop("gather_nd", shape=_gather_nd_shape, dtype=lambda types: types[0].dtype, ref=_gather_nd_ref,
      emit=_gather_nd_emit, traits={"gather"}, grad=_gather_nd_grad)


# scatter_nd (TensorFlow semantics: duplicates add up) --------------------------------------

def _scatter_nd_shape(types, shape):
    idx, upd = types
    _check_index_dtype(idx)
    shape = tuple(shape)
    if idx.ndim == 0 or idx.shape[-1] > len(shape):
        raise ShapeError(f"indices of shape {idx.shape} do not index an output of shape {shape}")
    want = idx.shape[:-1] + shape[idx.shape[-1]:]
    if upd.shape != want:
        raise ShapeError(f"updates must have shape {want} for indices {idx.shape} into {shape}, got {upd.shape}")
    return shape


def _scatter_nd_target(b, node, ix, operand):
    """(element offset in the output, in-bounds flag) for update point `ix`."""
    idx = node.inputs[0]
    shape = node.out.shape
    m, lead = idx.shape[-1], idx.ndim - 1
    ok = b.const(True, dt.bool_)
    coords = []
    for d in range(m):
        c = b.cast(operand(0, ix[:lead] + (b.const(d),)), dt.int64)
        ok = b.and_(ok, b.and_(b.ge(c, b.const(0)), b.lt(c, b.const(shape[d]))))
        coords.append(b.min(b.max(c, b.const(0)), b.const(max(shape[d] - 1, 0))))
    return b.linear(tuple(coords) + ix[lead:], shape), ok


def _scatter_nd_ref(idx, upd, shape):
    out = np.zeros(shape, dtype=upd.dtype)
    idx = np.asarray(idx)
    np.add.at(out, tuple(np.moveaxis(idx, -1, 0)), upd)
    return out


def _scatter_nd_grad(e, g, y, idx, upd, shape):
    """Each update's cotangent is g at its target; updates dropped as out of range get 0."""
    m, lead = idx.shape[-1], idx.ndim - 1
    if 0 in upd.shape or 0 in tuple(shape):
        return None, e.zeros_like(upd)
    if m == 0:
        return None, e.broadcast(g, upd.shape)
    zero = e.const(0, idx.dtype)
    ok = e.logical_and(e.greater_equal(idx, zero),
                       e.less(idx, e.const(np.asarray(shape[:m], dtype=idx.dtype.np), idx.dtype)))
    count = e.sum(e.astype(ok, dtype=idx.dtype.name), axes=(lead,), keepdims=False)
    inside = e.reshape_to(e.equal(count, e.const(m, idx.dtype)),
                          tuple(idx.shape[:-1]) + (1,) * (len(shape) - m))
    return None, e.where(inside, e.gather_nd(g, idx), e.const(0, g.dtype))


defop("scatter_nd", shape=_scatter_nd_shape, dtype=lambda types, shape: types[1].dtype, ref=_scatter_nd_ref,
      scatter=_scatter_nd_target, traits={"scatter"}, attrs=("shape",), grad=_scatter_nd_grad)
