"""Float reductions are accurate like NumPy's pairwise summation (codegen/blocks.py) in every
loop shape of codegen/reduce.py: a long reduction runs in blocks of fresh partials added in
a tree, so the error grows with log2(n), not with n. Each case sums a constant array (one
running float32 value loses the constant's low bits on every step once it is large: exact
here) and a uniform one, against float64 NumPy, and checks which loop shape it took."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kiln as kn
from kiln.codegen.reduce import column_form, jam, lanes, row_form

RNG = np.random.default_rng(0)
C = 1 + 3 / 512  # 9 bits of fraction: a running sum past 2^15 rounds them away on every add


def form(f, *xs) -> list[str]:
    """The loop shape of each reduction kernel f compiles to (codegen/reduce.py's names)."""
    out = []
    for k in f.lower(*xs).lowered.program.kernels:
        if not k.reductions:
            continue
        rows = row_form(k) or column_form(k)
        if rows:
            out.append("window" if rows.window else "guard" if rows.guard else "column")
        else:
            out.append("jam" if jam(k) else "lanes" if lanes(k.rshape, list(k.reductions)) else "plain")
    return out


def error(got, want) -> float:
    """The largest error relative to the largest result."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def bound(n: int, dtype) -> float:
    """NumPy's pairwise summation's kind of bound: a few roundings per level of a tree over n."""
    return 4 * np.finfo(dtype).eps * math.log2(n)


def data(shape, dtype, constant: bool) -> np.ndarray:
    return np.full(shape, C, dtype) if constant else RNG.random(shape).astype(dtype)


def sq(x):
    return x * x


CASES = {  # name: (function, numpy reference on float64, shape, reduced size, loop shape)
    "long rows": (lambda x: kn.sum(x, axis=1), lambda x: x.sum(1), (3, 1 << 21), 1 << 21, "plain"),
    "whole array": (lambda x: kn.sum(x), lambda x: x.sum(), (1024, 2048), 1 << 21, "plain"),
    "two axes, keepdims": (lambda x: kn.sum(x, axis=(0, 2), keepdims=True),
                           lambda x: x.sum((0, 2), keepdims=True), (512, 3, 1024), 1 << 19, "plain"),
    "mean": (lambda x: kn.mean(x, axis=-1), lambda x: x.mean(-1), (2, 1 << 21), 1 << 21, "plain"),
    "short points jammed": (lambda x: kn.sum(x, axis=1), lambda x: x.sum(1), (3, 1 << 19, 4), 1 << 19, "jam"),
    "lanes": (lambda x: kn.sum(x[..., :16], axis=(0, 2)), lambda x: x[..., :16].sum((0, 2)), (1 << 16, 3, 20),
              1 << 20, "lanes"),
    "jammed lanes in chunks": (lambda x: kn.sum(x[:, :3, None, :] * x[:, None, 3:, :], axis=(0, 3)),
                               lambda x: (x[:, :3, None, :] * x[:, None, 3:, :]).sum((0, 3)),
                               (1 << 15, 8, 32), 1 << 20, "jam"),
    "columns": (lambda x: kn.sum(x, axis=0), lambda x: x.sum(0), (1 << 16, 48), 1 << 16, "column"),
    "wide columns": (lambda x: kn.sum(x, axis=0), lambda x: x.sum(0), (1 << 14, 200), 1 << 14, "column"),
    "guarded rows": (lambda x: kn.sum(kn.pad(x, ((0, 0), (0, 0), (2, 2))), axis=1),
                     lambda x: np.pad(x, ((0, 0), (0, 0), (2, 2))).sum(1), (2, 1 << 15, 60), 1 << 15,
                     "guard"),
    "norm": (lambda x: kn.norm(x), lambda x: np.sqrt(sq(x).sum()), (1024, 2048), 1 << 21, "plain"),
    "logsumexp": (lambda x: kn.logsumexp(x, axis=1), lambda x: np.log(np.exp(x).sum(1)), (2, 1 << 21),
                  1 << 21, "plain"),
    "softmax denominators": (lambda x: kn.nn.softmax(x, axis=1)[:, :4],
                             lambda x: (np.exp(x) / np.exp(x).sum(1, keepdims=True))[:, :4], (2, 1 << 21),
                             1 << 21, "plain"),
    "batch statistics": (lambda x: kn.mean(sq(x - kn.mean(x, axis=(0, 2, 3), keepdims=True)), axis=(0, 2, 3)),
                         lambda x: x.var((0, 2, 3)), (256, 3, 64, 64), 1 << 20, "lanes"),
}


@pytest.mark.parametrize("constant", [True, False], ids=["constant", "uniform"])
@pytest.mark.parametrize("name", list(CASES))
def test_float32_reductions_are_accurate(name: str, constant: bool) -> None:
    f, ref, shape, n, shape_form = CASES[name]
    x = data(shape, np.float32, constant)
    if name == "batch statistics" and not constant:
        x += 3  # a mean far from 0: the deviations' squares are what is summed
    jf = kn.jit(f)
    assert shape_form in form(jf, x)
    want = ref(x.astype(np.float64))
    if constant and name in ("batch statistics", "logsumexp", "softmax denominators"):
        return  # nothing accumulates: a zero variance, exp of a constant; the uniform case counts
    assert error(jf(x), want) <= bound(n, np.float32)


@pytest.mark.parametrize("name", ["long rows", "whole array", "lanes", "columns", "guarded rows"])
def test_float64_reductions_are_accurate(name: str) -> None:
    f, ref, shape, n, _ = CASES[name]
    x = RNG.random(shape) + 1e8  # 1e8 + u: each running float64 add rounds u at about 1e-8
    want = ref(x.astype(np.longdouble))  # 11 more bits than float64
    assert error(kn.jit(f)(x), want) <= bound(n, np.float64)


def test_sum_of_8192_squared_ones_is_exact() -> None:
    """The issue's case (a broadcast scalar: the same loop over 8192 x 8192 without 256 MB)."""
    f = kn.jit(lambda one: kn.sum(kn.broadcast_to(one, (8192, 8192))))
    one = np.float32(1)
    assert any(k.rshape == (8192, 8192) for k in f.lower(one).lowered.program.kernels)
    assert float(f(one)) == 67108864.0


def test_mean_of_1e4_squared_values() -> None:
    """The issue's mean over 10^4 x 10^4 float32 values in [0, 1): a[i] + b[j] computed inside
    the loop (no 400 MB array); the reference sums the same float32 values in float64."""
    a, b = (RNG.random(10_000).astype(np.float32) / 2 for _ in range(2))
    f = kn.jit(lambda a, b: kn.mean(a[:, None] + b[None, :]))
    want = sum(float((a[i:i + 1000, None] + b[None, :]).astype(np.float64).sum())
               for i in range(0, 10_000, 1000))
    assert error(f(a, b), want / 1e8) <= bound(10 ** 8, np.float32)


def test_threads_split_accurate_reductions() -> None:
    """Reductions whose outer range two threads split are as accurate (a subprocess: the pool's
    size is fixed when kiln starts)."""
    code = textwrap.dedent("""
        import numpy as np, kiln as kn
        x = np.full((64, 1 << 16), 1 + 3 / 512, np.float32)
        got = np.asarray(kn.jit(lambda x: kn.sum(x, axis=1))(x), np.float64)
        cols = np.asarray(kn.jit(lambda x: kn.sum(x.T, axis=1))(x), np.float64)
        want = (1 + 3 / 512) * (1 << 16)
        print(np.max(np.abs(got - want)) / want, np.max(np.abs(cols - 64 * (1 + 3 / 512))) / 64)
    """)
    env = {**os.environ, "KILN_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300,
                         cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert out.returncode == 0, out.stderr
    rows, cols = map(float, out.stdout.split())
    assert rows <= bound(1 << 16, np.float32) and cols <= bound(64, np.float32)


def test_folded_and_compiled_sums_agree() -> None:
    """A sum of constants is folded by NumPy's own (pairwise) sum: the compiled loop over the
    same numbers gives the same value (constant numbers) or one as accurate (uniform ones)."""
    folded = kn.jit(lambda: kn.sum(kn.full((4096, 1024), C, dtype="float32")))
    assert not any(k.reductions for k in folded.lower().lowered.program.kernels)
    compiled = kn.jit(lambda c: kn.sum(kn.broadcast_to(c, (4096, 1024))))
    assert float(folded()) == float(compiled(np.float32(C))) == 4096 * 1024 * C
    u = RNG.random((1024, 2048)).astype(np.float32)
    folded = kn.jit(lambda: kn.sum(kn.asarray(u), axis=1))
    assert not any(k.reductions for k in folded.lower().lowered.program.kernels)
    want = u.astype(np.float64).sum(1)
    for got in (folded(), kn.jit(lambda x: kn.sum(x, axis=1))(u)):
        assert error(got, want) <= bound(2048, np.float32)
