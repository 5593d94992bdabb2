"""kn.nn.dropout: identity when not training, inverted-dropout statistics, fresh masks per compiled call,
seeded reproducibility, the rate edge cases and validation."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn
from .helpers import MODES, np_of, run

X = np.ones((200, 500), dtype=np.float32)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_not_training_is_identity(mode, rate) -> None:
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    y = run(mode, kn.nn.dropout, x, rate=rate, training=False)
    assert y.dtype == kn.float32
    np.testing.assert_array_equal(np_of(y), x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_training_zeroes_rate_fraction_and_scales_survivors(mode, rate) -> None:
    y = np_of(run(mode, kn.nn.dropout, X, rate=rate, training=True))
    assert y.shape == X.shape and y.dtype == np.float32
    zero = y == 0
    n = X.size
    assert abs(zero.mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    np.testing.assert_allclose(y[~zero], 1.0 / (1.0 - rate), rtol=1e-6)
    sd_mean = np.sqrt(rate / (1 - rate) / n)  # std of the mean of the scaled Bernoulli
    assert abs(y.mean() - 1.0) < 5 * sd_mean  # expectation preserved


def test_default_is_training() -> None:
    y = np_of(kn.nn.dropout(X[:10], 0.5))
    assert (y == 0).any() and (y == 2.0).any()


def test_compiled_calls_draw_fresh_masks() -> None:
    f = kn.jit(lambda x: kn.nn.dropout(x, 0.5, training=True))
    a, b = np_of(f(X[:20])), np_of(f(X[:20]))
    assert f.trace_count == 1
    assert not np.array_equal(a, b)
    assert abs((a == 0).mean() - 0.5) < 0.05 and abs((b == 0).mean() - 0.5) < 0.05


def test_two_dropouts_in_one_function_differ() -> None:
    f = kn.jit(lambda x: (kn.nn.dropout(x, 0.5), kn.nn.dropout(x, 0.5)))
    a, b = f(X[:20])
    assert not np.array_equal(np_of(a), np_of(b))


@pytest.mark.parametrize("mode", MODES)
def test_seed_reproducibility(mode) -> None:
    fn = kn.nn.dropout if mode == "eager" else kn.jit(lambda x, rate: kn.nn.dropout(x, rate), static_argnums=1)
    kn.random.seed(123)
    a, a2 = np_of(fn(X[:20], 0.4)), np_of(fn(X[:20], 0.4))
    kn.random.seed(123)
    b, b2 = np_of(fn(X[:20], 0.4)), np_of(fn(X[:20], 0.4))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a, a2)
    kn.random.seed(124)
    assert not np.array_equal(np_of(fn(X[:20], 0.4)), a)


def test_same_seed_same_mask_eager_and_compiled() -> None:
    f = kn.jit(lambda x: kn.nn.dropout(x, 0.5))
    kn.random.seed(7)
    eager = np_of(kn.nn.dropout(X[:8], 0.5))
    kn.random.seed(7)
    np.testing.assert_array_equal(np_of(f(X[:8])), eager)


@pytest.mark.parametrize("mode", MODES)
def test_gradient_is_the_scaled_mask(mode) -> None:
    x = np.random.default_rng(1).uniform(1.0, 2.0, size=(30, 40))
    w = np.random.default_rng(2).normal(size=x.shape)
    fn = kn.grad(lambda t: kn.sum(kn.nn.dropout(t, 0.25) * w))
    fn = fn if mode == "eager" else kn.jit(fn)
    kn.random.seed(5)
    y = np_of(kn.nn.dropout(x, 0.25))
    kn.random.seed(5)
    g = np_of(fn(x))
    np.testing.assert_allclose(g, w * y / x, rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_rate_zero_and_one(mode) -> None:
    x = np.random.default_rng(3).normal(size=(6, 7)).astype(np.float32)
    np.testing.assert_array_equal(np_of(run(mode, kn.nn.dropout, x, rate=0.0, training=True)), x)
    y = run(mode, kn.nn.dropout, x, rate=1.0, training=True)
    assert y.shape == x.shape and y.dtype == kn.float32
    np.testing.assert_array_equal(np_of(y), np.zeros_like(x))
    g = run(mode, kn.grad(lambda t: kn.sum(kn.nn.dropout(t, 1.0) * 3.0)), x.astype(np.float64))
    np.testing.assert_array_equal(np_of(g), 0.0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan")])
def test_invalid_rate_raises(mode, rate) -> None:
    with pytest.raises(ValueError):
        run(mode, kn.nn.dropout, X[:2], rate=rate, training=True)
    with pytest.raises(ValueError):
        run(mode, kn.nn.dropout, X[:2], rate=rate, training=False)


def test_dropout_layer_respects_training_flag() -> None:
    layer = kn.nn.Dropout(0.5)
    np.testing.assert_array_equal(np_of(layer(X[:4])), X[:4])  # training defaults to False
    np.testing.assert_array_equal(np_of(layer(X[:4], training=False)), X[:4])
    y = np_of(layer(X[:20], training=True))
    assert set(np.unique(y)) == {0.0, 2.0}
    assert layer.variables == []
