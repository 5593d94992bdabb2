"""A large program's LLVM work split over two modules (codegen/cpu.py `emit_part`), the
second compiled at the same time by another compile server (runtime/llvm_jit.py `load`): same results as
NumPy, every kernel in the dumped IR, and the same results when a server fails or cannot be forked."""
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
    """No cached code and no compile server yet (one forked earlier would not see the test's patches)."""
    monkeypatch.setattr(kcompile, "CACHE", CodeCache())
    servers: list = []
    monkeypatch.setattr(llvm_jit, "_servers", servers)
    yield
    for server in servers:
        server.stop()


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
    monkeypatch.delattr(os, "fork")
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
    dropped, drop = [], llvm_jit._drop
    monkeypatch.setattr(llvm_jit, "_optimized", only_here)
    monkeypatch.setattr(llvm_jit, "_drop", lambda server: dropped.append(server) or drop(server))
    x = RNG.standard_normal((8, 32)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(kn.jit(deep)(x, W)), _reference(x), rtol=1e-4, atol=1e-5)
    assert len(dropped) == 2  # both servers produced nothing; this process compiled both parts
