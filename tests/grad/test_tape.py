"""kn.GradientTape: TensorFlow semantics, eagerly (recorded eager ops) and inside kn.jit."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn


def _chain(x, w1, b1, w2, b2, inside: bool):
    """y1 = w1*x + b1, y2 = w2*y1 + b2; gradients asked after the block, or inside it."""
    with kn.GradientTape(persistent=True) as tape:
        y1 = w1 * x + b1
        y2 = w2 * y1 + b2
        if inside:
            return tape.gradient(y2, y1), tape.gradient(y1, w1), tape.gradient(y2, w1)
    return tape.gradient(y2, y1), tape.gradient(y1, w1), tape.gradient(y2, w1)


@pytest.mark.parametrize("inside", [False, True])
@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_chain_rule_example(mode: str, inside: bool) -> None:
    w1, b1, w2, b2 = (kn.Variable(v) for v in (2.0, 1.0, 2.0, 1.0))
    x = kn.asarray(1.0)
    if mode == "eager":
        got = _chain(x, w1, b1, w2, b2, inside)
    else:
        got = kn.jit(lambda x: _chain(x, w1, b1, w2, b2, inside))(x)
    assert [float(g) for g in got] == [2.0, 1.0, 2.0]  # dy2/dy1, dy1/dw1, dy2/dw1


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_non_persistent_tape_answers_once(mode: str) -> None:
    w = kn.Variable(3.0)

    def f(x):
        with kn.GradientTape() as tape:
            y = w * x
        g = tape.gradient(y, w)
        with pytest.raises(RuntimeError, match="non-persistent"):
            tape.gradient(y, w)
        return g
    fn = f if mode == "eager" else kn.jit(f)
    assert float(fn(kn.asarray(2.0))) == 2.0


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_unconnected_stop_gradient_and_integer_sources(mode: str) -> None:
    w, u = kn.Variable(3.0), kn.Variable(5.0)
    k = kn.Variable(np.int32(4))

    def f(x):
        with kn.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = w * x + kn.stop_gradient(u * x) + kn.astype(k * 2, kn.float32)
        gw, gu, gk = tape.gradient(y, [w, u, k])
        gx = tape.gradient(y, x)
        zero = tape.gradient(y, u, unconnected_gradients="zero")
        return gw, gu, gk, gx, zero
    fn = f if mode == "eager" else kn.jit(f)
    gw, gu, gk, gx, zero = fn(kn.asarray(2.0))
    assert float(gw) == 2.0 and gu is None and gk is None and float(gx) == 3.0
    assert float(zero) == 0.0


def test_only_watched_arrays_and_trainable_variables() -> None:
    frozen = kn.Variable(2.0, trainable=False)
    x, z = kn.asarray(3.0), kn.asarray(4.0)
    with kn.GradientTape(persistent=True) as tape:
        y = frozen * x * z
    assert tape.gradient(y, [frozen, x, z]) == [None, None, None]
    with kn.GradientTape(persistent=True) as tape:
        tape.watch([frozen, x])
        y = frozen * x * z
    gf, gx, gz = tape.gradient(y, [frozen, x, z])
    assert (float(gf), float(gx), gz) == (12.0, 8.0, None)
    with kn.GradientTape(watch_accessed_variables=False) as tape:
        w = kn.Variable(1.0)
        y = w * x
    assert tape.gradient(y, w) is None


def test_integer_array_source_gives_none() -> None:
    n = kn.asarray(np.array([1, 2], np.int64))
    with kn.GradientTape() as tape:
        tape.watch(n)
        y = kn.sum(kn.astype(n, kn.float64) * 2.0)
    assert tape.gradient(y, n) is None


def test_nonscalar_targets_sum_and_structures_are_kept() -> None:
    w = kn.Variable(np.array([1.0, 2.0, 3.0]))
    b = kn.Variable(np.array(0.5))
    with kn.GradientTape() as tape:
        y = w * w + b
    g = tape.gradient(y, {"w": w, "b": b})
    np.testing.assert_allclose(np.asarray(g["w"]), [2.0, 4.0, 6.0])
    assert float(g["b"]) == 3.0


def test_output_gradients_seed() -> None:
    x = kn.asarray(np.array([1.0, 2.0]))
    with kn.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=np.array([10.0, 100.0]))
    np.testing.assert_allclose(np.asarray(g), [20.0, 400.0])


def test_nested_tapes_give_second_derivatives() -> None:
    x = kn.asarray(3.0)
    with kn.GradientTape() as outer:
        outer.watch(x)
        with kn.GradientTape() as inner:
            inner.watch(x)
            y = x ** 3
        dy = inner.gradient(y, x)
    assert float(dy) == 27.0
    assert float(outer.gradient(dy, x)) == 18.0


def test_nested_tapes_inside_jit() -> None:
    w = kn.Variable(np.array([1.0, -2.0]))

    @kn.jit
    def f():
        with kn.GradientTape() as outer:
            with kn.GradientTape() as inner:
                y = kn.sum(kn.sin(w))
            g = inner.gradient(y, w)
            s = kn.sum(g * g)
        return g, outer.gradient(s, w)
    g, h = f()
    np.testing.assert_allclose(np.asarray(g), np.cos([1.0, -2.0]))
    np.testing.assert_allclose(np.asarray(h), -2 * np.cos([1.0, -2.0]) * np.sin([1.0, -2.0]))


def test_variable_assigned_while_recording() -> None:
    """Each read of a Variable is a snapshot; gradients add over the reads (like TF)."""
    v = kn.Variable(2.0)
    with kn.GradientTape() as tape:
        a = v * 3.0
        v.assign(5.0)
        y = a + v * v
    assert float(tape.gradient(y, v)) == 3.0 + 2 * 5.0


def test_training_loop_with_tape_and_variables() -> None:
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=(16, 2)), rng.normal(size=(16, 1))
    w, b = kn.Variable(np.zeros((2, 1))), kn.Variable(np.zeros(1))
    want_w, want_b = np.zeros((2, 1)), np.zeros(1)
    for _ in range(5):
        with kn.GradientTape() as tape:
            loss = kn.mean((x @ w + b - t) ** 2)
        gw, gb = tape.gradient(loss, [w, b])
        w.assign_sub(0.1 * gw)
        b.assign_sub(0.1 * gb)
        r = 2 * (x @ want_w + want_b - t) / 16
        want_w, want_b = want_w - 0.1 * x.T @ r, want_b - 0.1 * r.sum(0)
    np.testing.assert_allclose(w.numpy(), want_w, rtol=1e-10)
    np.testing.assert_allclose(b.numpy(), want_b, rtol=1e-10)


def test_watch_refuses_numpy_arrays() -> None:
    with kn.GradientTape() as tape, pytest.raises(TypeError, match="asarray"):
        tape.watch(np.ones(2))


def test_target_computed_outside_the_tape_warns(caplog) -> None:
    x = kn.asarray(1.0)
    y = x * 2.0
    with kn.GradientTape() as tape:
        tape.watch(x)
    with caplog.at_level("WARNING", logger="kiln.autodiff"):
        assert tape.gradient(y, x) is None
    assert "not computed by kiln ops this tape recorded" in caplog.text


def test_eager_tape_sees_inside_a_jitted_call() -> None:
    """TensorFlow semantics: a compiled function called under a tape is differentiable."""
    f = kn.jit(lambda x, w: kn.tanh(x @ w).sum())
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 6
    w = kn.Variable(np.full((3, 2), 0.1, np.float32))
    with kn.GradientTape() as tape:
        y = f(x, w)
    got = tape.gradient(y, w)
    t = np.tanh(x @ w.numpy())
    np.testing.assert_allclose(np.asarray(got), x.T @ (1 - t ** 2), rtol=1e-5)
    np.testing.assert_allclose(float(y), t.sum(), rtol=1e-5)
