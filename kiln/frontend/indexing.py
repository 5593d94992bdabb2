"""NumPy basic indexing (ints, negative ints, slices with steps, `...`, None) as one slice
plus one reshape; integer arrays index one axis through take."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .core import apply, lift, user_loc
from .shape_ops import reshape, take
from .tensor import Array, Tensor


def _expand(key: tuple, ndim: int) -> tuple:
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(1 for k in key if k is not None and k is not Ellipsis)
    if used > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but {used} were indexed")
    if Ellipsis in key:
        i = next(i for i, k in enumerate(key) if k is Ellipsis)
        return key[:i] + (slice(None),) * (ndim - used) + key[i + 1:]
    return key + (slice(None),) * (ndim - used)


def getitem(x, key):
    t = lift(x)
    if not isinstance(key, tuple):
        key = (key,)
    arrays = [k for k in key if isinstance(k, (list, np.ndarray, Tensor, Array)) or hasattr(k, "_is_variable")]
    if arrays:
        if len(key) != 1:
            raise IndexError("kiln supports one integer-array index on the first axis (use take/gather_nd)")
        return take(t, key[0], axis=0)
    key = _expand(key, len(t.shape))
    starts, stops, steps, out_shape = [], [], [], []
    d = 0
    for k in key:
        if k is None:
            out_shape.append(1)
            continue
        n = t.shape[d]
        if isinstance(k, slice):
            a, c, s = k.indices(n)
            starts.append(a), stops.append(c), steps.append(s)
            out_shape.append(len(range(a, c, s)))
        else:
            i = int(k)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for axis {d} with size {n}") from \
                    ShapeError(f"index {i} out of bounds for shape {t.shape}", op="getitem", loc=user_loc())
            i %= n
            starts.append(i), stops.append(i + 1), steps.append(1)
        d += 1
    if (tuple(starts), tuple(stops), tuple(steps)) != ((0,) * d, t.shape, (1,) * d):
        t = apply("slice", [t], starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))
    return reshape(t, tuple(out_shape))
