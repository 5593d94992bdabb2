"""Kernel IR index arithmetic: a row-major offset split by `delinear` and put back together by
`linear` over the same dims is the offset itself (no division or modulo left), also as part
of a longer index; over other dims it is not merged."""
from __future__ import annotations

import numpy as np

import kiln as kn
from kiln.ir.kernel import INDEX, KernelBuilder, refs


def test_linear_of_delinear_is_the_offset() -> None:
    b = KernelBuilder()
    off = b.add(b.mul(b.idx(0), b.const(7)), b.idx(1))
    assert b.linear(b.delinear(off, (3, 4, 5)), (3, 4, 5)) is off


def test_split_inside_a_longer_index() -> None:
    b = KernelBuilder()
    n, flat = b.idx(0), b.idx(1)
    off = b.linear((n,) + b.delinear(flat, (33, 32)), (128, 33, 32))
    assert not refs(off, "floordiv") and not refs(off, "mod")
    assert off is b.add(b.mul(n, b.const(33 * 32)), flat)


def test_other_dims_keep_the_division() -> None:
    b = KernelBuilder()
    off = b.linear(b.delinear(b.idx(0), (4, 6)), (4, 5))
    assert refs(off, "mod") and off.dtype is INDEX


def test_reshaped_read_of_a_padded_buffer_has_no_division() -> None:
    """The stride-1 direct convolution reads its padded input as one line per channel."""
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((3, 1, 3, 3)).astype(np.float32)
    f = kn.jit(lambda x, w: kn.nn.conv2d(x, w, padding=1))
    (conv,) = [k for k in f.lower(x, w).lowered.program.kernels if k.reductions]
    for e in [s.offset for s in conv.stores] + [r.value for r in conv.reductions]:
        assert not refs(e, "floordiv") and not refs(e, "mod")
    win = np.lib.stride_tricks.sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1))), (3, 3), (2, 3))
    want = np.einsum("nchwij,ocij->nohw", win.astype(np.float64), w)
    np.testing.assert_allclose(np.asarray(f(x, w)), want, rtol=1e-5, atol=1e-6)
