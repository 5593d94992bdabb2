"""Sliding windows over the last two axes of an NCHW array, the basis of convolution and pooling.

`im2col` reads every window: (N, C, H, W) -> (N, C, KH, KW, OH, OW), positions in the
padding take `value`. `col2im` is its adjoint: it sums window elements back onto the pixels
they came from, as a gather (each pixel reduces over the KH·KW window positions that can
see it), so it needs no atomics and maps onto CPU threads and GPU grids alike.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .. import dtypes as dt
from ..opdef import defop

WINDOW = ("stride", "padding", "dilation")


def out_size(n: int, k: int, stride: int, lo: int, hi: int, dilation: int) -> int:
    """Number of window positions along an axis of length n (floor mode, as PyTorch)."""
    return (n + lo + hi - dilation * (k - 1) - 1) // stride + 1


def _check(op: str, hw: tuple[int, int], kernel, stride, padding, dilation) -> tuple[int, int]:
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    (pt, pb), (pl, pr) = padding
    oh, ow = out_size(hw[0], kh, sh, pt, pb, dh), out_size(hw[1], kw, sw, pl, pr, dw)
    if min(kh, kw, sh, sw, dh, dw) < 1 or min(pt, pb, pl, pr) < 0 or oh < 1 or ow < 1:
        raise ShapeError(f"{op}: kernel {tuple(kernel)}, stride {tuple(stride)}, padding {tuple(map(tuple, padding))}, "
                         f"dilation {tuple(dilation)} do not fit an input of height and width {tuple(hw)}")
    return oh, ow


# im2col ----------------------------------------------------------------------------------

def _im2col_shape(types, kernel, stride, padding, dilation, value):
    (x,) = types
    if x.ndim != 4:
        raise ShapeError(f"im2col: expected an NCHW input of 4 dimensions, got shape {x.shape}")
    oh, ow = _check("im2col", x.shape[2:], kernel, stride, padding, dilation)
    return x.shape[:2] + tuple(kernel) + (oh, ow)


def _source(b, o, k, stride: int, lo: int, dilation: int):
    """The input coordinate that window position o, kernel offset k reads."""
    return b.sub(b.add(b.mul(o, b.const(stride)), b.mul(k, b.const(dilation))), b.const(lo))


def _in_range(b, i, n: int):
    return b.and_(b.ge(i, b.const(0)), b.lt(i, b.const(n)))


def _inside(b, i, n: int, lo: int, last: int):
    """i in [0, n), testing only the sides a window can cross: below 0 with padding `lo`,
    past the end if the last coordinate read is `last`."""
    ok = b.ge(i, b.const(0)) if lo else b.const(True, dt.bool_)
    return b.and_(ok, b.lt(i, b.const(n))) if last >= n else ok


def _im2col_emit(b, node, ix, operand):
    a = node.attrs
    (_, _, h, w), (sh, sw), (dh, dw) = node.inputs[0].shape, a["stride"], a["dilation"]
    (pt, _), (pl, _) = a["padding"]
    _, _, kh, kw, oh, ow = node.out.shape
    n, c, i, j, oy, ox = ix
    y, x = _source(b, oy, i, sh, pt, dh), _source(b, ox, j, sw, pl, dw)
    inside = b.and_(_inside(b, y, h, pt, (oh - 1) * sh + (kh - 1) * dh - pt),
                    _inside(b, x, w, pl, (ow - 1) * sw + (kw - 1) * dw - pl))
    return b.guard(inside, operand(0, (n, c, y, x)), b.const(a["value"], node.out.dtype))


def _im2col_ref(x, kernel, stride, padding, dilation, value):
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    (pt, pb), (pl, pr) = padding
    oh, ow = _check("im2col", x.shape[2:], kernel, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)
    out = np.empty(x.shape[:2] + (kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i, j] = xp[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
    return out


def _im2col_grad(e, g, y, x, kernel, stride, padding, dilation, value):
    """col2im; windows that tile the input without overlap or padding (a 2x2 pool of stride 2)
    put each pixel in one window, so the sum is a transpose: movement that fuses into
    whatever reads the gradient, not a kernel of its own."""
    n, c, kh, kw, oh, ow = g.shape
    h, w = x.shape[2:]
    if tuple(kernel) != tuple(stride) or tuple(dilation) != (1, 1) or any(p != (0, 0) for p in padding):
        return (e.col2im(g, size=(h, w), stride=stride, padding=padding, dilation=dilation),)
    tiled = e.reshape(e.transpose(g, perm=(0, 1, 4, 2, 5, 3)), shape=(n, c, oh * kh, ow * kw))
    if (oh * kh, ow * kw) != (h, w):  # rows and columns no window reaches get no gradient
        tiled = e.pad(tiled, pads=((0, 0), (0, 0), (0, h - oh * kh), (0, w - ow * kw)), value=0)
    return (tiled,)


defop("im2col", shape=_im2col_shape, dtype=lambda types, **_: types[0].dtype, ref=_im2col_ref,
      emit=_im2col_emit, traits={"internal", "view"}, attrs=("kernel",) + WINDOW + ("value",), grad=_im2col_grad)


# col2im ----------------------------------------------------------------------------------

def _col2im_shape(types, size, stride, padding, dilation):
    (cols,) = types
    if cols.ndim != 6:
        raise ShapeError(f"col2im: expected windows of shape (N, C, KH, KW, OH, OW), got {cols.shape}")
    oh, ow = _check("col2im", tuple(size), cols.shape[2:4], stride, padding, dilation)
    if (oh, ow) != cols.shape[4:]:
        raise ShapeError(f"col2im: {cols.shape[4:]} window positions do not match {(oh, ow)} for size {tuple(size)}")
    return cols.shape[:2] + tuple(size)


def _taps(kernel: int, stride: int, dilation: int) -> int:
    """How many window positions can cover one pixel along an axis: with dilation 1 only
    ceil(k / s) of them (so a 2x2 pool of stride 2 is a plain gather), else every offset."""
    return -(-kernel // stride) if dilation == 1 else kernel


def _window_position(b, p, r, kernel: int, stride: int, lo: int, dilation: int, count: int):
    """(kernel offset, window position, valid) of the r-th window covering coordinate p."""
    t = b.add(p, b.const(lo))  # the coordinate in the padded input
    if dilation == 1:
        o = b.sub(b.floordiv(t, b.const(stride)), r)
        k = b.add(b.mod(t, b.const(stride)), b.mul(r, b.const(stride)))
        ok = b.lt(k, b.const(kernel)) if kernel % stride else b.const(True, dt.bool_)
    else:
        q = b.sub(t, b.mul(r, b.const(dilation)))
        o, k = b.floordiv(q, b.const(stride)), r
        ok = b.eq(b.mod(q, b.const(stride)), b.const(0)) if stride > 1 else b.const(True, dt.bool_)
    return k, o, b.and_(ok, _in_range(b, o, count))


def _col2im_value(b, node, ix, rix, operand):
    a = node.attrs
    cols = node.inputs[0]
    (_, _, kh, kw, oh, ow), (sh, sw), (dh, dw), ((pt, _), (pl, _)) = cols.shape, a["stride"], a["dilation"], \
        a["padding"]
    n, c, y, x = ix
    i, oy, ok_y = _window_position(b, y, rix[0], kh, sh, pt, dh, oh)
    j, ox, ok_x = _window_position(b, x, rix[1], kw, sw, pl, dw, ow)
    return b.guard(b.and_(ok_y, ok_x), operand(0, (n, c, i, j, oy, ox)), b.const(0, cols.dtype))


def _col2im_rshape(node):
    (kh, kw), (sh, sw), (dh, dw) = node.inputs[0].shape[2:4], node.attrs["stride"], node.attrs["dilation"]
    return _taps(kh, sh, dh), _taps(kw, sw, dw)


def _col2im_ref(cols, size, stride, padding, dilation):
    (sh, sw), (dh, dw) = stride, dilation
    (pt, pb), (pl, pr) = padding
    n, c, kh, kw, oh, ow = cols.shape
    out = np.zeros((n, c, size[0] + pt + pb, size[1] + pl + pr), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw] += cols[:, :, i, j]
    return out[:, :, pt:pt + size[0], pl:pl + size[1]]


def _col2im_grad(e, g, y, cols, size, stride, padding, dilation):
    return (e.im2col(g, kernel=tuple(cols.shape[2:4]), stride=stride, padding=padding, dilation=dilation,
                     value=0),)


defop("col2im", shape=_col2im_shape, dtype=lambda types, **_: types[0].dtype, ref=_col2im_ref,
      reduce=_col2im_value, rshape=_col2im_rshape, combiner="sum",
      traits={"reduction", "gather", "internal"}, attrs=("size",) + WINDOW, grad=_col2im_grad)
