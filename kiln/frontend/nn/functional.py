"""kn.nn functional ops: activations, softmax, linear and dropout, written in kiln ops.

Each is a composite (or the `sigmoid` registry op) so fusion sees through it and autodiff
differentiates it with no extra rules. Every form is chosen to stay finite for huge
inputs (softmax subtracts the (gradient-stopped) maximum, softplus works on -|x|) and to have
the textbook derivative of every order at its kinks: each piecewise form picks, at the switch
point, the branch whose derivatives are the function's own (PyTorch's and JAX's values).
"""
from __future__ import annotations

import math

from ...ir import dtypes as dt
from .. import ops
from .. import random as krandom
from ..core import apply, lift


def _float(x):
    t = lift(x)
    return t if t.dtype.is_float else ops.astype(t, dt.float_of(t.dtype))


def relu(x):
    """max(x, 0); the gradient at 0 is 0 (the subgradient JAX, PyTorch and TF use)."""
    t = _float(x)
    return ops.where(ops.less_equal(t, 0), 0.0, t)


def leaky_relu(x, negative_slope: float = 0.01):
    """x for x > 0, else slope·x; the gradient at 0 is the slope (PyTorch's and TF's choice, the
    one relu's 0 extends; JAX's leaky_relu gives 1 there)."""
    t = _float(x)
    return ops.where(ops.greater(t, 0), t, ops.multiply(t, negative_slope))


def sigmoid(x):
    return apply("sigmoid", [_float(x)])


def tanh(x):
    return ops.tanh(x)


def softplus(x):
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|; its derivatives of
    every order are sigmoid's (softplus'(0) = 0.5, softplus''(0) = 0.25)."""
    t = _float(x)
    return ops.add(relu(t), softplus_tail(t))


def softplus_tail(t):
    """log1p(e^-|t|), with -|t| written as where(t > 0, -t, t): relu's derivative is 0 at 0, so
    -|t| must have derivative +1 there for relu(t) + softplus_tail(t) to be differentiated
    exactly, to every order, at 0 (`abs` alone gives 0 + 0 = 0 instead of sigmoid(0))."""
    return ops.log1p(ops.exp(ops.where(ops.greater(t, 0), ops.negative(t), t)))


def gelu(x, approximate: bool = False):
    """x·Φ(x) with the exact erf form by default (PyTorch's and Keras's default), or the tanh
    approximation when `approximate=True`."""
    t = _float(x)
    if approximate:
        inner = ops.multiply(math.sqrt(2.0 / math.pi), ops.add(t, ops.multiply(0.044715, ops.power(t, 3))))
        return ops.multiply(ops.multiply(0.5, t), ops.add(1.0, ops.tanh(inner)))
    return ops.multiply(ops.multiply(0.5, t), ops.add(1.0, _erf(ops.multiply(t, 1.0 / math.sqrt(2.0)))))


_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf(t):
    """erf by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7), odd-extended from x >= 0 as
    s·f(s·t) with a constant sign s (1 at 0), so erf'(0) is f'(0) ≈ 2/√π, not sign'·f = 0."""
    s = ops.where(ops.less(t, 0), -1.0, 1.0)
    a = ops.multiply(s, t)
    k = ops.divide(1.0, ops.add(1.0, ops.multiply(_ERF_P, a)))
    poly = 0.0
    for c in reversed(_ERF_A):
        poly = ops.multiply(ops.add(poly, c), k)
    return ops.multiply(s, ops.subtract(1.0, ops.multiply(poly, ops.exp(ops.negative(ops.square(a))))))


def _shifted(x, axis: int):
    """x minus its (gradient-stopped) maximum along `axis`, the stable softmax input."""
    t = _float(x)
    m = ops.stop_gradient(ops.max(t, axis=axis, keepdims=True))
    m = ops.where(ops.equal(ops.abs(m), float("inf")), 0.0, m)
    return ops.subtract(t, m)


def softmax(x, axis: int = -1):
    e = ops.exp(_shifted(x, axis))
    return ops.divide(e, ops.sum(e, axis=axis, keepdims=True))


def log_softmax(x, axis: int = -1):
    z = _shifted(x, axis)
    return ops.subtract(z, ops.log(ops.sum(ops.exp(z), axis=axis, keepdims=True)))


def linear(x, w, b=None):
    """x @ w (+ b), with w of shape (in_features, out_features), as Dense stores it."""
    y = ops.matmul(x, w)
    return y if b is None else ops.add(y, b)


def dropout(x, rate: float, training: bool = True):
    """Zero each element with probability `rate` and scale the rest by 1/(1-rate) (inverted
    dropout), drawing the mask from kn.random in the graph, so every compiled call differs."""
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"dropout rate must be in [0, 1], got {rate}")
    t = _float(x)
    if not training or rate == 0.0:
        return t
    if rate == 1.0:
        return ops.zeros_like(t)
    keep = ops.greater_equal(krandom.uniform(t.shape, dtype=t.dtype), rate)
    return ops.where(keep, ops.multiply(t, 1.0 / (1.0 - rate)), 0.0)


ACTIVATIONS = {"relu": relu, "leaky_relu": leaky_relu, "sigmoid": sigmoid, "tanh": tanh,
               "softplus": softplus, "gelu": gelu, "softmax": softmax, "log_softmax": log_softmax,
               "linear": None, None: None}


def activation(name_or_fn):
    """An activation given by name (Keras style) or as a callable; None means identity."""
    if callable(name_or_fn):
        return name_or_fn
    if name_or_fn not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name_or_fn!r}; known: "
                         f"{', '.join(k for k in ACTIVATIONS if k)} or a callable")
    return ACTIVATIONS[name_or_fn]
