"""A large program's LLVM work split over two modules (codegen/cpu.py `emit_part`), the
second emitted and compiled by a forked child (runtime/llvm_jit.py `load`): same results as NumPy, every
kernel in the dumped IR, and the same results when the child fails or cannot be forked."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest

import kiln as kn
from kiln.frontend import compile as kcompile
from kiln.runtime import llvm_jit
from kiln.runtime.cache import CodeCache

RNG = np.random.default_rng(0)
LAYERS = 20
W = [RNG.standard_normal((32, 32)).astype(np.float32) / 6 for _ in range(LAYERS)]


def deep(x, ws):
    for w in ws:
        x = kn.tanh(x @ w)
    return x


def _reference(x: np.ndarray) -> np.ndarray:
    y = x.astype(np.float64)
    for w in W:
        y = np.tanh(y @ w)
    return y


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(kcompile, "CACHE", CodeCache())


def test_two_parts_match_numpy(fresh) -> None:
    x = RNG.standard_normal((16, 32)).astype(np.float32)
    f = kn.jit(deep)
    lowered = f.lower(x, W)
    kernels = lowered.lowered.program.kernels
    assert kcompile._parts(lowered.lowered.program) == 2
    np.testing.assert_allclose(np.asarray(f(x, W)), _reference(x), rtol=1e-4, atol=1e-5)
    compiled = lowered.compile()
    text, asm = compiled.as_llvm_ir(), compiled.as_asm()
    for n in range(len(kernels)):
        assert re.search(rf"^define .*\.k{n}\(", text, re.M), f"kernel {n} missing from the optimised IR"
        assert re.search(rf"^\S*\.k{n}:", asm, re.M), f"kernel {n} missing from the assembly"


def test_without_fork_compiles_in_process(fresh, monkeypatch) -> None:
    monkeypatch.setattr(llvm_jit, "_fork_compile", lambda text: None)
    x = RNG.standard_normal((8, 32)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(kn.jit(deep)(x, W)), _reference(x), rtol=1e-4, atol=1e-5)


def test_failing_fork_compiles_in_process(fresh, monkeypatch) -> None:
    def no_fork():
        raise OSError(11, "Resource temporarily unavailable")
    monkeypatch.setattr(os, "fork", no_fork)
    x = RNG.standard_normal((8, 32)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(kn.jit(deep)(x, W)), _reference(x), rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_failing_child_falls_back(fresh, monkeypatch) -> None:
    parent, optimized = os.getpid(), llvm_jit._optimized

    def only_here(text):
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return optimized(text)
    collected, collect = [], llvm_jit._collect
    monkeypatch.setattr(llvm_jit, "_optimized", only_here)
    monkeypatch.setattr(llvm_jit, "_collect", lambda child: collected.append(collect(child)) or collected[-1])
    x = RNG.standard_normal((8, 32)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(kn.jit(deep)(x, W)), _reference(x), rtol=1e-4, atol=1e-5)
    assert collected == [None]  # the child produced nothing; this process compiled its part
