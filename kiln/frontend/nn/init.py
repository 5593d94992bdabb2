"""Initializers: `init(shape, dtype) -> kn.Array`, drawn eagerly from kn.random.

Fans follow the layouts kiln's layers use: a Dense kernel is (in, out); a convolution
kernel is OIHW, so fan_in = I·H·W and fan_out = O·H·W (PyTorch's and Keras's definitions).
Initializers always run eagerly, even when a layer builds itself inside a trace, so a
Variable's initial value is concrete.
"""
from __future__ import annotations

import math
from typing import Callable

from ...ir import dtypes as dt
from .. import random as krandom
from ..shape_ops import full
from ..trace import tracing

Initializer = Callable[[tuple, dt.DType], object]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _eager(draw: Callable) -> Initializer:
    def init(shape, dtype=dt.float32):
        with tracing(None):
            return draw(tuple(int(s) for s in shape), dt.as_dtype(dtype))
    return init


def zeros() -> Initializer:
    return constant(0.0)


def ones() -> Initializer:
    return constant(1.0)


def constant(value: float) -> Initializer:
    return _eager(lambda shape, d: full(shape, value, dtype=d))


def normal(mean: float = 0.0, stddev: float = 0.01) -> Initializer:
    return _eager(lambda shape, d: krandom.normal(shape, mean, stddev, dtype=d))


def truncated_normal(mean: float = 0.0, stddev: float = 0.05) -> Initializer:
    return _eager(lambda shape, d: krandom.truncated_normal(shape, mean, stddev, dtype=d))


def uniform(minval: float = -0.05, maxval: float = 0.05) -> Initializer:
    return _eager(lambda shape, d: krandom.uniform(shape, minval, maxval, dtype=d))


def _variance_scaling(scale: float, mode: str, distribution: str) -> Initializer:
    """Draw with variance scale/fan (fan by `mode`), uniform or normal (Keras's scheme)."""
    def draw(shape, d):
        fan_in, fan_out = fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
        var = scale / max(fan, 1)
        if distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return krandom.uniform(shape, -limit, limit, dtype=d)
        return krandom.normal(shape, 0.0, math.sqrt(var), dtype=d)
    return _eager(draw)


def glorot_uniform() -> Initializer:
    return _variance_scaling(1.0, "fan_avg", "uniform")


def glorot_normal() -> Initializer:
    return _variance_scaling(1.0, "fan_avg", "normal")


def he_uniform() -> Initializer:
    return _variance_scaling(2.0, "fan_in", "uniform")


def he_normal() -> Initializer:
    return _variance_scaling(2.0, "fan_in", "normal")


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal

_BY_NAME = {"zeros": zeros, "ones": ones, "normal": normal, "truncated_normal": truncated_normal,
            "uniform": uniform, "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal,
            "xavier_uniform": xavier_uniform, "xavier_normal": xavier_normal, "he_uniform": he_uniform,
            "he_normal": he_normal, "kaiming_uniform": kaiming_uniform, "kaiming_normal": kaiming_normal}


def get(spec: str | Initializer) -> Initializer:
    """An initializer from its name (defaults for its parameters) or the callable itself."""
    if callable(spec):
        return spec
    if spec not in _BY_NAME:
        raise ValueError(f"unknown initializer {spec!r}; known: {', '.join(sorted(_BY_NAME))} or a callable")
    return _BY_NAME[spec]()
