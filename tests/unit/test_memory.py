"""Memory planning: Variables updated in place where safe (and only there), temps sharing
arena space by liveness, and `.memory()` reporting both."""
from __future__ import annotations

import numpy as np

import kiln as kn


def test_sgd_step_updates_variables_in_place() -> None:
    w = kn.Variable(np.ones((4, 3), np.float32))
    b = kn.Variable(np.zeros(3, np.float32))

    @kn.jit
    def step(x):
        with kn.GradientTape() as tape:
            loss = ((x @ w + b) ** 2).sum()
        dw, db = tape.gradient(loss, [w, b])
        w.assign_sub(0.01 * dw)
        b.assign_sub(0.01 * db)
        return loss

    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    lowered = step.lower(x)
    # w's update is fused into the dW matmul and written in place; b's is kept apart because a
    # later kernel recomputes x @ w + b from the old b
    assert lowered.memory()["inplace_assigns"] >= 1
    assert lowered.as_kernels().count("_assign") <= 1
    w0, b0 = w.numpy(), b.numpy()
    step(x)
    y = x @ w0 + b0
    np.testing.assert_allclose(w.numpy(), w0 - 0.01 * x.T @ (2 * y), rtol=1e-6)
    np.testing.assert_allclose(b.numpy(), b0 - 0.01 * (2 * y).sum(0), rtol=1e-6)


def test_update_reading_other_elements_is_not_in_place() -> None:
    """v[i] = v[n-1-i] + 1 must read the old v everywhere: a copy is kept."""
    v = kn.Variable(np.arange(6, dtype=np.float32))

    @kn.jit
    def flip():
        v.assign(v[::-1] + 1)

    assert flip.lower().memory()["inplace_assigns"] == 0
    flip()
    np.testing.assert_array_equal(v.numpy(), np.arange(6, dtype=np.float32)[::-1] + 1)


def test_swapping_variables_stays_correct() -> None:
    a = kn.Variable(np.array([1.0, 2.0], np.float32))
    b = kn.Variable(np.array([3.0, 4.0], np.float32))

    @kn.jit
    def swap():
        a_old = a.value
        a.assign(b * 2)
        b.assign(a_old)

    swap()
    np.testing.assert_array_equal(a.numpy(), [6.0, 8.0])
    np.testing.assert_array_equal(b.numpy(), [1.0, 2.0])


def test_temps_share_the_arena() -> None:
    @kn.jit
    def chain(x):
        for _ in range(6):
            x = kn.exp(-(x @ x.T).sum(axis=1, keepdims=True) * 1e-3) * x  # each step materialises
        return x

    x = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    mem = chain.lower(x).memory()
    assert mem["peak_live_bytes"] <= mem["arena_bytes"] < mem["temp_bytes"]
    want = x.astype(np.float64)
    for _ in range(6):
        want = np.exp(-(want @ want.T).sum(axis=1, keepdims=True) * 1e-3) * want
    np.testing.assert_allclose(np.asarray(chain(x)), want, rtol=1e-4)
