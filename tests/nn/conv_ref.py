"""Float64 NumPy references for kn.nn's convolution, pooling and batch-norm tests (shared by
test_conv.py, test_conv_conformance.py and test_batch_norm.py)."""
from __future__ import annotations

import itertools

import numpy as np


def pair(v) -> tuple[int, int]:
    """An int or a pair of ints as a pair (kiln's stride / dilation / kernel spelling)."""
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def pads(padding) -> tuple[tuple[int, int], tuple[int, int]]:
    """int, (ph, pw) or ((top, bottom), (left, right)) as ((top, bottom), (left, right))."""
    if isinstance(padding, int):
        return (padding, padding), (padding, padding)
    if isinstance(padding[0], int):
        return (padding[0], padding[0]), (padding[1], padding[1])
    return tuple(padding[0]), tuple(padding[1])


_pads = pads  # the older name


def ref_windows(x, k, stride, padding, dilation, fill):
    """(N, C, KH·KW, OH, OW): every window's elements, padding read as `fill`."""
    (kh, kw), (sh, sw), (dh, dw) = pair(k), pair(stride), pair(dilation)
    (pt, pb), (pl, pr) = pads(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.empty(x.shape[:2] + (kh * kw, oh, ow), x.dtype)
    for (i, j), (a, b) in itertools.product(itertools.product(range(kh), range(kw)),
                                            itertools.product(range(oh), range(ow))):
        out[:, :, i * kw + j, a, b] = xp[:, :, a * sh + i * dh, b * sw + j * dw]
    return out


def ref_conv(x, w, b, stride, padding, dilation, groups):
    """Cross-correlation of x (N, C, H, W) with w (O, C/groups, KH, KW), plus b (O,) if given."""
    o, cg, kh, kw = w.shape
    win = ref_windows(x, (kh, kw), stride, padding, dilation, 0.0)  # (N, C, K, OH, OW)
    n, _, k, oh, ow = win.shape
    win = win.reshape(n, groups, cg * k, oh, ow)
    wg = w.reshape(groups, o // groups, cg * k)
    y = np.einsum("gok,ngkhw->ngohw", wg, win).reshape(n, o, oh, ow)
    return y if b is None else y + b.reshape(1, o, 1, 1)


def ref_max_pool(x, kernel, stride=None, padding=0):
    """Window maxima, padding read as -inf (PyTorch's max_pool2d)."""
    win = ref_windows(x, kernel, kernel if stride is None else stride, padding, 1, -np.inf)
    return win.max(axis=2)


def ref_avg_pool(x, kernel, stride=None, padding=0):
    """Window means counting the zero padding (PyTorch's count_include_pad=True)."""
    win = ref_windows(x, kernel, kernel if stride is None else stride, padding, 1, 0.0)
    return win.mean(axis=2)


def ref_batch_norm_stats(x, axis=1):
    """The batch mean and biased variance per index of `axis`, each of shape (C,)."""
    axis = axis % x.ndim
    others = tuple(d for d in range(x.ndim) if d != axis)
    return x.mean(axis=others), x.var(axis=others)


def ref_batch_norm(x, mean, var, gamma=None, beta=None, eps=1e-5, axis=1):
    """(x - mean) / sqrt(var + eps) * gamma + beta, the (C,) vectors broadcast along `axis`."""
    axis = axis % x.ndim
    shape = tuple(-1 if d == axis else 1 for d in range(x.ndim))
    y = (x - np.reshape(mean, shape)) / np.sqrt(np.reshape(var, shape) + eps)
    if gamma is not None:
        y = y * np.reshape(gamma, shape)
    if beta is not None:
        y = y + np.reshape(beta, shape)
    return y
