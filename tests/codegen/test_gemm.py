"""Matmuls lowered to BLAS calls (kernel IR `gemm`): transposes read in place, batches with
broadcasting, views through reshapes, float64, and fused epilogues — all against NumPy."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn
from kiln.runtime import blas

pytestmark = pytest.mark.skipif(not blas.available(), reason="scipy-openblas32 is not installed")
RNG = np.random.default_rng(0)


def _r(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


K = 20  # deeper than materialize.SHALLOW_DEPTH: shallower products are loops, not BLAS calls
CASES = {
    "plain": (lambda a, b: a @ b, (_r(7, K), _r(K, 3))),
    "a transposed": (lambda a, b: a.T @ b, (_r(K, 7), _r(K, 3))),
    "b transposed": (lambda a, b: a @ b.T, (_r(7, K), _r(3, K))),
    "both transposed": (lambda a, b: a.T @ b.T, (_r(K, 7), _r(3, K))),
    "batch folded into rows": (lambda a, b: a @ b, (_r(4, 7, K), _r(K, 3))),
    "batch of both": (lambda a, b: a @ b, (_r(4, 7, K), _r(4, K, 3))),
    "broadcast batch": (lambda a, b: a @ b, (_r(1, 7, K), _r(2, 4, K, 3))),
    "batched transposes": (lambda a, b: kn.transpose(a, (0, 2, 1)) @ b, (_r(4, K, 7), _r(4, K, 3))),
    "reshaped operand": (lambda a, b: a.reshape(6, K) @ b, (_r(3, 2, K), _r(K, 4))),
    "computed operand": (lambda a, b: kn.tanh(a) @ (b * 2.0), (_r(7, K), _r(K, 3))),
    "float64": (lambda a, b: a @ b, (_r(7, K, dtype=np.float64), _r(K, 3, dtype=np.float64))),
    "epilogue": (lambda a, b: kn.nn.relu(a @ b + 1.0), (_r(64, 32), _r(32, 16))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gemm_matches_numpy(name: str) -> None:
    fn, args = CASES[name]
    f = kn.jit(fn)
    assert "gemm @" in f.lower(*args).as_kernels()
    want = fn(*[a.astype(np.float64) for a in args]) if name not in ("computed operand", "batched transposes",
                                                                      "epilogue") else None
    if name == "computed operand":
        want = np.tanh(args[0].astype(np.float64)) @ (args[1] * 2.0)
    elif name == "batched transposes":
        want = np.transpose(args[0], (0, 2, 1)).astype(np.float64) @ args[1]
    elif name == "epilogue":
        want = np.maximum(args[0].astype(np.float64) @ args[1] + 1.0, 0)
    got = f(*args)
    assert got.dtype == args[0].dtype
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("transposed", [False, True])
def test_shallow_product_is_a_loop_reading_rows(transposed: bool) -> None:
    """A product at most SHALLOW_DEPTH deep whose right operand fits L1 (an MLP's backward
    through its 10-wide output layer) is a loop of multiply-adds, not a BLAS call; a transposed
    right operand is first stored in row order, so the loop reads it along its rows."""
    fn = (lambda g, w: g @ w.T) if transposed else (lambda g, w: g @ w)
    g, w = _r(64, 10), (_r(48, 10) if transposed else _r(10, 48))
    kernels = kn.jit(fn).lower(g, w).as_kernels()
    assert "gemm @" not in kernels and ("transpose" in kernels) == transposed
    np.testing.assert_allclose(np.asarray(kn.jit(fn)(g, w)), fn(g.astype(np.float64), w.astype(np.float64)),
                               rtol=1e-5, atol=1e-5)
    deep = (_r(64, 40), _r(48, 40) if transposed else _r(40, 48))
    assert "gemm @" in kn.jit(fn).lower(*deep).as_kernels()


def test_epilogue_lives_in_the_gemm_kernel() -> None:
    f = kn.jit(lambda a, b, c: kn.nn.relu(a @ b + c))
    kernels = f.lower(_r(64, 32), _r(32, 16), _r(16)).as_kernels()
    assert kernels.count("kernel @") == 1 and "gemm @" in kernels


def test_weight_update_fused_into_gradient_gemm_in_place() -> None:
    w = kn.Variable(_r(32, 16))

    @kn.jit
    def step(x):
        with kn.GradientTape() as tape:
            loss = (x @ w).sum()
        w.assign_sub(0.1 * tape.gradient(loss, w))

    x = _r(8, 32)
    lowered = step.lower(x)
    assert lowered.memory()["inplace_assigns"] == 1
    w0 = w.numpy()
    step(x)
    np.testing.assert_allclose(w.numpy(), w0 - 0.1 * x.T @ np.ones((8, 16), np.float32), rtol=1e-5, atol=1e-6)


def _updates(f, *args) -> list[str]:
    from kiln.codegen.cpu import gemm_update
    program = f.lower(*args).lowered.program
    return [k.name for k in program.kernels if gemm_update(k, program)]


UPDATES = {  # target <- target + alpha·(a@b), the forms an optimizer step takes
    "w - lr·(aᵀb)": lambda w, a, b, lr: w - lr * (a.T @ b),
    "w + (a@b)·s": lambda w, a, b, lr: w + (a @ b.T) * lr,
    "(a@b) + w": lambda w, a, b, lr: (a @ b.T) + w,
    "w - a@b": lambda w, a, b, lr: w - a @ b.T,
}


@pytest.mark.parametrize("name", list(UPDATES))
def test_update_of_a_variable_runs_in_the_blas_call(name: str) -> None:
    """A GEMM whose only use is adding a multiple of it into a Variable at the same points is
    one BLAS call with beta = 1 writing the Variable in place (no epilogue loop)."""
    fn = UPDATES[name]
    w = kn.Variable(_r(24, 16))
    transposed = name.startswith("w - lr")

    @kn.jit
    def step(a, b, lr):
        w.assign(fn(w, a, b, lr))

    a, b = (_r(40, 24), _r(40, 16)) if transposed else (_r(24, 40), _r(16, 40))
    assert len(_updates(step, a, b, 0.25)) == 1
    for _ in range(2):
        w0 = w.numpy().astype(np.float64)
        step(a, b, 0.25)
        np.testing.assert_allclose(w.numpy(), fn(w0, a.astype(np.float64), b.astype(np.float64), 0.25),
                                   rtol=1e-5, atol=1e-5)


def test_product_read_elsewhere_keeps_its_buffer() -> None:
    """When the product is also returned (or read by another kernel), it is written to its own
    buffer first and the update stays an epilogue."""
    w = kn.Variable(_r(24, 16))

    @kn.jit
    def step(a, b):
        g = a @ b.T
        w.assign(w - 0.5 * g)
        return g * 3.0

    a, b = _r(24, 40), _r(16, 40)
    assert _updates(step, a, b) == []
    w0 = w.numpy().astype(np.float64)
    g = a.astype(np.float64) @ b.T
    np.testing.assert_allclose(np.asarray(step(a, b)), g * 3, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.numpy(), w0 - 0.5 * g, rtol=1e-5, atol=1e-5)
