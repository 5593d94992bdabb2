"""Movement ops (views: an index map onto input 0) and the ops that build arrays from parts."""
from __future__ import annotations

import math

import numpy as np

from ...errors import ShapeError
from .. import dtypes as dt
from ..opdef import defop, norm_axis, same_dtype

MOVE = {"movement"}


def _first_dtype(types, **_):
    return types[0].dtype


# reshape ---------------------------------------------------------------------------------

def _reshape_shape(types, shape):
    (x,) = types
    if math.prod(shape) != x.size or any(n < 0 for n in shape):
        raise ShapeError(f"cannot reshape array of shape {x.shape} into shape {tuple(shape)}")
    return tuple(shape)


def _reshape_groups(src: tuple[int, ...], dst: tuple[int, ...]) -> list[tuple[range, range]]:
    """Split both shapes into runs of dims with equal products: each run of dst maps onto its
    run of src alone, so an index needs division only where a run really regroups dims."""
    groups, i, j = [], 0, 0
    while i < len(src) or j < len(dst):
        si, dj, ps, pd = i, j, 1, 1
        if i < len(src):
            ps, i = src[i], i + 1
        if j < len(dst):
            pd, j = dst[j], j + 1
        while ps != pd:
            if ps < pd:
                ps, i = ps * src[i], i + 1
            else:
                pd, j = pd * dst[j], j + 1
        groups.append((range(si, i), range(dj, j)))
    return groups


def _reshape_index(b, node, ix):
    src, dst = node.inputs[0].shape, node.out.shape
    if 0 in src:
        return b.delinear(b.linear(ix, dst), src)
    out = []
    for s, d in _reshape_groups(src, dst):
        s_dims, d_dims = [k for k in s if src[k] != 1], [k for k in d if dst[k] != 1]
        if len(s_dims) == 1 and len(d_dims) == 1:
            parts = [ix[d_dims[0]]]
        else:
            flat = b.linear(tuple(ix[k] for k in d_dims), tuple(dst[k] for k in d_dims))
            parts = list(b.delinear(flat, tuple(src[k] for k in s_dims)))
        out.extend(parts.pop(0) if src[k] != 1 else b.const(0) for k in s)
    return tuple(out)


defop("reshape", shape=_reshape_shape, dtype=_first_dtype, ref=lambda x, shape: np.reshape(x, shape),
      index=_reshape_index, traits=MOVE, attrs=("shape",),
      grad=lambda e, g, y, x, shape: (e.reshape_to(g, x.shape),))


# transpose -------------------------------------------------------------------------------

def _transpose_shape(types, perm):
    (x,) = types
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"axes {tuple(perm)} don't match array of shape {x.shape}")
    return tuple(x.shape[p] for p in perm)


def _transpose_index(b, node, ix):
    perm = node.attrs["perm"]
    out = [None] * len(perm)
    for d, p in enumerate(perm):
        out[p] = ix[d]
    return tuple(out)


def _transpose_grad(e, g, y, x, perm):
    inverse = [0] * len(perm)
    for d, p in enumerate(perm):
        inverse[p] = d
    return (e.transpose_to(g, tuple(inverse)),)


defop("transpose", shape=_transpose_shape, dtype=_first_dtype, ref=lambda x, perm: np.transpose(x, perm),
      index=_transpose_index, traits=MOVE, attrs=("perm",), grad=_transpose_grad)


# broadcast_to ----------------------------------------------------------------------------

def _broadcast_to_shape(types, shape):
    (x,) = types
    shape = tuple(shape)
    lead = len(shape) - x.ndim
    if lead < 0 or any(n not in (1, m) for n, m in zip(x.shape, shape[lead:])):
        raise ShapeError(f"cannot broadcast shape {x.shape} to {shape}")
    return shape


def _broadcast_to_index(b, node, ix):
    src = node.inputs[0].shape
    lead = len(ix) - len(src)
    return tuple(b.const(0) if n == 1 else ix[lead + d] for d, n in enumerate(src))


defop("broadcast_to", shape=_broadcast_to_shape, dtype=_first_dtype,
      ref=lambda x, shape: np.broadcast_to(x, shape), index=_broadcast_to_index, traits=MOVE,
      attrs=("shape",), grad=lambda e, g, y, x, shape: (g,))  # the driver sums back to x's shape


# slice (basic indexing) ------------------------------------------------------------------

def _slice_shape(types, starts, stops, steps):
    (x,) = types
    if not len(starts) == len(stops) == len(steps) == x.ndim:
        raise ShapeError(f"slice needs one (start, stop, step) per dimension of {x.shape}")
    return tuple(len(range(a, c, s)) for a, c, s in zip(starts, stops, steps))


def _slice_index(b, node, ix):
    a = node.attrs
    return tuple(b.add(b.const(st), b.mul(i, b.const(sp))) for i, st, sp in zip(ix, a["starts"], a["steps"]))


def _range_slice(start: int, stop: int, step: int) -> slice:
    """The Python slice selecting range(start, stop, step): the attrs hold slice.indices()
    values, where -1 means "before index 0", not "the last element"; an empty range
    (whose start may be that -1 too) selects nothing."""
    if not range(start, stop, step):
        return slice(0, 0)
    return slice(start, stop if stop >= 0 else None, step)


def _slice_ref(x, starts, stops, steps):
    return x[tuple(_range_slice(*acs) for acs in zip(starts, stops, steps))]


def _spread(e, g, axis: int, step: int):
    """Insert step-1 zeros between the elements of g along `axis` (length (m-1)*step+1)."""
    m = g.shape[axis]
    g = e.reshape(g, shape=g.shape[:axis + 1] + (1,) + g.shape[axis + 1:])
    pads = tuple((0, step - 1) if d == axis + 1 else (0, 0) for d in range(g.ndim))
    g = e.pad(g, pads=pads, value=0)
    g = e.reshape(g, shape=g.shape[:axis] + (m * step,) + g.shape[axis + 2:])
    stops = tuple((m - 1) * step + 1 if d == axis else n for d, n in enumerate(g.shape))
    return e.slice(g, starts=(0,) * g.ndim, stops=stops, steps=(1,) * g.ndim)


def _slice_grad(e, g, y, x, starts, stops, steps):
    """Scatter g back: undo negative steps (flip), spread strides with zeros, pad to x's shape."""
    if math.prod(g.shape) == 0:
        return (e.zeros_like(x),)
    if any(s < 0 for s in steps):
        g = e.slice(g, starts=tuple(m - 1 if s < 0 else 0 for m, s in zip(g.shape, steps)),
                    stops=tuple(-1 if s < 0 else m for m, s in zip(g.shape, steps)),
                    steps=tuple(-1 if s < 0 else 1 for s in steps))
    pads = []
    for d, (a, s, n, m) in enumerate(zip(starts, steps, x.shape, g.shape)):
        lo = a + (m - 1) * s if s < 0 else a
        if abs(s) > 1 and m > 1:
            g = _spread(e, g, d, abs(s))
        pads.append((lo, n - lo - g.shape[d]))
    if any(p != (0, 0) for p in pads):
        g = e.pad(g, pads=tuple(pads), value=0)
    return (g,)


defop("slice", shape=_slice_shape, dtype=_first_dtype, ref=_slice_ref, index=_slice_index,
      traits=MOVE | {"internal"}, attrs=("starts", "stops", "steps"), grad=_slice_grad)


# dynamic_slice (eager basic indexing: the starts are an operand, so one graph serves every index)

def _dynamic_slice_shape(types, sizes, steps):
    x, starts = types
    if not starts.dtype.is_int or starts.shape != (x.ndim,) or not len(sizes) == len(steps) == x.ndim:
        raise ShapeError(f"dynamic_slice needs one integer start, size and step per dimension of {x.shape}")
    if any(m < 0 or s == 0 or (m - 1) * abs(s) >= n > 0 or (m and not n) for m, s, n in zip(sizes, steps, x.shape)):
        raise ShapeError(f"slices of sizes {tuple(sizes)} and steps {tuple(steps)} do not fit shape {x.shape}")
    return tuple(sizes)


def _window(n: int, size: int, step: int) -> tuple[int, int]:
    """The first elements a window of `size` elements `step` apart may start at within n
    (JAX's dynamic_slice clamps its start the same way)."""
    span = max(size - 1, 0) * abs(step)
    return (0, n - 1 - span) if step > 0 else (span, n - 1)


def _dynamic_slice_emit(b, node, ix, operand):
    x = node.inputs[0]
    out = []
    for d, (i, n, m, s) in enumerate(zip(ix, x.shape, node.attrs["sizes"], node.attrs["steps"])):
        lo, hi = _window(n, m, s)
        first = b.min(b.max(b.cast(operand(1, (b.const(d),)), dt.int64), b.const(lo)), b.const(max(hi, lo)))
        out.append(b.add(first, b.mul(i, b.const(s))))
    return operand(0, tuple(out))


def _dynamic_slice_ref(x, starts, sizes, steps):
    firsts = [min(max(int(a), lo), max(hi, lo)) for a, (lo, hi) in
              zip(starts, (_window(n, m, s) for n, m, s in zip(x.shape, sizes, steps)))]
    return x[tuple(_range_slice(a, a + m * s, s) for a, m, s in zip(firsts, sizes, steps))]


def _dynamic_slice_grad(e, g, y, x, starts, sizes, steps):
    """Scatter g back to the positions it was read from (first + k·step along each axis)."""
    if math.prod(g.shape) == 0:
        return e.zeros_like(x), None
    coords = []
    for d, (n, m, s) in enumerate(zip(x.shape, sizes, steps)):
        lo, hi = _window(n, m, s)
        first = e.reshape(e.slice(e.astype(starts, dtype="int64"), starts=(d,), stops=(d + 1,), steps=(1,)),
                          shape=(1,) * len(sizes) + (1,))
        first = e.minimum(e.maximum(first, e.const(lo, dt.int64)), e.const(max(hi, lo), dt.int64))
        step = e.multiply(e.iota(shape=tuple(sizes) + (1,), axis=d, dtype="int64"), e.const(s, dt.int64))
        coords.append(e.add(step, e.broadcast(first, tuple(sizes) + (1,))))
    idx = coords[0] if len(coords) == 1 else e.concatenate(*coords, axis=len(sizes))
    return e.scatter_nd(idx, g, shape=tuple(x.shape), mode="clip"), None


defop("dynamic_slice", shape=_dynamic_slice_shape, dtype=_first_dtype, ref=_dynamic_slice_ref,
      emit=_dynamic_slice_emit, traits={"internal"}, attrs=("sizes", "steps"), grad=_dynamic_slice_grad)


# concatenate -----------------------------------------------------------------------------

def _concat_shape(types, axis):
    first = types[0]
    if first.ndim == 0:
        raise ShapeError("zero-dimensional arrays cannot be concatenated")
    ax = norm_axis(axis, first.ndim)
    for t in types[1:]:
        if t.ndim != first.ndim or any(m != n for d, (m, n) in enumerate(zip(t.shape, first.shape)) if d != ax):
            raise ShapeError("all input array dimensions except the concatenation axis must match, got "
                             + ", ".join(str(t.shape) for t in types))
    return first.shape[:ax] + (sum(t.shape[ax] for t in types),) + first.shape[ax + 1:]


def _clamp(b, i, n):
    return b.min(b.max(i, b.const(0)), b.const(max(n - 1, 0)))


def _concat_emit(b, node, ix, operand):
    ax = norm_axis(node.attrs["axis"], len(ix))
    parts = [(k, v.shape[ax]) for k, v in enumerate(node.inputs) if v.shape[ax] > 0]
    if not parts:  # every input is empty along the axis, so is the output: never evaluated
        return b.const(0, node.out.dtype)
    offsets, acc = [], 0
    for _, n in parts:
        offsets.append(acc)
        acc += n
    value = None
    for (k, n), off in reversed(list(zip(parts, offsets))):
        local = _clamp(b, b.sub(ix[ax], b.const(off)), n)
        here = operand(k, ix[:ax] + (local,) + ix[ax + 1:])
        value = here if value is None else b.select(b.lt(ix[ax], b.const(off + n)), here, value)
    return value


def _concat_grad(e, g, y, *xs, axis):
    ax = norm_axis(axis, g.ndim)
    out, off = [], 0
    for x in xs:
        n = x.shape[ax]
        starts = tuple(off if d == ax else 0 for d in range(g.ndim))
        stops = tuple(off + n if d == ax else m for d, m in enumerate(g.shape))
        out.append(e.slice(g, starts=starts, stops=stops, steps=(1,) * g.ndim))
        off += n
    return tuple(out)


defop("concatenate", shape=_concat_shape, dtype=lambda types, axis: same_dtype(types),
      ref=lambda *xs, axis: np.concatenate(xs, axis=axis), emit=_concat_emit, attrs=("axis",),
      grad=_concat_grad)


# pad (constant) --------------------------------------------------------------------------

def _pad_shape(types, pads, value):
    (x,) = types
    if x.ndim == 0:
        raise ShapeError("cannot pad a 0-d array (NumPy refuses it too)")
    if len(pads) != x.ndim or any(lo < 0 or hi < 0 for lo, hi in pads):
        raise ShapeError(f"pad widths {pads} don't fit array of shape {x.shape}")
    return tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, pads))


def _pad_emit(b, node, ix, operand):
    src = node.inputs[0]
    if src.type.size == 0:
        return b.const(node.attrs["value"], src.dtype)
    inside, local = b.const(True, dt.bool_), []
    for i, n, (lo, _) in zip(ix, src.shape, node.attrs["pads"]):
        j = b.sub(i, b.const(lo))
        if lo:
            inside = b.and_(inside, b.ge(j, b.const(0)))
        if n + lo < node.out.shape[len(local)]:
            inside = b.and_(inside, b.lt(j, b.const(n)))
        local.append(j)
    return b.guard(inside, operand(0, tuple(local)), b.const(node.attrs["value"], src.dtype))


defop("pad", shape=_pad_shape, dtype=_first_dtype,
      ref=lambda x, pads, value: np.pad(x, pads, constant_values=value), emit=_pad_emit,
      attrs=("pads", "value"),
      grad=lambda e, g, y, x, pads, value: (e.slice(g, starts=tuple(lo for lo, _ in pads),
                                                    stops=tuple(lo + n for (lo, _), n in zip(pads, x.shape)),
                                                    steps=(1,) * x.ndim),))


# creation --------------------------------------------------------------------------------

def _iota_emit(b, node, ix, operand):
    return b.cast(ix[node.attrs["axis"]], node.out.dtype)


def _iota_ref(shape, axis, dtype):
    shape = _iota_shape([], shape, axis, dtype)
    r = np.arange(shape[axis]).reshape([-1 if d == axis else 1 for d in range(len(shape))])
    return np.broadcast_to(r, shape).astype(dt.as_dtype(dtype).np)


def _iota_shape(types, shape, axis, dtype):
    if not 0 <= axis < len(shape):  # the axis the values count along is one of the shape's
        raise ShapeError(f"axis {axis} is out of range for shape {tuple(shape)}")
    return tuple(shape)


defop("iota", shape=_iota_shape,
      dtype=lambda types, shape, axis, dtype: dt.as_dtype(dtype), ref=_iota_ref, emit=_iota_emit,
      traits={"internal", "creation"}, attrs=("shape", "axis", "dtype"))


def _constant_dtype(types, value):
    return dt.as_dtype(np.asarray(value).dtype)


def _constant_emit(b, node, ix, operand):
    return b.const(np.asarray(node.attrs["value"]).reshape(()).item(), node.out.dtype)


def _constant_ref(value):
    return np.asarray(value)


defop("constant", shape=lambda types, value: np.shape(value), dtype=_constant_dtype, ref=_constant_ref,
      emit=_constant_emit, traits={"internal", "creation"}, attrs=("value",))

