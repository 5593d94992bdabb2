"""Elementwise rows that the vector width does not divide (codegen/loops.py `nest`'s overlap):
a 28-wide row runs as [0, 24) and [20, 28), so points 20..23 are computed twice. That is
only allowed where it cannot show: results against NumPy for many widths and dtypes, and
in-place updates (a buffer read and written) and accumulating stores keep one loop."""
from __future__ import annotations

import re

import numpy as np
import pytest

import kiln as kn
from kiln.codegen.cpu import emit_llvm
from kiln.runtime.llvm_jit import host_target

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("width", [3, 7, 8, 9, 10, 14, 15, 16, 17, 28, 31, 33, 70])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
def test_sliced_rows_match_numpy(width: int, dtype) -> None:
    x = (RNG.standard_normal((5, 3, width + 4)) * 10).astype(dtype)
    f = kn.jit(lambda x: x[..., 2:width + 2] * 3 + x[..., :width])
    want = x[..., 2:width + 2] * 3 + x[..., :width]
    np.testing.assert_array_equal(np.asarray(f(x)), want)


def test_transcendental_rows_match_numpy() -> None:
    x = RNG.standard_normal((64, 6, 32)).astype(np.float32)
    got = np.asarray(kn.jit(lambda x: kn.nn.sigmoid(x[..., :28]) < 0.5)(x))
    np.testing.assert_array_equal(got, 1 / (1 + np.exp(-x[..., :28].astype(np.float64))) < 0.5)


def _tail_loops(f, *args) -> int:
    """Overlapping tail loops in the program's LLVM IR before optimization."""
    text = emit_llvm(f.lower(*args).lowered.program, host_target(), "t")
    return len(re.findall(r"^i\d+t\.head:", text, re.M))


def test_in_place_update_is_not_run_twice() -> None:
    """v ← v − 0.1·g over 28-wide rows (of a wider g) reads and writes v: a point run twice
    would subtract twice."""
    v = kn.Variable(np.ones((6, 28), np.float32))
    g = RNG.standard_normal((6, 32)).astype(np.float32)

    @kn.jit
    def step(g):
        v.assign_sub(0.1 * g[:, :28])

    step(g)
    step(g)
    np.testing.assert_allclose(v.numpy(), 1 - 0.2 * g[:, :28], rtol=1e-6)
    assert _tail_loops(step, g) == 0


def test_which_kernels_overlap() -> None:
    x = np.ones((6, 32), np.float32)
    assert _tail_loops(kn.jit(lambda a: kn.exp(a[:, :28])), x) == 1
    assert _tail_loops(kn.jit(lambda a: a * 2), x) == 0  # one flat loop of 192
    assert _tail_loops(kn.jit(lambda a: a[:, :24] * 2), x) == 0  # 24 is three vectors
    assert _tail_loops(kn.jit(lambda a: a.sum(axis=1)), x) == 0  # reductions loop their own way
