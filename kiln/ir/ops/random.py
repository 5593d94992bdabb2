"""random_uniform: counter-based Philox-4x32-10 bits turned into floats in [0, 1).

The state input is an int64[2] Variable (key, counter); element n of a draw uses counter
`state[1] + n`, so a draw is a pure function of the state and the same in every backend,
eagerly and compiled. The frontend advances the counter with an `assign`.
"""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from .. import dtypes as dt
from ..opdef import defop

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK = 0xFFFFFFFF
ROUNDS = 10


def philox(ops, key, ctr):
    """Philox-4x32-10 over 32-bit words held in int64; `ops` abstracts Exprs vs NumPy arrays."""
    k0, k1 = ops.and_(key, MASK), ops.and_(ops.lshr(key, 32), MASK)
    c = [ops.and_(ctr, MASK), ops.and_(ops.lshr(ctr, 32), MASK), ops.const(0), ops.const(0)]
    for r in range(ROUNDS):
        p0, p1 = ops.mul(c[0], M0), ops.mul(c[2], M1)
        hi0, lo0 = ops.lshr(p0, 32), ops.and_(p0, MASK)
        hi1, lo1 = ops.lshr(p1, 32), ops.and_(p1, MASK)
        c = [ops.xor(ops.xor(hi1, c[1]), k0), lo1, ops.xor(ops.xor(hi0, c[3]), k1), lo0]
        if r + 1 < ROUNDS:
            k0, k1 = ops.and_(ops.add(k0, W0), MASK), ops.and_(ops.add(k1, W1), MASK)
    return c


class _ExprOps:
    """philox's word operations on kernel Exprs (int64, wrapping)."""

    def __init__(self, b):
        self.b = b

    def _c(self, x):
        return self.b.const(x) if isinstance(x, int) else x

    def const(self, x):
        return self.b.const(x)

    def __getattr__(self, name):
        fn = getattr(self.b, name)
        return lambda x, y: fn(self._c(x), self._c(y))


class _NumpyOps:
    """The same word operations on uint64 arrays, for the reference."""

    @staticmethod
    def const(x):
        return np.uint64(x)

    and_ = staticmethod(lambda x, y: np.bitwise_and(x, np.uint64(y)))
    xor = staticmethod(lambda x, y: np.bitwise_xor(x, y))
    lshr = staticmethod(lambda x, y: np.right_shift(x, np.uint64(y)))
    mul = staticmethod(lambda x, y: np.multiply(x, np.uint64(y)))
    add = staticmethod(lambda x, y: np.add(x, np.uint64(y)))


def _to_unit(ops, words, dtype, to_float):
    """Words → uniform float in [0, 1): 24 random bits for float32, 53 for float64."""
    if dtype == dt.float32:
        return to_float(ops.lshr(words[0], 8), 2.0 ** -24)
    return to_float(ops.add(ops.mul(ops.lshr(words[0], 5), 1 << 26), ops.lshr(words[1], 6)), 2.0 ** -53)


def _emit(b, node, ix, operand):
    dtype = node.out.dtype
    key, base = operand(0, (b.const(0),)), operand(0, (b.const(1),))
    ctr = b.add(base, b.linear(ix, node.out.shape))
    ops = _ExprOps(b)
    words = philox(ops, key, ctr)
    return _to_unit(ops, words, dtype, lambda w, scale: b.mul(b.cast(w, dtype), b.const(scale, dtype)))


def _ref(state, shape, dtype):
    dtype = dt.as_dtype(dtype)
    key = np.uint64(np.int64(state[0]).view(np.uint64))
    n = int(np.prod(shape))
    ctr = (np.arange(n, dtype=np.uint64) + np.uint64(np.int64(state[1]).view(np.uint64)))
    ops = _NumpyOps()
    words = philox(ops, np.full(n, key, dtype=np.uint64), ctr)
    unit = _to_unit(ops, words, dtype, lambda w, scale: w.astype(np.float64) * scale)
    return unit.astype(dtype.np).reshape(shape)


def _shape(types, shape, dtype):
    (s,) = types
    if s.shape != (2,) or s.dtype != dt.int64:
        raise ShapeError(f"random state must be int64[2], got {s}")
    if not dt.as_dtype(dtype).is_float:
        raise DTypeError(f"random_uniform makes floats, not {dtype}")
    return tuple(shape)


defop("random_uniform", shape=_shape, dtype=lambda types, shape, dtype: dt.as_dtype(dtype), ref=_ref,
      emit=_emit, traits={"internal", "random"}, attrs=("shape", "dtype"))
