"""W4: one SGD step (lr 0.1) of d2l's LeNet on a batch of 128 28x28 images: conv 5x5 (6, pad 2)
-> sigmoid -> avgpool 2 -> conv 5x5 (16) -> sigmoid -> avgpool 2 -> dense 120 -> sigmoid ->
dense 84 -> sigmoid -> dense 10, mean sparse softmax cross-entropy, written with kiln's
functional `kn.nn.conv2d` / `kn.nn.avg_pool2d` (the first convolution runs as one fused
reduction, the second as im2col + GEMM)."""
from __future__ import annotations

import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .common import NotSupported, Result, Settings, rng
from .impls import (init_params, kiln_trainer, softmax_ce_jax, softmax_ce_numpy, softmax_ce_torch,
                    training_impls, training_workload)

BATCH, LR = 128, 0.1
SHAPES = {"c1w": (6, 1, 5, 5), "c1b": (6,), "c2w": (16, 6, 5, 5), "c2b": (16,),
          "f1w": (400, 120), "f1b": (120,), "f2w": (120, 84), "f2b": (84,), "f3w": (84, 10), "f3b": (10,)}


# NumPy by hand: convolution as im2col (a window view) + tensordot, 2x2 pools by reshaping.

def _windows(x, k):
    """(N, C, H, W) -> (N, H-k+1, W-k+1, C, k, k) view of every k x k window."""
    return sliding_window_view(x, (k, k), axis=(2, 3)).transpose(0, 2, 3, 1, 4, 5)


def _pad(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def conv_fwd(x, w, b, pad):
    cols = _windows(_pad(x, pad), w.shape[-1])
    return np.tensordot(cols, w, axes=([3, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2) + b[:, None, None], cols


def conv_bwd(dy, cols, w, pad):
    """Gradients w.r.t. weight, bias and input (a full correlation with the flipped kernel)."""
    k = w.shape[-1]
    dw = np.tensordot(dy, cols, axes=([0, 2, 3], [0, 1, 2]))
    dxp = np.tensordot(_windows(_pad(dy, k - 1), k), w[:, :, ::-1, ::-1], axes=([3, 4, 5], [0, 2, 3]))
    dxp = dxp.transpose(0, 3, 1, 2)
    return dw, dy.sum(axis=(0, 2, 3)), dxp[:, :, pad:dxp.shape[2] - pad, pad:dxp.shape[3] - pad]


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _pool(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).mean(axis=(3, 5))


def _pool_bwd(dy):
    return np.repeat(np.repeat(dy, 2, axis=2), 2, axis=3) * dy.dtype.type(0.25)


def numpy_step(p, x, y, lr):
    z1, cols1 = conv_fwd(x, p["c1w"], p["c1b"], 2)
    a1 = _sigmoid(z1)
    z2, cols2 = conv_fwd(_pool(a1), p["c2w"], p["c2b"], 0)
    a2 = _sigmoid(z2)
    f = _pool(a2).reshape(len(x), -1)
    h1 = _sigmoid(f @ p["f1w"] + p["f1b"])
    h2 = _sigmoid(h1 @ p["f2w"] + p["f2b"])
    loss, dz = softmax_ce_numpy(h2 @ p["f3w"] + p["f3b"], y)
    g = {"f3w": h2.T @ dz, "f3b": dz.sum(0)}
    dh2 = (dz @ p["f3w"].T) * h2 * (1 - h2)
    g["f2w"], g["f2b"] = h1.T @ dh2, dh2.sum(0)
    dh1 = (dh2 @ p["f2w"].T) * h1 * (1 - h1)
    g["f1w"], g["f1b"] = f.T @ dh1, dh1.sum(0)
    dz2 = _pool_bwd((dh1 @ p["f1w"].T).reshape(len(x), 16, 5, 5)) * a2 * (1 - a2)
    g["c2w"], g["c2b"], dp1 = conv_bwd(dz2, cols2, p["c2w"], 0)
    dz1 = _pool_bwd(dp1) * a1 * (1 - a1)
    g["c1w"], g["c1b"], _ = conv_bwd(dz1, cols1, p["c1w"], 2)  # (its input gradient is unused)
    for k, v in g.items():
        p[k] -= lr * v
    return loss


def torch_loss(p, x, y):
    import torch
    import torch.nn.functional as F
    a = F.avg_pool2d(torch.sigmoid(F.conv2d(x, p["c1w"], p["c1b"], padding=2)), 2)
    a = F.avg_pool2d(torch.sigmoid(F.conv2d(a, p["c2w"], p["c2b"])), 2).flatten(1)
    a = torch.sigmoid(torch.sigmoid(a @ p["f1w"] + p["f1b"]) @ p["f2w"] + p["f2b"])
    return softmax_ce_torch(a @ p["f3w"] + p["f3b"], y)


def jax_loss(p, x, y):
    import jax

    def conv(a, w, b, pad):
        out = jax.lax.conv_general_dilated(a, w, (1, 1), [(pad, pad)] * 2,
                                           dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return out + b[:, None, None]

    def pool(a):
        return jax.lax.reduce_window(a, 0.0, jax.lax.add, (1, 1, 2, 2), (1, 1, 2, 2), "VALID") / 4
    s = jax.nn.sigmoid
    a = pool(s(conv(x, p["c1w"], p["c1b"], 2)))
    a = pool(s(conv(a, p["c2w"], p["c2b"], 0))).reshape(x.shape[0], -1)
    a = s(s(a @ p["f1w"] + p["f1b"]) @ p["f2w"] + p["f2b"])
    return softmax_ce_jax(a @ p["f3w"] + p["f3b"], y)


def kiln_build(params0, x, y, lr):
    import kiln as kn
    if not (hasattr(kn.nn, "conv2d") and hasattr(kn.nn, "avg_pool2d")):
        raise NotSupported("kiln has no conv2d / avg_pool2d")
    p = {k: kn.Variable(v, name=k) for k, v in params0.items()}

    def loss(x, y):
        a = kn.nn.avg_pool2d(kn.nn.sigmoid(kn.nn.conv2d(x, p["c1w"], p["c1b"], padding=2)), 2)
        a = kn.nn.avg_pool2d(kn.nn.sigmoid(kn.nn.conv2d(a, p["c2w"], p["c2b"])), 2).reshape(x.shape[0], -1)
        a = kn.nn.sigmoid(kn.nn.sigmoid(a @ p["f1w"] + p["f1b"]) @ p["f2w"] + p["f2b"])
        return kn.nn.sparse_softmax_cross_entropy(a @ p["f3w"] + p["f3b"], y)
    return kiln_trainer(loss, p, x, y, lr)


def setup():
    r = rng()
    x = r.random((BATCH, 1, 28, 28), dtype=np.float32)
    y = r.integers(0, 10, BATCH).astype(np.int32)
    return init_params(SHAPES), x, y


def impls(params0, x, y):
    return training_impls(numpy_step, torch_loss, jax_loss, kiln_build, params0, x, y, LR)


def run(settings: Settings) -> list[Result]:
    return training_workload("W4", "d2l LeNet SGD step, batch 128", "LeNet SGD step", 0.5, sys.modules[__name__], settings)
