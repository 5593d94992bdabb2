"""Elementwise loops with a long body per element (kiln's exp/tanh polynomials, divisions)
carry `llvm.loop` metadata asking for two interleaved vector iterations; cheap ones do not."""
from __future__ import annotations

import numpy as np

import kiln as kn
from kiln.codegen.cpu import emit_llvm
from kiln.runtime.llvm_jit import host_target


def _llvm(fn, x) -> str:
    return emit_llvm(kn.jit(fn).lower(x).lowered.program, host_target(), "f")


def test_heavy_elementwise_loop_interleaves() -> None:
    text = _llvm(lambda x: kn.tanh(x * 0.5 + 1) * kn.nn.sigmoid(x) + x * x, np.ones(4096, np.float32))
    assert "!llvm.loop" in text and '!"llvm.loop.interleave.count", i32 2' in text


def test_cheap_elementwise_loop_has_no_hint() -> None:
    assert "llvm.loop" not in _llvm(lambda x: x * 2 + 1, np.ones(4096, np.float32))


def test_hinted_loop_computes_the_same() -> None:
    x = np.random.default_rng(0).standard_normal(1003).astype(np.float32)
    got = np.asarray(kn.jit(lambda x: kn.tanh(x) * kn.exp(-x * x))(x))
    np.testing.assert_allclose(got, np.tanh(x.astype(np.float64)) * np.exp(-x.astype(np.float64) ** 2),
                               rtol=1e-6, atol=1e-7)
