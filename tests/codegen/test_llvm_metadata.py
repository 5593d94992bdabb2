"""Metadata kiln hands LLVM: elementwise loops with a long body per element (kiln's exp/tanh
polynomials, divisions) ask for two interleaved vector iterations, cheap ones do not; every
buffer access names its slot's alias scope and the kernel's other slots as `noalias`, so
loops need no runtime overlap checks (and in-place updates of one slot still see themselves)."""
from __future__ import annotations

import re

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


def test_each_slot_is_its_own_alias_scope() -> None:
    x = np.ones(4096, np.float32)
    text = emit_llvm(kn.jit(lambda x, y: kn.tanh(x) * 2 + y).lower(x, x).lowered.program, host_target(), "f")
    accesses = [line for line in text.splitlines() if re.search(r"= load float|store float", line)]
    assert accesses and all("!alias.scope" in line and "!noalias" in line for line in accesses)
    scopes = {re.search(r"!alias.scope (!\d+)", line).group(1) for line in accesses}
    assert len(scopes) == 3  # x, y and the result


def test_in_place_update_reads_the_old_values() -> None:
    """An SGD-style update of a Variable writes the slot it reads (one scope): the compiled
    step must read each old value before overwriting it, over a vectorized loop."""
    w = kn.Variable(np.arange(1000, dtype=np.float32))
    g = np.linspace(-1, 1, 1000).astype(np.float32)

    @kn.jit
    def step(g):
        w.assign(w * 0.5 - g[::-1] * 0.1 + kn.sum(w) * 1e-6)
    before = w.numpy()
    step(g)
    want = before * np.float32(0.5) - g[::-1] * np.float32(0.1) + before.astype(np.float64).sum() * 1e-6
    np.testing.assert_allclose(w.numpy(), want, rtol=1e-5)
