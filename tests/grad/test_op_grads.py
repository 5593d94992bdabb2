"""Every differentiable registry op: kn.grad of sum(op(x...) * w) against central finite
differences of the op's NumPy reference, in float64, on hypothesis-drawn shapes (with
broadcasting)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiln as kn
from kiln.frontend.core import apply, lift
from kiln.ir.opdef import REGISTRY

from .cases import CASES

# Ops that carry a gradient rule. Every other op is integer/bool-valued, a comparison, or
# a source of values (constant, iota, random_uniform), and has none.
DIFFERENTIABLE = {
    "add", "subtract", "multiply", "divide", "floor_divide", "mod", "power", "maximum", "minimum",
    "negative", "abs", "sign", "floor", "ceil", "exp", "log", "log1p", "sqrt", "sin", "cos", "tanh", "sigmoid",
    "where", "astype", "stop_gradient", "sum", "prod", "max", "min", "cumsum",
    "reshape", "transpose", "broadcast_to", "slice", "concatenate", "pad",
    "take", "gather_nd", "scatter_nd", "dynamic_slice", "matmul", "im2col", "col2im",
}
EPS = 1e-6


def test_the_differentiable_ops_are_the_expected_set() -> None:
    with_grad = {name for name, op in REGISTRY.items() if op.grad is not None}
    assert with_grad == DIFFERENTIABLE, (f"unexpected rules: {sorted(with_grad - DIFFERENTIABLE)}; "
                                         f"missing rules: {sorted(DIFFERENTIABLE - with_grad)}")
    assert set(CASES) == DIFFERENTIABLE


def _numeric_grad(fn, inputs: list, k: int) -> np.ndarray:
    x = np.array(inputs[k], dtype=np.float64)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        hi, lo = x.copy(), x.copy()
        hi[i] += EPS
        lo[i] -= EPS
        out[i] = (fn(inputs[:k] + [hi] + inputs[k + 1:]) - fn(inputs[:k] + [lo] + inputs[k + 1:])) / (2 * EPS)
    return out


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_gradient_matches_finite_differences(name: str, data, seed: int) -> None:
    rng = np.random.default_rng(seed)
    drawn = CASES[name](data, rng)
    inputs = [np.asarray(x) for x in drawn.inputs]
    op = REGISTRY[name]
    out_shape = np.shape(op.ref(*inputs, **drawn.attrs))
    w = rng.uniform(-1, 1, size=out_shape)

    def f(*xs):
        y = apply(name, [lift(x) for x in xs], **drawn.attrs)
        return kn.sum(y * w)

    def ref(xs):
        return float(np.sum(op.ref(*xs, **drawn.attrs) * w))

    grads = kn.grad(f, argnums=drawn.diff)(*inputs)
    assert len(grads) == len(drawn.diff)
    for k, g in zip(drawn.diff, grads):
        g = np.asarray(g)
        assert g.shape == inputs[k].shape and g.dtype == np.float64, (k, g.shape, g.dtype)
        want = np.zeros_like(inputs[k]) if drawn.zero_grad else _numeric_grad(ref, inputs, k)
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-7,
                                   err_msg=f"d/d(input {k}) of {name} {[x.shape for x in inputs]} "
                                           f"{drawn.attrs}")
