"""Acceptance: a compiled Adam train step over a 20-32-16-5 ReLU MLP with sparse softmax
cross-entropy (float32) matches a float64 NumPy implementation of the same step — forward,
hand-written backward, Adam update — to 1e-4 relative over several steps, loss and every Variable."""
from __future__ import annotations

import numpy as np

import kiln as kn

SIZES = (20, 32, 16, 5)
BATCH, STEPS = 64, 3
LR, B1, B2, EPS = 1e-2, 0.9, 0.999, 1e-7


def reference_step(params: list[np.ndarray], state: dict, x: np.ndarray, y: np.ndarray) -> float:
    """One training step in float64: returns the loss before the update, updates params in place."""
    (w1, b1), (w2, b2), (w3, b3) = zip(params[0::2], params[1::2])
    # forward
    z1 = x @ w1 + b1
    h1 = np.maximum(z1, 0)
    z2 = h1 @ w2 + b2
    h2 = np.maximum(z2, 0)
    z3 = h2 @ w3 + b3
    zmax = z3.max(axis=1, keepdims=True)
    logp = z3 - zmax - np.log(np.exp(z3 - zmax).sum(axis=1, keepdims=True))
    n = len(x)
    loss = -logp[np.arange(n), y].mean()
    # backward
    dz3 = np.exp(logp)
    dz3[np.arange(n), y] -= 1.0
    dz3 /= n
    dw3, db3 = h2.T @ dz3, dz3.sum(0)
    dz2 = (dz3 @ w3.T) * (z2 > 0)
    dw2, db2 = h1.T @ dz2, dz2.sum(0)
    dz1 = (dz2 @ w2.T) * (z1 > 0)
    dw1, db1 = x.T @ dz1, dz1.sum(0)
    grads = [dw1, db1, dw2, db2, dw3, db3]
    # Adam (Kingma & Ba, Algorithm 1, eps added to the bias-corrected root)
    state["t"] += 1
    t = state["t"]
    for i, (p, g) in enumerate(zip(params, grads)):
        m = state["m"][i] = B1 * state["m"][i] + (1 - B1) * g
        v = state["v"][i] = B2 * state["v"][i] + (1 - B2) * g * g
        p -= LR * (m / (1 - B1 ** t)) / (np.sqrt(v / (1 - B2 ** t)) + EPS)
    return float(loss)


def test_compiled_adam_mlp_step_matches_float64_reference() -> None:
    kn.random.seed(0)
    net = kn.nn.Sequential([kn.nn.Dense(SIZES[1], activation="relu"), kn.nn.Dense(SIZES[2]), kn.nn.relu,
                            kn.nn.Dense(SIZES[3])])
    opt = kn.optim.Adam(LR, beta1=B1, beta2=B2, eps=EPS)

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.sparse_softmax_cross_entropy(net(x, training=True), y)
        variables = net.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(BATCH, SIZES[0])).astype(np.float32),
                rng.integers(0, SIZES[3], size=BATCH).astype(np.int32)) for _ in range(STEPS)]
    net(batches[0][0])  # build, then start the reference from the same initial values
    names = list(net.state_dict())
    assert names == [f"layers.{i}.{k}" for i in (0, 1, 3) for k in ("kernel", "bias")]
    params = [v.astype(np.float64) for v in net.state_dict().values()]
    initial = [p.copy() for p in params]
    assert [p.shape for p in params] == [(20, 32), (32,), (32, 16), (16,), (16, 5), (5,)]
    state = {"t": 0, "m": [np.zeros_like(p) for p in params], "v": [np.zeros_like(p) for p in params]}

    for k, (x, y) in enumerate(batches):
        loss = train_step(x, y)
        want = reference_step(params, state, x.astype(np.float64), y)
        np.testing.assert_allclose(float(loss), want, rtol=1e-4, err_msg=f"loss at step {k}")
        for name, got, ref in zip(names, net.state_dict().values(), params):
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6, err_msg=f"{name} after step {k + 1}")
    assert train_step.trace_count == 1
    assert int(opt.iterations.numpy()) == STEPS
    for name, p, p0 in zip(names, params, initial):  # every Variable really trained (Adam steps ~ LR)
        assert np.abs(p - p0).max() > LR, name
