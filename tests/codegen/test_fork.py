"""A process forked after the thread pool started runs kernels on its own thread (no hang)."""
from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest

import kiln as kn


def _child(q) -> None:
    x = np.arange(1 << 20, dtype=np.float32)
    q.put(float(kn.jit(lambda v: (v * 2.0).sum())(x)))


def test_forked_child_computes_without_the_pool() -> None:
    f = kn.jit(lambda v: v * 2.0 + 1.0)
    f(np.ones(1 << 20, np.float32))  # starts the pool in this process
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    p.join(60)
    assert not p.is_alive(), "forked child hung"
    assert q.get(timeout=5) == pytest.approx(np.arange(1 << 20, dtype=np.float64).sum() * 2, rel=1e-5)
