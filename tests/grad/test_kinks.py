"""Derivatives at kinks, ties and thresholds: each function against its closed form (first
and, where the function is smooth there, second order), eagerly and under kn.jit, in float32
and float64. The values are PyTorch's and JAX's; where those two differ the docstring of the
kiln function names the choice."""
from __future__ import annotations

import math

import numpy as np
import pytest

import kiln as kn
from kiln.frontend.nn import functional as F
from kiln.frontend.nn import losses as L

SIG0 = 0.5
PHI0 = 1.0 / math.sqrt(2.0 * math.pi)  # the standard normal density at 0


def _loss(fn, **kw):
    return lambda x: fn(kn.reshape(x, (1,)), np.zeros(1, np.float32), **kw)


# name: (function of a scalar, point, f'(point), f''(point) or None where f' jumps there)
KINKS = {
    "relu": (F.relu, 0.0, 0.0, 0.0),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), 0.0, 0.2, 0.0),
    "sigmoid": (F.sigmoid, 0.0, 0.25, 0.0),
    "tanh": (F.tanh, 0.0, 1.0, 0.0),
    "softplus": (F.softplus, 0.0, SIG0, 0.25),
    "softplus_big": (F.softplus, 30.0, 1.0, None),
    "softplus_tiny": (F.softplus, -30.0, math.exp(-30.0), None),
    "gelu": (F.gelu, 0.0, 0.5, 2 * PHI0),
    "gelu_tanh": (lambda x: F.gelu(x, approximate=True), 0.0, 0.5, 2 * PHI0),
    "softmax": (lambda x: F.softmax(kn.stack([x, kn.zeros_like(x)]))[0], 0.0, 0.25, 0.0),
    "log_softmax": (lambda x: F.log_softmax(kn.stack([x, kn.zeros_like(x)]))[0], 0.0, 0.5, -0.25),
    "logsumexp_tie": (lambda x: kn.logsumexp(kn.stack([x, kn.zeros_like(x)])), 0.0, 0.5, 0.25),
    "logaddexp_tie": (lambda x: kn.logaddexp(x, 0.0), 0.0, 0.5, 0.25),
    "logaddexp_far": (lambda x: kn.logaddexp(x, 0.0), -40.0, math.exp(-40.0), None),
    "abs": (kn.abs, 0.0, 0.0, 0.0),
    "sign": (kn.sign, 0.0, 0.0, 0.0),
    "sqrt": (kn.sqrt, 0.0, math.inf, None),
    "maximum_tie": (lambda x: kn.maximum(x, 0.0), 0.0, 0.5, 0.0),
    "minimum_tie": (lambda x: kn.minimum(x, 0.0), 0.0, 0.5, 0.0),
    "max_ties": (lambda x: kn.max(kn.stack([x, x, kn.zeros_like(x), x - 1])), 0.0, 2 / 3, 0.0),
    "min_ties": (lambda x: kn.min(kn.stack([x, kn.zeros_like(x), x + 1])), 0.0, 0.5, 0.0),
    "clip_low": (lambda x: kn.clip(x, 0.0, 1.0), 0.0, 1.0, 0.0),
    "clip_high": (lambda x: kn.clip(x, 0.0, 1.0), 1.0, 1.0, 0.0),
    "clip_out": (lambda x: kn.clip(x, 0.0, 1.0), 1.5, 0.0, 0.0),
    "norm2": (lambda x: kn.norm(kn.stack([x, x])), 0.0, 0.0, None),
    "norm3": (lambda x: kn.norm(kn.stack([x, x]), 3), 0.0, 0.0, None),
    "norm1": (lambda x: kn.norm(kn.stack([x, x]), 1), 0.0, 0.0, None),
    "norm_inf": (lambda x: kn.norm(kn.stack([x, x]), np.inf), 0.0, 0.0, None),
    "norm_fro": (lambda x: kn.norm(kn.reshape(kn.stack([x, x, x, x]), (2, 2)), "fro"), 0.0, 0.0, None),
    "norm2_away": (lambda x: kn.norm(kn.stack([x, 4.0 + kn.zeros_like(x)])), 3.0, 0.6, 16 / 125),
    "prod_zero": (lambda x: kn.prod(kn.stack([x, 2.0 + kn.zeros_like(x)])), 0.0, 2.0, 0.0),
    "std_constant": (lambda x: kn.std(kn.stack([x, kn.zeros_like(x)])), 0.0, 0.0, None),
    "huber_zero": (_loss(L.huber), 0.0, 0.0, 1.0),
    "huber_delta": (_loss(L.huber), 1.0, 1.0, 1.0),
    "huber_delta_neg": (_loss(L.huber, delta=2.0), -2.0, -2.0, 1.0),
    "huber_beyond": (_loss(L.huber), 3.0, 1.0, 0.0),
    "mse_zero": (_loss(L.mse), 0.0, 0.0, 2.0),
    "bce_logits": (lambda x: L.binary_cross_entropy(kn.reshape(x, (1,)), np.ones(1, np.float32),
                                                    from_logits=True), 0.0, SIG0 - 1.0, 0.25),
    "bce_logits_far": (lambda x: L.binary_cross_entropy(kn.reshape(x, (1,)), np.ones(1, np.float32),
                                                        from_logits=True), 30.0, -math.exp(-30.0), None),
}


APPROXIMATE = {"gelu": 1e-5}  # erf is a polynomial fit (error 1.5e-7), so is its derivative


def _check(got, want, dtype, tol) -> None:
    np.testing.assert_allclose(float(got), want, rtol=tol, atol=tol if math.isfinite(want) else 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("name", sorted(KINKS))
def test_derivative_at_kink(name: str, compiled: bool, dtype) -> None:
    fn, x0, d1, d2 = KINKS[name]
    x = dtype(x0)
    first = kn.grad(fn)
    second = kn.grad(kn.grad(fn))
    if compiled:
        first, second = kn.jit(first), kn.jit(second)
    tol = APPROXIMATE.get(name, 1e-5 if dtype == np.float32 else 1e-9)
    _check(first(x), d1, dtype, tol)
    if d2 is not None:
        _check(second(x), d2, dtype, tol)


def test_every_named_activation_is_checked_at_its_kink() -> None:
    names = {k for k, f in F.ACTIVATIONS.items() if callable(f)}
    assert names <= set(KINKS), names - set(KINKS)


@pytest.mark.parametrize("x", [-50.0, -3.0, -1e-3, 0.0, 1e-3, 3.0, 50.0])
def test_softplus_derivatives_are_sigmoids_everywhere(x: float) -> None:
    s = 1.0 / (1.0 + math.exp(-x))
    ds = math.exp(-abs(x)) / (1.0 + math.exp(-abs(x))) ** 2  # s(1 - s) without cancellation
    np.testing.assert_allclose(float(kn.grad(F.softplus)(x)), s, rtol=1e-6)
    np.testing.assert_allclose(float(kn.grad(kn.grad(F.softplus))(np.float64(x))), ds, rtol=1e-12)
    np.testing.assert_allclose(float(F.softplus(np.float64(x))), math.log1p(math.exp(-abs(x))) + max(x, 0.0),
                               rtol=1e-14)


def test_logaddexp_matches_numpy_values_and_gradients() -> None:
    a = np.array([-np.inf, -np.inf, np.inf, 0.0, 1.0, -800.0, 700.0, 3.0])
    b = np.array([-np.inf, 2.0, np.inf, 0.0, 1.0, -800.0, 2.0, -np.inf])
    np.testing.assert_allclose(np.asarray(kn.logaddexp(a, b)), np.logaddexp(a, b), rtol=1e-14)
    fin = np.isfinite(a) & np.isfinite(b)
    ga, gb = kn.grad(lambda p, q: kn.sum(kn.logaddexp(p, q)), argnums=(0, 1))(a[fin], b[fin])
    want = 1.0 / (1.0 + np.exp(b[fin] - a[fin]))
    np.testing.assert_allclose(np.asarray(ga), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(gb), 1.0 / (1.0 + np.exp(a[fin] - b[fin])), rtol=1e-12)


def test_clip_gradient_flows_to_the_bound_outside_the_interval() -> None:
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])
    glo, ghi = kn.grad(lambda lo, hi: kn.sum(kn.clip(x, lo, hi)), argnums=(0, 1))(0.0, 1.0)
    assert (float(glo), float(ghi)) == (1.0, 1.0)
    np.testing.assert_array_equal(np.asarray(kn.clip(x, 1.0, 0.0)), np.clip(x, 1.0, 0.0))
