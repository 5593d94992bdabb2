"""Convolution and pooling (NCHW inputs, OIHW kernels), written as patch extraction plus a
contraction or a reduction over each window, so autodiff needs no new rules and fusion sees
ordinary ops: the patches become the operand of one GEMM per group (im2col), bias and
activation fuse after it as epilogues.
"""
from __future__ import annotations

from ...errors import ShapeError
from .. import ops
from ..core import lift, user_loc
from ..shape_ops import pad, reshape, stack


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    if len(v) == 2 and all(isinstance(n, int) for n in v):
        return int(v[0]), int(v[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")


def _padding(p) -> tuple[tuple[int, int], tuple[int, int]]:
    """int, (ph, pw) or ((top, bottom), (left, right))."""
    if isinstance(p, int):
        return (p, p), (p, p)
    if len(p) == 2 and all(isinstance(n, int) for n in p):
        return (p[0], p[0]), (p[1], p[1])
    if len(p) == 2 and all(len(q) == 2 for q in p):
        return (int(p[0][0]), int(p[0][1])), (int(p[1][0]), int(p[1][1]))
    raise ValueError(f"padding must be an int, (ph, pw) or ((top, bottom), (left, right)), got {p!r}")


def _windows(op: str, x, kernel, stride, padding, dilation, fill):
    """(N, C, KH·KW, OH, OW): every window's elements, padded with `fill`."""
    t = lift(x)
    if len(t.shape) != 4:
        raise ShapeError(f"{op}: expected an NCHW input of 4 dimensions, got shape {tuple(t.shape)}", op=op,
                         loc=user_loc())
    (kh, kw), (sh, sw), (dh, dw) = _pair(kernel, "kernel"), _pair(stride, "stride"), _pair(dilation, "dilation")
    (pt, pb), (pl, pr) = _padding(padding)
    n, c, h, w = t.shape
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    if min(kh, kw, sh, sw, dh, dw) < 1 or min(pt, pb, pl, pr) < 0 or oh < 1 or ow < 1:
        raise ShapeError(f"{op}: kernel {(kh, kw)}, stride {(sh, sw)}, padding {((pt, pb), (pl, pr))}, dilation "
                         f"{(dh, dw)} do not fit an input of shape {tuple(t.shape)}", op=op, loc=user_loc())
    if pt or pb or pl or pr:
        t = pad(t, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    parts = [t[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
             for i in range(kh) for j in range(kw)]
    return stack(parts, axis=2) if len(parts) > 1 else ops.expand_dims(parts[0], 2), oh, ow


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """Cross-correlation of x (N, C, H, W) with w (O, C/groups, KH, KW), plus bias b (O,)."""
    wt = lift(w)
    t = lift(x)
    if len(wt.shape) != 4 or len(t.shape) != 4:
        raise ShapeError(f"conv2d: expected input NCHW and kernel OIHW, got {tuple(t.shape)} and "
                         f"{tuple(wt.shape)}", op="conv2d", loc=user_loc())
    o, cg, kh, kw = wt.shape
    if groups < 1 or t.shape[1] != cg * groups or o % groups:
        raise ShapeError(f"conv2d: input has {t.shape[1]} channels, kernel {tuple(wt.shape)} with groups={groups} "
                         f"needs {cg * groups} (and out channels divisible by groups)", op="conv2d", loc=user_loc())
    patches, oh, ow = _windows("conv2d", t, (kh, kw), stride, padding, dilation, 0)
    n = t.shape[0]
    cols = reshape(patches, (n, groups, cg * kh * kw, oh * ow))
    y = ops.matmul(reshape(wt, (1, groups, o // groups, cg * kh * kw)), cols)  # (N, G, O/G, OH·OW)
    y = reshape(y, (n, o, oh, ow))
    return y if b is None else ops.add(y, reshape(lift(b), (1, o, 1, 1)))


def max_pool2d(x, kernel, stride=None, padding=0):
    """Window maxima; padding never wins (it is -inf, as in PyTorch)."""
    t = lift(x)
    fill = float("-inf") if t.dtype.is_float else int(-(2 ** (t.dtype.bits - 1)))
    win, oh, ow = _windows("max_pool2d", t, kernel, kernel if stride is None else stride, padding, 1, fill)
    return ops.max(win, axis=2)


def avg_pool2d(x, kernel, stride=None, padding=0):
    """Window means counting the zero padding (PyTorch's default count_include_pad=True)."""
    win, oh, ow = _windows("avg_pool2d", x, kernel, kernel if stride is None else stride, padding, 1, 0)
    return ops.mean(win, axis=2)


def global_avg_pool2d(x, keepdims: bool = True):
    """Mean over H and W: (N, C, 1, 1) (Gluon's GlobalAvgPool2D), or (N, C) without keepdims."""
    t = lift(x)
    if len(t.shape) != 4:
        raise ShapeError(f"global_avg_pool2d: expected an NCHW input, got shape {tuple(t.shape)}",
                         op="global_avg_pool2d", loc=user_loc())
    return ops.mean(t, axis=(2, 3), keepdims=keepdims)

