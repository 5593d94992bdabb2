"""Adjacent kernel dimensions merge exactly when every index they feed is a row-major
offset; values stay what NumPy computes."""
from __future__ import annotations

import numpy as np

import kiln as kn


def _shapes(f, *args) -> list[str]:
    text = kn.jit(f).lower(*args).as_kernels()
    return [line.split("[", 1)[1].split("]", 1)[0] for line in text.splitlines() if "kernel @" in line]


def test_contiguous_elementwise_kernel_is_one_loop() -> None:
    x = np.random.rand(4, 5, 6).astype(np.float32)
    assert _shapes(lambda x: kn.exp(x) + 1, x) == ["120"]
    np.testing.assert_allclose(np.asarray(kn.jit(lambda x: kn.exp(x) + 1)(x)), np.exp(x) + 1, rtol=1e-6)


def test_transposed_read_keeps_the_dims_it_permutes() -> None:
    x = np.random.rand(2, 3, 4).astype(np.float32)
    f = lambda x: kn.exp(kn.transpose(x, (0, 2, 1)))  # noqa: E731
    assert _shapes(f, x) == ["2, 4, 3"]
    np.testing.assert_allclose(np.asarray(kn.jit(f)(x)), np.exp(x.transpose(0, 2, 1)), rtol=1e-6)


def test_row_block_transpose_merges_the_contiguous_tail() -> None:
    """(O, N, P) -> (N, O, P), as after a convolution's GEMM: P stays contiguous, N and O swap."""
    x = np.random.rand(3, 5, 4, 4).astype(np.float32)
    f = lambda x: kn.transpose(x, (1, 0, 2, 3)) * 2  # noqa: E731
    assert _shapes(f, x) == ["5, 3, 16"]
    np.testing.assert_array_equal(np.asarray(kn.jit(f)(x)), x.transpose(1, 0, 2, 3) * 2)


def test_index_values_block_merging() -> None:
    """iota reads the index itself, not an offset: its dims stay apart."""
    f = lambda x: x + kn.arange(6, dtype="float32")  # noqa: E731
    x = np.zeros((4, 6), np.float32)
    assert _shapes(f, x) == ["4, 6"]
    np.testing.assert_array_equal(np.asarray(kn.jit(f)(x)), x + np.arange(6))
