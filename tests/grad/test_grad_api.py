"""kn.grad / kn.value_and_grad: JAX semantics, eagerly and inside kn.jit, to any order."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn

XS = np.array([0.5, 1.0, 2.0, 3.0])


def _both(fn):
    """The function run eagerly and under kn.jit."""
    return [fn, kn.jit(fn)]


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_second_order_polynomial(mode: str) -> None:
    def f(x):
        return x ** 3 - 1 / x
    d2 = kn.grad(kn.grad(f))
    d2 = d2 if mode == "eager" else kn.jit(d2)
    for x in XS:
        np.testing.assert_allclose(float(d2(np.float64(x))), 6 * x - 2 / x ** 3, rtol=1e-12)


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_second_order_tanh(mode: str) -> None:
    d2 = kn.grad(kn.grad(kn.tanh))
    d2 = d2 if mode == "eager" else kn.jit(d2)
    for x in XS - 1.5:
        t = np.tanh(x)
        np.testing.assert_allclose(float(d2(np.float64(x))), -2 * t * (1 - t * t), rtol=1e-10, atol=1e-14)


def test_third_order() -> None:
    d3 = kn.grad(kn.grad(kn.grad(lambda x: kn.sin(x) * x)))
    x = 0.7
    np.testing.assert_allclose(float(d3(np.float64(x))), -3 * np.sin(x) - x * np.cos(x), rtol=1e-10)


def test_value_and_grad_argnums_and_aux() -> None:
    def loss(w, b, x):
        y = x @ w + b
        return kn.sum(y * y), {"pred": y}
    rng = np.random.default_rng(0)
    w, b, x = rng.normal(size=(3, 2)), rng.normal(size=(2,)), rng.normal(size=(4, 3))
    for fn in _both(kn.value_and_grad(loss, argnums=(0, 1), has_aux=True)):
        (val, aux), (gw, gb) = fn(w, b, x)
        y = x @ w + b
        np.testing.assert_allclose(float(val), np.sum(y * y), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(aux["pred"]), y, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(gw), x.T @ (2 * y), rtol=1e-12)
        np.testing.assert_allclose(np.asarray(gb), np.sum(2 * y, axis=0), rtol=1e-12)
    g, aux = kn.grad(loss, has_aux=True)(w, b, x)
    assert np.asarray(g).shape == (3, 2) and set(aux) == {"pred"}


def test_pytree_arguments() -> None:
    params = {"w": np.array([1.0, 2.0]), "layers": [np.array(3.0), np.array([[1.0]])]}

    def f(p):
        return kn.sum(p["w"] ** 2) + p["layers"][0] * kn.sum(p["layers"][1])
    for fn in _both(kn.grad(f)):
        g = fn(params)
        assert set(g) == {"w", "layers"} and isinstance(g["layers"], list)
        np.testing.assert_allclose(np.asarray(g["w"]), [2.0, 4.0])
        np.testing.assert_allclose(float(g["layers"][0]), 1.0)
        np.testing.assert_allclose(np.asarray(g["layers"][1]), [[3.0]])


def test_same_value_twice_differentiates_apart() -> None:
    x = np.array(3.0)
    ga, gb = kn.grad(lambda a, b: a * a * b, argnums=(0, 1))(x, x)
    assert (float(ga), float(gb)) == (18.0, 9.0)


def test_integer_leaves_get_none_and_unconnected_floats_get_zeros() -> None:
    def f(x, n, z):
        return kn.sum(x * n)
    gx, gn, gz = kn.grad(f, argnums=(0, 1, 2))(np.array([1.0, 2.0]), np.array([3, 4]), np.array([5.0]))
    np.testing.assert_allclose(np.asarray(gx), [3.0, 4.0])
    assert gn is None
    np.testing.assert_array_equal(np.asarray(gz), [0.0])


def test_stop_gradient_blocks() -> None:
    for fn in _both(kn.grad(lambda x: x * kn.stop_gradient(x))):
        assert float(fn(np.float64(3.0))) == 3.0


def test_float32_stays_float32_and_python_scalars_work() -> None:
    g = kn.grad(lambda x: kn.sum(kn.exp(x)))(np.zeros(3, np.float32))
    assert np.asarray(g).dtype == np.float32
    assert float(kn.grad(lambda x: x * x)(3.0)) == 6.0


def test_variables_read_inside_are_constants_and_updates_land() -> None:
    v = kn.Variable(np.array([1.0, 2.0]))
    calls = kn.Variable(np.array(0.0))

    def f(x):
        calls.assign_add(1.0)
        return kn.sum(v * x * x)
    for fn in _both(kn.grad(f)):
        np.testing.assert_allclose(np.asarray(fn(np.array([3.0, 4.0]))), [6.0, 16.0])
    assert float(calls.numpy()) == 2.0


def test_grad_of_training_step_inside_jit_updates_variables() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    w = kn.Variable(np.zeros((3, 1)))

    def loss(wv):
        return kn.mean((x @ wv - y) ** 2)

    @kn.jit
    def step():
        g = kn.grad(loss)(w.value)
        w.assign_sub(0.1 * g)
        return loss(w.value)
    losses = [float(step()) for _ in range(20)]
    assert losses[-1] < losses[0]
    want = np.zeros((3, 1))
    for _ in range(20):
        want -= 0.1 * 2 * x.T @ (x @ want - y) / 8
    np.testing.assert_allclose(w.numpy(), want, rtol=1e-10)


def test_non_scalar_output_is_an_error() -> None:
    with pytest.raises(TypeError, match="scalar"):
        kn.grad(lambda x: x * 2)(np.ones(3))


def test_closure_data_is_not_baked_in() -> None:
    """A changed closed-over array gives a new gradient (no stale trace cache)."""
    data = [np.array([1.0, 2.0])]
    g = kn.grad(lambda w: kn.sum(w * data[0]))
    np.testing.assert_allclose(np.asarray(g(np.zeros(2))), [1.0, 2.0])
    data[0] = np.array([5.0, 6.0])
    np.testing.assert_allclose(np.asarray(g(np.zeros(2))), [5.0, 6.0])


def test_mixed_ops_against_finite_differences() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 2))

    def f(a, b):
        h = kn.tanh(a @ b)
        h = kn.concatenate([h, h[:, ::-1, :] ** 2], axis=1)
        return kn.logsumexp(h, axis=-1).sum() + kn.max(h) * kn.norm(b)
    ga, gb = kn.grad(f, argnums=(0, 1))(a, b)

    def ref(a, b):
        h = np.tanh(a @ b)
        h = np.concatenate([h, h[:, ::-1, :] ** 2], axis=1)
        m = h.max(axis=-1, keepdims=True)
        return float(np.sum(np.log(np.exp(h - m).sum(-1)) + m[..., 0]) + h.max() * np.linalg.norm(b))
    for x, g, k in ((a, ga, 0), (b, gb, 1)):
        num = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            hi, lo = x.copy(), x.copy()
            hi[i] += 1e-6
            lo[i] -= 1e-6
            args_hi, args_lo = [a, b], [a, b]
            args_hi[k], args_lo[k] = hi, lo
            num[i] = (ref(*args_hi) - ref(*args_lo)) / 2e-6
        np.testing.assert_allclose(np.asarray(g), num, rtol=1e-5, atol=1e-7)
