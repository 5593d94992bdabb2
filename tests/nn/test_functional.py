"""kn.nn functional ops against float64 NumPy references, values and gradients, eager and in kn.jit."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import kiln as kn
from .helpers import (MODES, central_diff, np_of, ref_gelu, ref_gelu_tanh, ref_leaky_relu, ref_log_softmax,
                      ref_relu, ref_sigmoid, ref_softmax, ref_softplus, run)

F = kn.nn

# (id, kiln function, float64 reference)
ACTIVATIONS = [
    ("relu", F.relu, ref_relu),
    ("leaky_relu", F.leaky_relu, ref_leaky_relu),
    ("leaky_relu_0.2", lambda x: F.leaky_relu(x, 0.2), lambda x: ref_leaky_relu(x, 0.2)),
    ("sigmoid", F.sigmoid, ref_sigmoid),
    ("tanh", F.tanh, np.tanh),
    ("softplus", F.softplus, ref_softplus),
    ("gelu", F.gelu, ref_gelu),
    ("gelu_tanh", lambda x: F.gelu(x, approximate=True), ref_gelu_tanh),
]
ACT_IDS = [a[0] for a in ACTIVATIONS]


def _inputs(shape=(4, 6), seed=0, scale=3.0) -> np.ndarray:
    """Random values kept away from 0 (the kink of relu / leaky_relu)."""
    x = np.random.default_rng(seed).uniform(-scale, scale, size=shape)
    return np.where(np.abs(x) < 0.05, 0.5, x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=ACT_IDS)
def test_activation_values_float32(mode, name, fn, ref) -> None:
    x = _inputs(scale=5.0)
    x[0, :4] = [0.0, -1e-3, 1e-3, 8.0]
    x32 = x.astype(np.float32)
    y = run(mode, fn, x32)
    assert y.shape == x.shape and y.dtype == kn.float32
    np.testing.assert_allclose(np_of(y), ref(x32.astype(np.float64)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=ACT_IDS)
def test_activation_values_float64(name, fn, ref) -> None:
    x = _inputs(seed=1, scale=6.0)
    y = fn(x)
    assert y.dtype == kn.float64
    np.testing.assert_allclose(np_of(y), ref(x), atol=1e-6 if name == "gelu" else 1e-12, rtol=1e-10)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,fn,ref", ACTIVATIONS, ids=ACT_IDS)
def test_activation_gradient_matches_finite_differences(mode, name, fn, ref) -> None:
    x = _inputs(shape=(3, 5), seed=2)
    w = np.random.default_rng(3).normal(size=x.shape)
    g = run(mode, kn.grad(lambda t: kn.sum(fn(t) * w)), x)
    assert g.dtype == kn.float64
    h = 1e-6  # elementwise: one perturbation of every element at once
    fd = w * (np_of(fn(x + h)) - np_of(fn(x - h))) / (2 * h)
    np.testing.assert_allclose(np_of(g), fd, rtol=1e-5, atol=1e-7)


def test_relu_gradient_at_zero_is_zero_and_integers_become_float() -> None:
    g = kn.grad(lambda t: kn.sum(F.relu(t)))(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(np_of(g), [0.0, 0.0, 1.0])
    y = F.relu(np.array([-2, 3], dtype=np.int32))
    assert y.dtype == kn.float64  # NumPy's int32 -> float promotion
    np.testing.assert_array_equal(np_of(y), [0.0, 3.0])


def test_softplus_and_sigmoid_extremes_are_finite() -> None:
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32)
    np.testing.assert_allclose(np_of(F.softplus(x)), [0.0, np.exp(-50.0), np.log(2.0), 50.0, 1000.0], rtol=1e-6)
    np.testing.assert_allclose(np_of(F.sigmoid(x)), [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-7)
    for fn in (F.softplus, F.sigmoid, F.gelu, lambda t: F.gelu(t, approximate=True)):
        g = kn.grad(lambda t: kn.sum(fn(t)))(x)
        assert np.all(np.isfinite(np_of(g)))


# --- softmax / log_softmax ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("axis", [-1, 0, 1, 2])
def test_softmax_and_log_softmax_values(mode, axis) -> None:
    x = np.random.default_rng(4).normal(scale=3.0, size=(2, 3, 4))
    sm = run(mode, F.softmax, x.astype(np.float32), axis=axis)
    lsm = run(mode, F.log_softmax, x.astype(np.float32), axis=axis)
    np.testing.assert_allclose(np_of(sm), ref_softmax(x, axis), atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(np_of(lsm), ref_log_softmax(x, axis), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(np_of(sm).sum(axis=axis), 1.0, rtol=1e-6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays(np.float64, (3, 4), elements=st.floats(-80, 80)), st.floats(-500, 500))
def test_softmax_properties(x, shift) -> None:
    """Shift invariance, rows summing to one, and log_softmax == log(softmax)."""
    sm, lsm = np_of(F.softmax(x)), np_of(F.log_softmax(x))
    np.testing.assert_allclose(sm, ref_softmax(x), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(np_of(F.softmax(x + shift)), sm, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(sm.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(lsm, ref_log_softmax(x), rtol=1e-10, atol=1e-10)
    assert np.all(lsm <= 1e-12)


def test_softmax_default_axis_is_last() -> None:
    x = np.random.default_rng(5).normal(size=(3, 4))
    np.testing.assert_allclose(np_of(F.softmax(x)), ref_softmax(x, -1), rtol=1e-12)
    np.testing.assert_allclose(np_of(F.log_softmax(x)), ref_log_softmax(x, -1), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_gradients_match_finite_differences(mode, which, axis) -> None:
    fn = getattr(F, which)
    x = np.random.default_rng(6).normal(size=(3, 4))
    w = np.random.default_rng(7).normal(size=(3, 4))

    def loss(t):
        return kn.sum(fn(t, axis=axis) * w)
    g = run(mode, kn.grad(loss), x)
    np.testing.assert_allclose(np_of(g), central_diff(loss, x), rtol=1e-5, atol=1e-7)


# --- linear ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("xshape", [(4, 3), (2, 4, 3), (3,)])
def test_linear_values(mode, with_bias, xshape) -> None:
    rng = np.random.default_rng(8)
    x, w, b = rng.normal(size=xshape), rng.normal(size=(3, 5)), rng.normal(size=(5,))
    args = (x, w, b) if with_bias else (x, w)
    y = run(mode, F.linear, *(a.astype(np.float32) for a in args))
    ref = x @ w + (b if with_bias else 0.0)
    assert y.shape == ref.shape
    np.testing.assert_allclose(np_of(y), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_linear_gradients_match_finite_differences(mode) -> None:
    rng = np.random.default_rng(9)
    x, w, b, c = rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), rng.normal(size=(2,)), rng.normal(size=(4, 2))

    def loss(x, w, b):
        return kn.sum(F.linear(x, w, b) * c)
    gx, gw, gb = run(mode, kn.grad(loss, argnums=(0, 1, 2)), x, w, b)
    np.testing.assert_allclose(np_of(gx), central_diff(lambda t: loss(t, w, b), x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np_of(gw), central_diff(lambda t: loss(x, t, b), w), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np_of(gb), central_diff(lambda t: loss(x, w, t), b), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np_of(gw), x.T @ c, rtol=1e-12)


def test_linear_shape_mismatch_raises() -> None:
    with pytest.raises(kn.ShapeError):
        F.linear(np.ones((4, 3)), np.ones((2, 5)))


# --- numerical stability at ±1000 ------------------------------------------------------------------

BIG = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, -1000.0]], dtype=np.float32)


@pytest.mark.parametrize("mode", MODES)
def test_softmax_of_huge_logits_is_finite_and_correct(mode) -> None:
    sm = np_of(run(mode, F.softmax, BIG))
    lsm = np_of(run(mode, F.log_softmax, BIG))
    np.testing.assert_allclose(sm, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]], atol=1e-7)
    np.testing.assert_allclose(lsm, [[0, -2000, -1000], [-np.log(3)] * 3, [-np.log(2), -np.log(2), -2000 - np.log(2)]],
                               rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(sm)) and np.all(np.isfinite(lsm))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
def test_softmax_of_huge_logits_has_finite_gradients(mode, which) -> None:
    fn = getattr(F, which)
    w = np.arange(9, dtype=np.float32).reshape(3, 3)
    g = np_of(run(mode, kn.grad(lambda t: kn.sum(fn(t) * w)), BIG))
    assert np.all(np.isfinite(g))
    x = BIG.astype(np.float64)
    s = ref_softmax(x)
    if which == "softmax":  # J^T w = s * (w - <s, w>)
        ref = s * (w - np.sum(s * w, axis=-1, keepdims=True))
    else:  # w - s * sum(w)
        ref = w - s * np.sum(w, axis=-1, keepdims=True)
    np.testing.assert_allclose(g, ref, atol=1e-5)


def test_softmax_with_minus_inf_entries() -> None:
    x = np.array([[0.0, -np.inf, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(np_of(F.softmax(x)), ref_softmax(np.array([[0.0, -np.inf, 1.0]])), rtol=1e-6)


# --- activations by name in Dense --------------------------------------------------------------------

def test_unknown_activation_name_raises() -> None:
    with pytest.raises(ValueError, match="unknown activation"):
        kn.nn.Dense(3, activation="swishy")
