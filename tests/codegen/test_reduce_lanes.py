"""Reductions with a short innermost extent under a long outer one (a convolution's weight and
bias gradients) keep one running value per innermost position (codegen/cpu.py `lane_pass`):
sums, maxima and minima against NumPy, NaN propagation, and the kernels' shapes that use it."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn
from kiln.codegen.cpu import LANES, _lanes

RNG = np.random.default_rng(0)


def _reduce_rows(op: str, axes, width: int):
    """op over `axes` of x's first `width` columns: rows of a wider array, so the innermost
    reduced dimension cannot merge with the one outside it."""
    return kn.jit(lambda x: getattr(kn, op)(x[..., :width], axis=axes))


def _uses_lanes(f, x) -> bool:
    return any(k.reductions and _lanes(k.rshape, list(k.reductions)) for k in f.lower(x).lowered.program.kernels)


@pytest.mark.parametrize("shape, axes, width", [((16, 6, 28, 32), (0, 2, 3), 28), ((9, 3, 9), (0, 2), 8),
                                                ((40, 66), (0, 1), 64), ((3, 5, 17, 40), (1, 2, 3), 33)])
@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_matches_numpy(shape, axes, width, op) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    f = _reduce_rows(op, axes, width)
    assert _uses_lanes(f, x)
    want = getattr(np, op)(x[..., :width].astype(np.float64), axis=axes)
    np.testing.assert_allclose(np.asarray(f(x)), want, rtol=1e-5, atol=1e-5)


def test_weighted_sum_over_rows_matches_numpy() -> None:
    """The weight-gradient form: a product of two arrays summed over batch and rows."""
    a = RNG.standard_normal((32, 4, 20, 24)).astype(np.float32)
    b = RNG.standard_normal((32, 1, 20, 20)).astype(np.float32)
    f = kn.jit(lambda a, b: (a[..., :20] * b).sum(axis=(0, 2, 3)))
    assert any(k.reductions and _lanes(k.rshape, list(k.reductions))
               for k in f.lower(a, b).lowered.program.kernels)
    np.testing.assert_allclose(np.asarray(f(a, b)), (a[..., :20].astype(np.float64) * b).sum(axis=(0, 2, 3)),
                               rtol=1e-5)


@pytest.mark.parametrize("op", ["max", "min", "sum"])
def test_nan_propagates(op) -> None:
    x = RNG.standard_normal((12, 3, 18)).astype(np.float32)
    x[7, 1, 5] = np.nan
    f = _reduce_rows(op, (0, 2), 16)
    assert _uses_lanes(f, x)
    got = np.asarray(f(x))
    assert np.isnan(got[1]) and not np.isnan(got[[0, 2]]).any()


def test_which_spaces_use_lanes() -> None:
    from kiln.ir.kernel import Reduction
    sums = [Reduction("sum", None)]  # type: ignore[arg-type]
    assert _lanes((128, 28, 28), sums)
    assert not _lanes((4096,), sums)              # one long row: the loop vectorizes it
    assert not _lanes((2, 28), sums)              # too few outer steps to pay for the lanes
    assert not _lanes((128, LANES + 1), sums)     # a long row again
    assert not _lanes((128, 28), [Reduction("argmax", None)])  # type: ignore[arg-type]
