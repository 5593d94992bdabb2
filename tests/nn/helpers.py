"""Shared pieces of the kn.nn tests: eager/jit runners, float64 NumPy references, finite differences."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

import kiln as kn

MODES = ["eager", "jit"]

_erf = np.vectorize(math.erf, otypes=[np.float64])


def run(mode: str, fn: Callable, *args, **kwargs):
    """fn(*args) eagerly, or through a fresh kn.jit (keyword arguments are closed over, i.e. static)."""
    if mode == "eager":
        return fn(*args, **kwargs)
    return kn.jit(lambda *a: fn(*a, **kwargs))(*args)


def np_of(x) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


# --- float64 references -------------------------------------------------------------------------

def ref_relu(x):
    return np.maximum(x, 0.0)


def ref_leaky_relu(x, negative_slope=0.01):
    return np.where(x > 0, x, negative_slope * x)


def ref_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ref_softplus(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0.0)


def ref_gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def ref_gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def ref_log_softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def ref_softmax(x, axis=-1):
    return np.exp(ref_log_softmax(x, axis))


def central_diff(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Gradient of the scalar f at x by central differences, one element at a time (float64)."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += h
        xm[i] -= h
        g[i] = (float(f(xp)) - float(f(xm))) / (2 * h)
    return g
