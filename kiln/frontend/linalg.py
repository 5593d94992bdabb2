"""numpy.linalg.norm semantics: vector p-norms and the matrix norms (1, 2, inf, fro, ...)."""
from __future__ import annotations

import math

from ..errors import ShapeError
from ..ir import dtypes as dt
from . import ops
from .core import lift, user_loc
from .shape_ops import reshape, squeeze, transpose

_SQUARINGS = 24  # spectral norm: (λ2/λ1)^(2^24) is far below float64 precision


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    t = lift(x)
    if not t.dtype.is_float:
        t = ops.astype(t, dt.float_of(t.dtype))
    nd = len(t.shape)
    if axis is None:
        if ord is None or (ord == "fro" and nd == 2):
            return _root(ops.sum(ops.square(t), None, keepdims=keepdims), 2)
        if nd == 1:
            axis = (0,)
        elif nd == 2:
            axis = (0, 1)
        else:
            raise ShapeError(f"improper number of dimensions to norm: {t.shape} with ord={ord}",
                             op="norm", loc=user_loc())
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % nd for a in axes)
    if len(axes) == 1:
        return _vector(t, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix(t, ord, axes, keepdims)
    raise ShapeError(f"improper number of axes to norm: {axis}", op="norm", loc=user_loc())


def _vector(t, ord, ax, keepdims):  # noqa: A002
    a = ops.abs(t)
    if ord is None or ord == 2:
        return _root(ops.sum(ops.square(t), ax, keepdims=keepdims), 2)
    if ord == math.inf:
        return ops.max(a, ax, keepdims=keepdims)
    if ord == -math.inf:
        return ops.min(a, ax, keepdims=keepdims)
    if ord == 0:
        return ops.sum(ops.astype(ops.not_equal(t, 0), t.dtype), ax, keepdims=keepdims)
    if ord == 1:
        return ops.sum(a, ax, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"invalid norm order {ord!r} for vectors")
    return _root(ops.sum(ops.power(a, float(ord)), ax, keepdims=keepdims), float(ord))


def _root(s, p: float):
    """s^(1/p) for a p-norm of a sum s of |x|^p, whose gradient at the origin is 0 (the
    smallest subgradient, as abs'(0) = 0; PyTorch's value) where the plain root gives
    inf·0 = NaN; the other branch sees 1, never 0, so its own gradient stays finite."""
    zero = ops.equal(s, 0)
    safe = ops.where(zero, 1.0, s)
    return ops.where(zero, 0.0, ops.sqrt(safe) if p == 2 else ops.power(safe, 1.0 / p))


def _matrix(t, ord, axes, keepdims):  # noqa: A002
    r, c = axes
    if r == c:
        raise ValueError("duplicate axes given to norm")
    a = ops.abs(t)
    if ord in (None, "fro"):
        out = _root(ops.sum(ops.square(t), axes, keepdims=True), 2)
    elif ord in (1, -1):
        red = ops.max if ord == 1 else ops.min
        out = red(ops.sum(a, r, keepdims=True), c, keepdims=True)
    elif ord in (math.inf, -math.inf):
        red = ops.max if ord == math.inf else ops.min
        out = red(ops.sum(a, c, keepdims=True), r, keepdims=True)
    elif ord == 2:
        out = _spectral(t, r, c)
    else:
        raise ValueError(f"invalid norm order {ord!r} for matrices (kiln has None, 'fro', 1, -1, 2, inf, -inf)")
    return out if keepdims else squeeze(out, axes)


def _spectral(t, r, c):
    """Largest singular value over axes (r, c), kept as size-1 dims: repeated squaring of the
    normalised Gram matrix converges to its top eigenvector; a Rayleigh quotient reads σ²."""
    nd = len(t.shape)
    rest = [d for d in range(nd) if d not in (r, c)]
    m = transpose(t, tuple(rest) + (r, c))
    g = ops.matmul(transpose(m, tuple(range(len(rest))) + (len(rest) + 1, len(rest))), m)  # Aᵀ A
    p = g
    for _ in range(_SQUARINGS):
        scale = ops.sum(ops.abs(p), (-2, -1), keepdims=True)
        p = ops.matmul(p, ops.divide(p, ops.where(ops.equal(scale, 0.0), 1.0, scale)))
    col = ops.argmax(ops.sum(ops.square(p), -2), -1)  # the largest column is the eigenvector
    v = ops.take(p, col, axis=len(rest) + 1) if not rest else _batched_column(p, col)
    v = reshape(v, v.shape + (1,))
    gv = ops.matmul(g, v)
    num = ops.sum(ops.multiply(v, gv), (-2, -1))
    den = ops.sum(ops.square(v), (-2, -1))
    sigma = ops.sqrt(ops.maximum(ops.divide(num, ops.where(ops.equal(den, 0.0), 1.0, den)), 0.0))
    out = reshape(sigma, tuple(t.shape[d] for d in rest))
    shape = [1 if d in (r, c) else n for d, n in enumerate(t.shape)]
    return reshape(out, tuple(shape))


def _batched_column(p, col):
    """p[..., :, col[...]] for a batch of matrices."""
    n = p.shape[-1]
    hot = ops.astype(ops.equal(reshape(col, col.shape + (1, 1)), ops.arange(n, dtype=dt.int64)), p.dtype)
    return ops.sum(ops.multiply(p, hot), -1)
