"""kn.random: a counter-based (Philox) generator whose state is a kiln Variable, so compiled
functions draw fresh numbers every call and one seed gives one stream, eager or compiled."""
from __future__ import annotations

import math

import numpy as np

from ..ir import dtypes as dt
from . import ops
from .core import apply, lift
from .shape_ops import _shape_arg, reshape
from .variable import Variable


class Generator:
    """Holds the (key, counter) state Variable; each draw of n numbers advances the counter by n."""

    def __init__(self, seed: int = 0):
        self.state = Variable(np.array([seed, 0], dtype=np.int64), trainable=False, name="rng_state")

    def seed(self, s: int) -> None:
        self.state.assign(np.array([int(s), 0], dtype=np.int64))

    def uniform_bits(self, shape, dtype) -> object:
        shape = _shape_arg(shape)
        d = dt.as_dtype(dtype)
        s = lift(self.state)
        u = apply("random_uniform", [s], shape=shape, dtype=d.name)
        self.state.assign(ops.add(s, np.array([0, max(math.prod(shape), 0)], dtype=np.int64)))
        return u


_default = Generator(0)


def seed(s: int) -> None:
    _default.seed(s)


def uniform(shape=(), minval=0.0, maxval=1.0, dtype=dt.float32):
    u = _default.uniform_bits(shape, dtype)
    return ops.add(ops.multiply(u, ops.subtract(maxval, minval)), minval) if (minval, maxval) != (0.0, 1.0) else u


def normal(shape=(), mean=0.0, stddev=1.0, dtype=dt.float32):
    """Box–Muller on two uniform draws."""
    shape = _shape_arg(shape)
    u1 = _default.uniform_bits(shape, dtype)
    u2 = _default.uniform_bits(shape, dtype)
    r = ops.sqrt(ops.multiply(-2.0, ops.log(ops.subtract(1.0, u1))))
    z = ops.multiply(r, ops.cos(ops.multiply(2.0 * math.pi, u2)))
    return ops.add(ops.multiply(z, stddev), mean)


def truncated_normal(shape=(), mean=0.0, stddev=1.0, dtype=dt.float32):
    """Normal restricted to two standard deviations (TensorFlow's rule), by inverting the CDF."""
    shape = _shape_arg(shape)
    u = _default.uniform_bits(shape, dtype)
    lo, hi = _phi(-2.0), _phi(2.0)
    p = ops.add(ops.multiply(u, hi - lo), lo)
    z = ops.multiply(math.sqrt(2.0), _erfinv(ops.subtract(ops.multiply(2.0, p), 1.0)))
    z = ops.clip(z, -2.0, 2.0)
    return ops.add(ops.multiply(z, stddev), mean)


def bernoulli(p=0.5, shape=(), dtype=dt.bool_):
    u = _default.uniform_bits(shape, dt.float32)
    return ops.astype(ops.less(u, p), dtype)


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _erfinv(y):
    """Giles' single-precision erfinv approximation (polynomials in w = -log(1 - y²))."""
    w = ops.negative(ops.log(ops.multiply(ops.subtract(1.0, y), ops.add(1.0, y))))
    small = ops.subtract(w, 2.5)
    big = ops.subtract(ops.sqrt(ops.maximum(w, 5.0)), 3.0)
    ps = [2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
          -0.00417768164, 0.246640727, 1.50140941]
    pb = [-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
          0.00943887047, 1.00167406, 2.83297682]
    a, b = ps[0], pb[0]
    for c1, c2 in zip(ps[1:], pb[1:]):
        a = ops.add(ops.multiply(a, small), c1)
        b = ops.add(ops.multiply(b, big), c2)
    return ops.multiply(ops.where(ops.less(w, 5.0), a, b), y)


__all__ = ["seed", "uniform", "normal", "truncated_normal", "bernoulli", "Generator", "reshape"]
