"""Guards that become loop bounds (codegen/rows.py) in elementwise kernels: a padding copy's
rows run as fill, unguarded copy, fill. Results against NumPy for paddings that cover the
whole row, none of it, or leave rows entirely outside; which kernels take the form."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn
from kiln.codegen.rows import guarded_rows

RNG = np.random.default_rng(0)


def _guarded(f, *args) -> bool:
    return any(guarded_rows(k) for k in f.lower(*args).lowered.program.kernels)


@pytest.mark.parametrize("pads", [((0, 0), (0, 0), (2, 3), (2, 1)), ((0, 0), (1, 0), (0, 0), (5, 5)),
                                  ((1, 1), (0, 0), (4, 4), (0, 7)), ((0, 0), (0, 0), (0, 0), (9, 0))])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_pad_matches_numpy(pads, dtype) -> None:
    x = (RNG.standard_normal((3, 2, 7, 6)) * 5).astype(dtype)
    f = kn.jit(lambda x: kn.pad(x, pads))
    assert _guarded(f, x)
    np.testing.assert_array_equal(np.asarray(f(x)), np.pad(x, pads))


def test_guarded_value_in_a_larger_expression() -> None:
    """The guarded load sits inside arithmetic (a padded product): fill and value both flow on."""
    x = RNG.standard_normal((5, 12)).astype(np.float32)
    f = kn.jit(lambda x: kn.pad(x, ((0, 0), (3, 2))) * 2 + 1)
    np.testing.assert_array_equal(np.asarray(f(x)), np.pad(x, ((0, 0), (3, 2))) * 2 + 1)


def test_which_kernels_take_the_form() -> None:
    x = np.ones((4, 6), np.float32)
    assert not _guarded(kn.jit(lambda x: x * 2), x)                           # no guard
    assert not _guarded(kn.jit(lambda x: kn.pad(x, ((1, 1), (0, 0)))), x)    # bounds on rows only
