"""NumPy's reduction keywords over kiln's reductions: `where=` masks, `initial=`, variance and
standard deviation with `ddof`, and `out=` for the kn.Array methods that np.sum, np.mean,
np.std, ... call (NumPy hands an array-like's reduction to its method of the same name).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ShapeError, TraceError
from ..ir import dtypes as dt
from ..ir.opdef import broadcast_shapes
from . import ops
from .core import lift, normalize_axes, user_loc
from .tensor import Array, Tensor

_IDENTITY = {"sum": 0, "prod": 1}
_COMBINE = {"sum": "add", "prod": "multiply", "max": "maximum", "min": "minimum"}


def _mask(op: str, t, where):
    """`where` as a bool operand of t's shape (None when it selects everything)."""
    if where is None or where is True or (isinstance(where, np.bool_) and where):
        return None
    m = lift(where, dt.bool_)
    if broadcast_shapes(tuple(m.shape), tuple(t.shape)) != tuple(t.shape):
        raise ShapeError(f"where= mask of shape {tuple(m.shape)} does not broadcast to the array's shape "
                         f"{tuple(t.shape)}", op=op, loc=user_loc())
    return ops.broadcast_to(m, t.shape)


def reduce(op: str, x, axis=None, keepdims: bool = False, dtype=None, initial=None, where=None):
    """np.<op>(x, axis, dtype, keepdims=, initial=, where=) for sum, prod, max and min."""
    t = lift(x)
    m = _mask(op, t, where)
    if m is not None:
        fill = _IDENTITY.get(op, initial)
        if fill is None:
            raise ValueError(f"{op}: reduction operation {op!r} does not have an identity, so to use a where "
                             "mask one has to specify 'initial'")
        t = ops.where(m, t, fill)
    kw = {} if op in ("max", "min") else {"dtype": dtype}
    if op in ("max", "min") and dtype is not None:
        raise TypeError(f"{op}() got an unexpected keyword argument 'dtype'")
    nd = len(t.shape)
    axes = {a % nd for a in normalize_axes(axis, nd)} if nd else set()
    if initial is not None and op in ("max", "min") and any(t.shape[a] == 0 for a in axes):
        shape = tuple(1 if i in axes else n for i, n in enumerate(t.shape) if keepdims or i not in axes)
        return ops.full(shape, initial, dtype=t.dtype)  # nothing to reduce: NumPy gives `initial`
    out = getattr(ops, op)(t, axis, keepdims=keepdims, **kw)
    return out if initial is None else getattr(ops, _COMBINE[op])(out, ops.astype(initial, out.dtype))


def _count(t, axis, keepdims: bool, m, d):
    """How many elements each output point reduces: a Python int, or a traced count under a mask."""
    if m is None:
        axes = normalize_axes(axis, len(t.shape))
        return math.prod(t.shape[a] for a in axes)
    return ops.sum(ops.astype(m, d), axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims: bool = False):
    return ops.argmax(x, axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims: bool = False):
    return ops.argmin(x, axis, keepdims=keepdims)


def _float_dtype(t, dtype):
    return dt.as_dtype(dtype) if dtype is not None else (t.dtype if t.dtype.is_float else dt.float64)


def mean(x, axis=None, dtype=None, keepdims: bool = False, where=None):
    """np.mean with `where=`: the sum of the selected elements over their count."""
    t = lift(x)
    m = _mask("mean", t, where)
    if m is None:
        return ops.mean(t, axis, keepdims=keepdims, dtype=dtype)
    d = _float_dtype(t, dtype)
    total = ops.sum(ops.where(m, ops.astype(t, d), 0), axis, keepdims=keepdims)
    return ops.divide(total, _count(t, axis, keepdims, m, d))


def var(x, axis=None, dtype=None, ddof: float = 0, keepdims: bool = False, where=None, correction=None):
    """NumPy's variance: the mean squared deviation from the mean, over (count - ddof), in two
    passes (accurate where E[x²] - E[x]² cancels)."""
    if correction is not None:
        if ddof:
            raise ValueError("var: ddof and correction can't be provided simultaneously")
        ddof = correction
    t = lift(x)
    d = _float_dtype(t, dtype)
    t = ops.astype(t, d)
    m = _mask("var", t, where)
    centre = mean(t, axis, keepdims=True, where=m)
    dev = ops.square(ops.subtract(t, centre))
    total = ops.sum(dev if m is None else ops.where(m, dev, 0), axis, keepdims=keepdims)
    n = _count(t, axis, keepdims, m, d)
    dof = ops.maximum(ops.subtract(n, ddof), 0) if m is not None else max(n - ddof, 0)
    return ops.divide(total, dof)  # no degrees of freedom: NaN or inf, as in NumPy


def std(x, axis=None, dtype=None, ddof: float = 0, keepdims: bool = False, where=None, correction=None):
    """sqrt(var); the gradient where the variance is 0 is 0 (PyTorch's value; sqrt'(0) · 0 is NaN)."""
    v = var(x, axis, dtype, ddof, keepdims, where, correction)
    zero = ops.equal(v, 0)
    return ops.where(zero, 0.0, ops.sqrt(ops.where(zero, 1.0, v)))


def write_out(method: str, result, out: Any):
    """NumPy's `out=`: the result is written into `out` (an ndarray or kn.Array of the result's
    shape, cast as NumPy's same_kind rule allows) and `out` is returned."""
    if out is None:
        return result
    if isinstance(result, Tensor):
        raise TraceError(f"{method}(out=...) cannot write into an array while tracing a compiled function; "
                         "use the returned value", loc=user_loc())
    target = out.data if isinstance(out, Array) else out
    if isinstance(out, tuple) and len(out) == 1:  # NumPy's ufunc form out=(array,)
        return write_out(method, result, out[0])
    if not isinstance(target, np.ndarray):
        raise TypeError(f"{method}: out= must be a NumPy array or kn.Array, got {type(out).__name__}")
    data = np.asarray(result)
    if target.shape != data.shape:
        raise ValueError(f"{method}: out= has shape {target.shape}, but the result has shape {data.shape}")
    try:
        np.copyto(target, data, casting="same_kind")
    except TypeError:
        raise TypeError(f"{method}: cannot write a {data.dtype} result into out= of dtype {target.dtype} "
                        "(NumPy's same_kind casting)") from None
    return out
