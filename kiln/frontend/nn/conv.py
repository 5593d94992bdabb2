"""Convolution and pooling (NCHW inputs, OIHW kernels) over the registry's window ops.

conv2d is im2col + one GEMM: the windows are laid out as (G, C/G·KH·KW, N·OH·OW) so the
whole batch is a single BLAS call per group (not N small ones); bias and activation fuse
after it as epilogues. Pooling reduces over the window axes, so fusion reads the input
through the window index map and never materializes the windows. Gradients come from the
ops' rules: col2im for im2col, the reductions' and matmul's own.
"""
from __future__ import annotations

from ...errors import DTypeError, ShapeError
from ...ir.ops.window import out_size
from .. import ops
from ..core import apply, lift, user_loc
from ..shape_ops import pad, reshape, transpose


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(n, int) for n in v):
        return int(v[0]), int(v[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")


def _padding(p) -> tuple[tuple[int, int], tuple[int, int]]:
    """int, (ph, pw) or ((top, bottom), (left, right))."""
    if isinstance(p, int):
        return (p, p), (p, p)
    if isinstance(p, (tuple, list)) and len(p) == 2:
        if all(isinstance(n, int) for n in p):
            return (p[0], p[0]), (p[1], p[1])
        if all(isinstance(q, (tuple, list)) and len(q) == 2 and all(isinstance(n, int) for n in q) for q in p):
            return (int(p[0][0]), int(p[0][1])), (int(p[1][0]), int(p[1][1]))
    raise ValueError(f"padding must be an int, (ph, pw) or ((top, bottom), (left, right)), got {p!r}")


def _geometry(op: str, t, kernel, stride, padding, dilation):
    """Checked window parameters ((KH, KW), stride, padding, dilation) and the output (OH, OW)."""
    if len(t.shape) != 4:
        raise ShapeError(f"expected an NCHW input of 4 dimensions, got shape {tuple(t.shape)}", op=op,
                         loc=user_loc())
    k, s, p, d = _pair(kernel, "kernel"), _pair(stride, "stride"), _padding(padding), _pair(dilation, "dilation")
    ok = min(k + s + d) >= 1 and min(p[0] + p[1]) >= 0
    out = tuple(out_size(n, kk, ss, lo, hi, dd) for n, kk, ss, (lo, hi), dd in zip(t.shape[2:], k, s, p, d)) \
        if ok else (0,)
    if min(out) < 1:
        raise ShapeError(f"kernel {k}, stride {s}, padding {p}, dilation {d} do not fit an input of shape "
                         f"{tuple(t.shape)}", op=op, loc=user_loc())
    return k, s, p, d, out


def _windows(op: str, x, kernel, stride, padding, dilation, fill, padded: bool = False):
    """(N, C, KH, KW, OH, OW): every window's elements, padding read as `fill`. With `padded`,
    the padding is a `pad` of its own, which fusion materializes when the windows are read
    many times over, so the loops reading them need no bounds tests and vectorize."""
    t = lift(x)
    k, s, p, d, _ = _geometry(op, t, kernel, stride, padding, dilation)
    if padded and max(p[0] + p[1]) > 0:
        t, p = pad(t, ((0, 0), (0, 0)) + p, constant_values=fill), ((0, 0), (0, 0))
    return apply("im2col", [t], kernel=k, stride=s, padding=p, dilation=d, value=fill)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups: int = 1):
    """Cross-correlation of x (N, C, H, W) with w (O, C/groups, KH, KW), plus bias b (O,)."""
    wt, t = lift(w), lift(x)
    if len(wt.shape) != 4 or len(t.shape) != 4:
        raise ShapeError(f"expected input NCHW and kernel OIHW, got {tuple(t.shape)} and "
                         f"{tuple(wt.shape)}", op="conv2d", loc=user_loc())
    o, cg, kh, kw = wt.shape
    if not isinstance(groups, int) or groups < 1 or t.shape[1] != cg * groups or o % groups:
        raise ShapeError(f"input has {t.shape[1]} channels, kernel {tuple(wt.shape)} with groups={groups} "
                         f"needs {cg * groups} (and out channels divisible by groups)", op="conv2d", loc=user_loc())
    if t.dtype != wt.dtype:
        raise DTypeError(f"input is {t.dtype} but kernel is {wt.dtype}", op="conv2d", loc=user_loc())
    direct = cg * kh * kw <= DIRECT_TAPS
    _, s, p, d, (oh, ow) = _geometry("conv2d", t, (kh, kw), stride, padding, dilation)
    if direct and s == (1, 1):
        y = _direct_rows(t, wt, groups, p, d, oh, ow)
    elif direct:
        y = _direct(_windows("conv2d", t, (kh, kw), s, p, d, 0, padded=True), wt, groups)
    else:
        win = _windows("conv2d", t, (kh, kw), s, p, d, 0)
        n = t.shape[0]
        cols = reshape(transpose(win, (1, 2, 3, 0, 4, 5)), (groups, cg * kh * kw, n * oh * ow))
        y = ops.matmul(reshape(wt, (groups, o // groups, cg * kh * kw)), cols)  # (G, O/G, N·OH·OW)
        y = transpose(reshape(y, (o, n, oh, ow)), (1, 0, 2, 3))
    if b is None:
        return y
    bias = lift(b)
    if tuple(bias.shape) != (o,):
        raise ShapeError(f"bias must have shape ({o},) for a kernel of {o} output channels, got "
                         f"{tuple(bias.shape)}", op="conv2d", loc=user_loc())
    return ops.add(y, reshape(bias, (1, o, 1, 1)))


DIRECT_TAPS = 32  # products per output below which a convolution is one fused reduction, not a GEMM


def _direct(win, wt, groups: int):
    """Each output a sum of C/G·KH·KW window-times-kernel products, read straight from the
    input: no window matrix is written, and bias and activation fuse after the sum."""
    n, c, kh, kw, oh, ow = win.shape
    o, cg = wt.shape[:2]
    x = reshape(win, (n, groups, 1, cg, kh, kw, oh, ow))
    k = reshape(wt, (1, groups, o // groups, cg, kh, kw, 1, 1))
    return reshape(ops.sum(ops.multiply(x, k), axis=(3, 4, 5)), (n, o, oh, ow))


def _direct_rows(t, wt, groups: int, padding, dilation, oh: int, ow: int):
    """A stride-1 direct convolution over whole padded rows: with the padded input flattened
    to one line per channel (row length Wp), tap (i, j) of output position l = h·Wp + w is
    the input at l + i·dh·Wp + j·dw, a plain shift. So outputs are computed for all Wp
    columns (the last Wp − OW of each row are discarded), and every loop — the products
    here, the weight gradient's sums — runs over one long contiguous line that vectorizes
    without bounds tests or short-row remainders. One extra zero row at the bottom keeps
    the discarded columns' reads inside the buffer."""
    n, c = t.shape[:2]
    o, cg, kh, kw = wt.shape
    (pt, pb), (pl, pr) = padding
    dh, dw = dilation
    xp = pad(t, ((0, 0), (0, 0), (pt, pb + 1), (pl, pr)))
    hp, wp = xp.shape[2:]
    line = reshape(xp, (n, c, 1, hp * wp))
    cols = apply("im2col", [line], kernel=(1, kw), stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, dw),
                 value=0)  # (N, C, 1, KW, 1, L1)
    cols = reshape(cols, (n, c * kw, 1, cols.shape[-1]))
    cols = apply("im2col", [cols], kernel=(1, kh), stride=(1, 1), padding=((0, 0), (0, 0)),
                 dilation=(1, dh * wp), value=0)  # (N, C·KW, 1, KH, 1, L2), L2 >= OH·Wp
    cols = reshape(reshape(cols, (n, groups, 1, cg, kw, kh, cols.shape[-1]))[..., :oh * wp],
                   (n, groups, 1, cg, kw, kh, oh, wp))
    k = reshape(transpose(wt, (0, 1, 3, 2)), (1, groups, o // groups, cg, kw, kh, 1, 1))
    y = reshape(ops.sum(ops.multiply(cols, k), axis=(3, 4, 5)), (n, o, oh, wp))
    return y[..., :ow]


def _pool_padding(op: str, kernel, padding) -> None:
    """PyTorch's rule: padding at most half the window, so no window lies wholly in padding."""
    (kh, kw), ((pt, pb), (pl, pr)) = _pair(kernel, "kernel"), _padding(padding)
    if max(pt, pb) > kh // 2 or max(pl, pr) > kw // 2:
        raise ShapeError(f"padding {padding} must be at most half the kernel {(kh, kw)}", op=op,
                         loc=user_loc())


def max_pool2d(x, kernel, stride=None, padding=0):
    """Window maxima; padding never wins (it reads as -inf, as in PyTorch)."""
    t = lift(x)
    _pool_padding("max_pool2d", kernel, padding)
    fill = float("-inf") if t.dtype.is_float else int(-(2 ** (t.dtype.bits - 1)))
    win = _windows("max_pool2d", t, kernel, kernel if stride is None else stride, padding, 1, fill)
    return ops.max(win, axis=(2, 3))


def avg_pool2d(x, kernel, stride=None, padding=0):
    """Window means counting the zero padding (PyTorch's default count_include_pad=True)."""
    _pool_padding("avg_pool2d", kernel, padding)
    win = _windows("avg_pool2d", x, kernel, kernel if stride is None else stride, padding, 1, 0)
    return ops.mean(win, axis=(2, 3))


def global_avg_pool2d(x, keepdims: bool = True):
    """Mean over H and W: (N, C, 1, 1) (Gluon's GlobalAvgPool2D), or (N, C) without keepdims."""
    t = lift(x)
    if len(t.shape) != 4:
        raise ShapeError(f"expected an NCHW input, got shape {tuple(t.shape)}",
                         op="global_avg_pool2d", loc=user_loc())
    return ops.mean(t, axis=(2, 3), keepdims=keepdims)
