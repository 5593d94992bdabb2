"""NumPy indexing of kn.Array / kn.Tensor: basic indexing (ints, negative ints, slices with
steps, `...`, None) as one slice plus one reshape; one integer array indexes the first axis
through take (bounds checked), a boolean mask through boolean_mask.

Eagerly the starts are an operand (`dynamic_slice`), not attrs: `for row in a` runs one
cached graph for every row. Traced, Python ints and slices are static (the `slice` op,
free index arithmetic); a traced integer scalar indexes through take.
"""
from __future__ import annotations

import operator

import numpy as np

from ..errors import OutOfBoundsError
from .core import apply, lift, user_loc
from .shape_ops import boolean_mask, reshape, take
from .tensor import Array, Tensor
from .trace import current

_VALID = ("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or boolean "
          "arrays are valid indices")


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


def _is_array(k) -> bool:
    return isinstance(k, (list, np.ndarray, Tensor, Array)) or hasattr(k, "_is_variable")


def _integer(k) -> int:
    """A scalar index as NumPy takes it: an int or integer scalar, never a float or a bool."""
    if isinstance(k, (bool, np.bool_)):
        raise IndexError(f"{_VALID}; kiln does not take a boolean scalar index")
    try:
        return operator.index(k)
    except TypeError:
        raise IndexError(f"{_VALID} (got {type(k).__name__} {k!r})") from None


def _array_index(t, k):
    """x[array]: integers through take, a boolean mask through boolean_mask."""
    kind = k.dtype if isinstance(k, (Tensor, Array)) or hasattr(k, "_is_variable") else None
    if kind is None:
        k = np.asarray(k)
        if k.size == 0 and k.dtype.kind == "f":
            k = k.astype(np.int64)
        kind = k.dtype
    kind = np.dtype(getattr(kind, "np", kind)).kind
    if kind == "b":
        return boolean_mask(t, k)
    if kind not in "iu":
        raise IndexError("arrays used as indices must be of integer (or boolean) type")
    return take(t, k, axis=0)


def getitem(x, key):
    t = lift(x)
    if not isinstance(key, tuple):
        key = (key,)
    if any(_is_array(k) for k in key):
        if len(key) != 1:
            raise IndexError("kiln supports one integer-array index on the first axis (use take/gather_nd)")
        return _array_index(t, key[0])
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
            i = _integer(k)
            if not -n <= i < n:
                raise OutOfBoundsError(f"index {i} is out of bounds for axis {d} with size {n}", op="getitem",
                                       loc=user_loc())
            i %= n
            starts.append(i), stops.append(i + 1), steps.append(1)
        d += 1
    if (tuple(starts), tuple(stops), tuple(steps)) != ((0,) * d, t.shape, (1,) * d):
        t = _slice(t, starts, stops, steps)
    return reshape(t, tuple(out_shape))


def _slice(t, starts: list[int], stops: list[int], steps: list[int]):
    """Static in a trace; eagerly a dynamic_slice whose starts are data, keyed on sizes alone."""
    if current() is not None:
        return apply("slice", [t], starts=tuple(starts), stops=tuple(stops), steps=tuple(steps))
    sizes = tuple(len(range(a, c, s)) for a, c, s in zip(starts, stops, steps))
    firsts = Array(np.array([a if m else 0 for a, m in zip(starts, sizes)], np.int64))
    return apply("dynamic_slice", [t, firsts], sizes=sizes, steps=tuple(steps))
