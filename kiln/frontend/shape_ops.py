"""Public shape, indexing and creation ops (NumPy names and semantics; split/one_hot/
gather_nd/scatter_nd follow TensorFlow, as API.md says)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..errors import DTypeError, ShapeError
from ..ir import dtypes as dt
from ..ir.bounds import GATHER_MODES, SCATTER_MODES, fill_attr, mode_of
from ..ir.opdef import norm_axis
from .core import apply, dtype_of, lift, result_dtype, unchanged, user_loc
from .tensor import Array, Tensor
from .trace import current


def _err(msg: str, op: str) -> ShapeError:
    return ShapeError(msg, op=op, loc=user_loc())


def _axis(axis: int, ndim: int, op: str) -> int:
    """norm_axis whose error names the public op and the user's line."""
    try:
        return norm_axis(int(axis), ndim)
    except ShapeError as e:
        raise e.at(op, user_loc()) from None


def _shape_arg(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(n) for n in shape)


def reshape(x, shape):
    t = lift(x)
    shape = _shape_arg(shape)
    if shape.count(-1) > 1:
        raise _err("can only specify one unknown dimension", "reshape")
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        if known == 0 or t.size % known:
            raise _err(f"cannot reshape array of shape {t.shape} into shape {shape}", "reshape")
        shape = tuple(t.size // known if n == -1 else n for n in shape)
    if shape == t.shape:
        return unchanged(t)
    return apply("reshape", [t], shape=shape)


def transpose(x, axes=None):
    t = lift(x)
    nd = len(t.shape)
    perm = tuple(reversed(range(nd))) if axes is None else tuple(_axis(a, nd, "transpose") for a in axes)
    if perm == tuple(range(nd)) and len(perm) == nd:
        return unchanged(t)
    return apply("transpose", [t], perm=perm)


def expand_dims(x, axis):
    t = lift(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    nd = len(t.shape) + len(axes)
    axes = sorted(_axis(a, nd, "expand_dims") for a in axes)
    shape = list(t.shape)
    for a in axes:
        shape.insert(a, 1)
    return reshape(t, tuple(shape))


def squeeze(x, axis=None):
    t = lift(x)
    nd = len(t.shape)
    if axis is None:
        axes = {d for d, n in enumerate(t.shape) if n == 1}
    else:
        axes = {_axis(a, nd, "squeeze") for a in ((axis,) if isinstance(axis, int) else axis)}
        bad = [a for a in axes if t.shape[a] != 1]
        if bad:
            raise _err(f"cannot select an axis to squeeze out which has size not equal to one "
                       f"(axis {bad[0]} of shape {t.shape})", "squeeze")
    return reshape(t, tuple(n for d, n in enumerate(t.shape) if d not in axes))


def broadcast_to(x, shape):
    t = lift(x)
    shape = _shape_arg(shape)
    return unchanged(t) if shape == t.shape else apply("broadcast_to", [t], shape=shape)


def tile(x, reps):
    t = lift(x)
    reps = _shape_arg(reps)
    nd = max(len(reps), len(t.shape))
    reps = (1,) * (nd - len(reps)) + reps
    t = reshape(t, (1,) * (nd - len(t.shape)) + t.shape)
    inter = tuple(v for n in t.shape for v in (1, n))
    big = tuple(v for r, n in zip(reps, t.shape) for v in (r, n))
    return reshape(broadcast_to(reshape(t, inter), big), tuple(r * n for r, n in zip(reps, t.shape)))


def concatenate(arrays: Sequence, axis: int = 0):
    if len(arrays) == 0:
        raise _err("need at least one array to concatenate", "concatenate")
    d = result_dtype(*arrays)
    ts = [lift(a, d) for a in arrays]
    if axis is None:
        ts, axis = [reshape(t, (-1,)) for t in ts], 0
    if any(len(t.shape) == 0 for t in ts):
        raise _err("zero-dimensional arrays cannot be concatenated", "concatenate")
    if len(ts) == 1:
        return unchanged(ts[0])
    return apply("concatenate", ts, axis=_axis(axis, len(ts[0].shape), "concatenate"))


concat = concatenate


def stack(arrays: Sequence, axis: int = 0):
    if len(arrays) == 0:
        raise _err("need at least one array to stack", "stack")
    shapes = {tuple(lift(a).shape) for a in arrays}
    if len(shapes) != 1:
        raise _err(f"all input arrays must have the same shape, got {sorted(shapes)}", "stack")
    nd = len(next(iter(shapes))) + 1
    ax = _axis(axis, nd, "stack")
    return concatenate([expand_dims(a, ax) for a in arrays], ax)


def _slice(t, axis: int, start: int, stop: int):
    nd = len(t.shape)
    starts = tuple(start if d == axis else 0 for d in range(nd))
    stops = tuple(stop if d == axis else t.shape[d] for d in range(nd))
    return apply("slice", [t], starts=starts, stops=stops, steps=(1,) * nd)


def split(x, num_or_size_splits, axis: int = 0):
    """TensorFlow semantics: an int splits into equal parts, a list gives the part sizes."""
    t = lift(x)
    ax = _axis(axis, len(t.shape), "split")
    n = t.shape[ax]
    if isinstance(num_or_size_splits, (int, np.integer)):
        k = int(num_or_size_splits)
        if k <= 0 or n % k:
            raise _err(f"cannot split axis of size {n} into {k} equal parts", "split")
        sizes = [n // k] * k
    else:
        sizes = [int(s) for s in num_or_size_splits]
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = n - (sum(sizes) + 1)
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise _err(f"split sizes {sizes} do not add up to {n}", "split")
    out, start = [], 0
    for s in sizes:
        out.append(_slice(t, ax, start, start + s))
        start += s
    return out


def unstack(x, axis: int = 0):
    t = lift(x)
    ax = _axis(axis, len(t.shape), "unstack")
    return [squeeze(part, ax) for part in split(t, t.shape[ax], ax)] if t.shape[ax] else []


def pad(x, pad_width, mode: str = "constant", constant_values=0):
    if mode != "constant":
        raise NotImplementedError(f"pad mode {mode!r}: kiln supports mode='constant'")
    t = lift(x)
    nd = len(t.shape)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                         np.full((1, 2), int(pad_width)), (nd, 2))
    pads = tuple((int(a), int(b)) for a, b in pw)
    value = np.asarray(constant_values, dtype=t.dtype.np).item()
    return apply("pad", [t], pads=pads, value=value)


# indexing --------------------------------------------------------------------------------

def index_operand(indices, op: str):
    """Integer indices as an operand: a kiln array as it is; anything else through NumPy, whose
    integers become int64 and whose floats are refused (NumPy's IndexError/TypeError)."""
    if isinstance(indices, (Tensor, Array)) or hasattr(indices, "_is_variable"):
        return lift(indices)
    arr = np.asarray(indices)
    if arr.size == 0 and arr.dtype.kind == "f":  # [] is float64 to NumPy
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise DTypeError(f"indices must be integers, got {arr.dtype}", op=op, loc=user_loc())
    keep = isinstance(indices, (np.ndarray, np.generic)) and arr.dtype in (np.int32, np.int64)
    return lift(arr if keep else arr.astype(np.int64))


def _prechecked(idx, bounds: tuple[int, ...], rows: int, mode: str, op: str):
    """(indices, mode) for a gather or scatter of rows in raise mode: the indices are checked
    once, by a kernel of their own, and the rows then move branch-free (vectorized) in clip
    mode, which only guards the reads; single elements keep the check inline."""
    if mode != "raise" or rows <= 1 or not bounds or 0 in bounds or idx.shape[-1] != len(bounds):
        return idx, mode
    return apply("check_index", [idx], bound=tuple(bounds), negative=True, axis=None, caller=op), "clip"


def take(x, indices, axis=None, mode: str | None = None, fill_value=None):
    """NumPy's take; `mode`: "raise" (default: IndexError for an index outside [-n, n)),
    "clip", "wrap", or JAX's "fill" (out of range reads give fill_value, NaN by default)."""
    t = lift(x)
    mode = mode_of(mode, GATHER_MODES, "take")
    if axis is None:
        t, axis = reshape(t, (-1,)), 0
    axis = _axis(axis, len(t.shape), "take")
    idx = index_operand(indices, "take")
    if mode == "raise" and t.shape[axis] and math.prod(t.shape) > t.shape[axis]:  # rows: see _prechecked
        idx = apply("check_index", [idx], bound=t.shape[axis], negative=True, axis=axis, caller="take")
        mode = "clip"
    return apply("take", [t, idx], axis=axis, mode=mode, fill=fill_attr(fill_value, t.dtype.np))


gather = take


def gather_nd(params, indices, mode: str | None = None, fill_value=None):
    t, idx = lift(params), index_operand(indices, "gather_nd")
    m = idx.shape[-1] if idx.shape else 0
    idx, mode = _prechecked(idx, t.shape[:m], math.prod(t.shape[m:]), mode_of(mode, GATHER_MODES, "gather_nd"),
                            "gather_nd")
    return apply("gather_nd", [t, idx], mode=mode, fill=fill_attr(fill_value, t.dtype.np))


def scatter_nd(indices, updates, shape, mode: str | None = None):
    """TensorFlow's scatter_nd (duplicates add up); `mode` "drop" (or JAX's "fill") drops out
    of range updates instead of raising."""
    idx, shape = index_operand(indices, "scatter_nd"), _shape_arg(shape)
    m = idx.shape[-1] if idx.shape else 0
    idx, mode = _prechecked(idx, shape[:m], math.prod(shape[m:]),
                            mode_of("drop" if mode == "fill" else mode, SCATTER_MODES, "scatter_nd"), "scatter_nd")
    return apply("scatter_nd", [idx, lift(updates)], shape=shape, mode=mode)


def one_hot(labels, depth: int, dtype=dt.float32):
    from .ops import astype, equal
    lab = lift(labels)
    hot = equal(expand_dims(lab, -1), iota((int(depth),), 0, lab.dtype))
    return astype(hot, dtype)


def cumsum(x, axis=None):
    t = lift(x)
    if axis is None:
        t, axis = reshape(t, (-1,)), 0
    if t.dtype.is_bool or t.dtype == dt.int32:
        t = lift(t, dt.int64)
    return apply("cumsum", [t], axis=_axis(axis, len(t.shape), "cumsum"))


def nonzero_flat(mask, op: str = "nonzero"):
    """Positions of the true elements of a flattened mask; eager only (data-dependent shape)."""
    if current() is not None:
        raise _err("the output shape depends on the data, which a compiled function cannot have; "
                   "use kn.where(cond, x, y) or multiply by the mask instead", op)
    from .ops import subtract
    m = reshape(lift(mask, dt.bool_), (-1,))
    n = m.shape[0]
    rank = cumsum(m)  # inclusive count of true elements up to each position
    count = int(rank.data[-1]) if n else 0
    # each true element j goes to slot rank[j]-1; false ones to a spare slot that is cut off
    target = apply("where", [m, subtract(rank, 1), lift(np.int64(count))])
    out = scatter_nd(reshape(target, (n, 1)), iota((n,), 0, dt.int64), (count + 1,))
    return _slice(out, 0, 0, count)


def nonzero(condition, op: str = "nonzero"):
    t = lift(condition)
    flat = nonzero_flat(t, op)
    shape = t.shape
    if len(shape) <= 1:
        return (flat,)
    from .ops import floor_divide, mod
    strides = [math.prod(shape[d + 1:]) for d in range(len(shape))]
    return tuple(mod(floor_divide(flat, s), n) for s, n in zip(strides, shape))


def boolean_mask(x, mask):
    """x[mask] (eager only: the result's shape depends on the data)."""
    t, m = lift(x), lift(mask)
    k = len(m.shape)
    if t.shape[:k] != m.shape:
        raise _err(f"mask of shape {m.shape} does not match the leading dims of {t.shape}", "boolean_mask")
    idx = nonzero_flat(m, "boolean_mask")
    rows = reshape(t, (math.prod(m.shape),) + t.shape[k:])  # not -1: ambiguous when a row is empty
    return take(rows, idx, axis=0)


# creation --------------------------------------------------------------------------------

def iota(shape, axis: int, dtype):
    return apply("iota", [], shape=_shape_arg(shape), axis=axis, dtype=dt.as_dtype(dtype).name)


def full(shape, fill_value, dtype=None):
    d = dt.as_dtype(dtype) if dtype is not None else dtype_of(fill_value)
    return broadcast_to(lift(np.asarray(fill_value, dtype=d.np) if not hasattr(fill_value, "shape")
                             else fill_value, d), _shape_arg(shape))


def zeros(shape, dtype=dt.float32):
    return full(shape, 0, dtype)


def ones(shape, dtype=dt.float32):
    return full(shape, 1, dtype)


def zeros_like(x, dtype=None):
    return full(lift(x).shape, 0, dtype or lift(x).dtype)


def ones_like(x, dtype=None):
    return full(lift(x).shape, 1, dtype or lift(x).dtype)


def full_like(x, fill_value, dtype=None):
    return full(lift(x).shape, fill_value, dtype or lift(x).dtype)


def arange(start, stop=None, step=1, dtype=None):
    from .ops import add, astype, multiply
    if stop is None:
        start, stop = 0, start
    d = dt.as_dtype(dtype) if dtype is not None else result_dtype(start, stop, step)
    n = max(0, math.ceil((float(stop) - float(start)) / float(step)))
    i = iota((n,), 0, d if not d.is_bool else dt.int32)
    if start == 0 and step == 1:
        return astype(i, d)
    return astype(add(multiply(i, step), start), d)


def linspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None):
    from .ops import add, astype, multiply
    d = dt.as_dtype(dtype) if dtype is not None else dt.float32
    div = (num - 1) if endpoint else num
    step = (float(stop) - float(start)) / div if div > 0 else 0.0
    i = iota((num,), 0, dt.float64)
    vals = add(multiply(i, step), float(start))
    if endpoint and num > 1:
        from .ops import equal, where
        vals = where(equal(i, float(num - 1)), float(stop), vals)
    return astype(vals, d)


def eye(N: int, M: int | None = None, k: int = 0, dtype=dt.float32):
    from .ops import add, astype, equal
    M = N if M is None else M
    r, c = iota((N, M), 0, dt.int64), iota((N, M), 1, dt.int64)
    return astype(equal(add(r, k), c), dtype)


def identity(n: int, dtype=dt.float32):
    return eye(n, dtype=dtype)


def asarray(x, dtype=None):
    d = dt.as_dtype(dtype) if dtype is not None else None
    if isinstance(x, Array) and current() is None:
        return x if d is None or x.dtype == d else Array(x.data.astype(d.np))
    if current() is None and not hasattr(x, "_is_variable"):
        d = d or dtype_of(x)
        return Array(np.asarray(x, dtype=d.np, order="C"))
    return unchanged(lift(x, d))


array = asarray


def meshgrid(*xs, indexing: str = "xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError("indexing must be 'xy' or 'ij'")
    ts = [reshape(lift(x), (-1,)) for x in xs]
    shape = [t.shape[0] for t in ts]
    if indexing == "xy" and len(ts) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(ts):
        pos = i
        if indexing == "xy" and len(ts) >= 2 and i < 2:
            pos = 1 - i
        view = [1] * len(ts)
        view[pos] = t.shape[0]
        out.append(broadcast_to(reshape(t, tuple(view)), tuple(shape)))
    return out
