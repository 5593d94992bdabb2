"""conv2d and pooling against float64 NumPy references (strides, asymmetric padding,
dilation, groups, bias), d2l's pooling examples, 1x1 conv as a matmul, and gradients by
central differences."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn

from .conv_ref import ref_conv, ref_windows

RNG = np.random.default_rng(0)


CONV_CASES = [  # (x shape, w shape, stride, padding, dilation, groups, bias)
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, 1, 1, True),
    ((1, 2, 8, 8), (3, 2, 3, 2), (2, 1), (1, 2), 1, 1, False),
    ((2, 4, 9, 7), (6, 2, 3, 3), 2, ((2, 0), (1, 1)), 1, 2, True),
    ((1, 3, 9, 9), (2, 3, 3, 3), 1, 2, 2, 1, True),
    ((2, 4, 5, 5), (4, 1, 3, 3), 1, 1, 1, 4, False),  # depthwise
    ((1, 1, 6, 6), (1, 1, 1, 2), 1, 0, 1, 1, False),  # d2l's 1x2 edge kernel
]


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_conv2d_matches_numpy(case, mode) -> None:
    xs, ws, stride, padding, dilation, groups, bias = case
    x, w = RNG.standard_normal(xs).astype(np.float32), RNG.standard_normal(ws).astype(np.float32)
    b = RNG.standard_normal(ws[0]).astype(np.float32) if bias else None

    def f(x, w, b):
        return kn.nn.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    got = (kn.jit(f) if mode == "jit" else f)(x, w, b)
    want = ref_conv(x.astype(np.float64), w.astype(np.float64), None if b is None else b.astype(np.float64),
                    stride if isinstance(stride, tuple) else (stride, stride), padding,
                    (dilation, dilation), groups)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def test_conv2d_gradients_match_finite_differences() -> None:
    x = RNG.standard_normal((1, 2, 5, 5))
    w = RNG.standard_normal((2, 1, 3, 3))
    b = RNG.standard_normal(2)
    c = RNG.standard_normal((1, 2, 4, 2))

    def loss(x, w, b):
        return (kn.nn.conv2d(x, w, b, stride=(1, 2), padding=((1, 0), (0, 1)), groups=2) * c).sum()
    grads = kn.grad(loss, argnums=(0, 1, 2))(x, w, b)
    eps = 1e-6
    for k, arr in enumerate((x, w, b)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            hi, lo = [a.copy() for a in (x, w, b)], [a.copy() for a in (x, w, b)]
            hi[k][i] += eps
            lo[k][i] -= eps
            num[i] = (float(loss(*hi)) - float(loss(*lo))) / (2 * eps)
        np.testing.assert_allclose(np.asarray(grads[k]), num, rtol=1e-5, atol=1e-7)


def test_d2l_pooling_examples() -> None:
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(np.asarray(kn.nn.max_pool2d(x, 3)), [[[[10]]]])
    np.testing.assert_array_equal(np.asarray(kn.nn.max_pool2d(x, 3, padding=1, stride=2)), [[[[5, 7], [13, 15]]]])
    np.testing.assert_allclose(np.asarray(kn.nn.avg_pool2d(x, 2)), [[[[2.5, 4.5], [10.5, 12.5]]]])


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_numpy(kind, mode) -> None:
    x = RNG.standard_normal((2, 3, 7, 8)).astype(np.float32)

    def f(x):
        pool = kn.nn.max_pool2d if kind == "max" else kn.nn.avg_pool2d
        return pool(x, (3, 2), stride=(2, 3), padding=(1, 1))
    got = (kn.jit(f) if mode == "jit" else f)(x)
    win = ref_windows(x.astype(np.float64), (3, 2), (2, 3), (1, 1), (1, 1), -np.inf if kind == "max" else 0.0)
    want = win.max(axis=2) if kind == "max" else win.mean(axis=2)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
    gap = kn.nn.global_avg_pool2d(x)
    np.testing.assert_allclose(np.asarray(gap), x.mean(axis=(2, 3), keepdims=True), rtol=1e-6)


def test_one_by_one_conv_is_a_matmul() -> None:
    x = RNG.standard_normal((3, 5, 4, 4)).astype(np.float32)
    w = RNG.standard_normal((6, 5, 1, 1)).astype(np.float32)
    got = np.asarray(kn.jit(kn.nn.conv2d)(x, w))
    want = (w[:, :, 0, 0] @ x.reshape(3, 5, 16)).reshape(3, 6, 4, 4)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_conv_errors_name_the_op_and_shapes() -> None:
    with pytest.raises(kn.ShapeError, match=r"conv2d.*channels"):
        kn.nn.conv2d(np.zeros((1, 3, 5, 5), np.float32), np.zeros((2, 2, 3, 3), np.float32))
    with pytest.raises(kn.ShapeError, match=r"max_pool2d.*do not fit"):
        kn.nn.max_pool2d(np.zeros((1, 1, 2, 2), np.float32), 3)


@pytest.mark.parametrize("size", [(8, 12), (7, 9)])  # tiled exactly; a last row and column no window reaches
@pytest.mark.parametrize("kind", ["avg", "max"])
def test_gradient_of_non_overlapping_pooling(kind, size) -> None:
    """Windows that tile the input (kernel == stride, no padding) put each pixel in at most one
    window: the gradient is a transpose of the windows' gradient (no col2im kernel), zero where
    no window reaches."""
    x = RNG.standard_normal((2, 3, *size)).astype(np.float32)
    pool = kn.nn.max_pool2d if kind == "max" else kn.nn.avg_pool2d
    w = RNG.standard_normal((2, 3, size[0] // 2, size[1] // 2)).astype(np.float32)
    f = kn.jit(kn.grad(lambda x: kn.sum(pool(x, 2) * w)))
    assert "col2im" not in f.lower(x).as_text()
    h, wd = size[0] // 2 * 2, size[1] // 2 * 2
    win = x[:, :, :h, :wd].reshape(2, 3, h // 2, 2, wd // 2, 2)
    if kind == "avg":
        per = np.broadcast_to(np.float32(0.25), win.shape)
    else:
        per = (win == win.max(axis=(3, 5), keepdims=True)).astype(np.float32)
    want = np.zeros_like(x)
    want[:, :, :h, :wd] = (per * w[:, :, :, None, :, None]).reshape(2, 3, h, wd)
    np.testing.assert_allclose(np.asarray(f(x)), want, rtol=1e-6, atol=1e-7)
