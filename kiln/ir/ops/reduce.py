"""Reductions over a set of axes (sum, prod, max, min) and along one axis (argmax, argmin)."""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from .. import dtypes as dt
from ..opdef import defop, norm_axis


def _axes(ndim: int, axes) -> tuple[int, ...]:
    if ndim == 0 and axes:  # norm_axis lets axis 0 of a 0-d array through; a reduction has none
        raise ShapeError(f"axis {axes[0]} is out of bounds for an array of dimension 0")
    out = tuple(sorted({norm_axis(a, ndim) for a in axes}))
    if len(out) != len(axes):
        raise ShapeError(f"duplicate value in axes {tuple(axes)}")
    return out


def _reduce_shape(types, axes, keepdims):
    (x,) = types
    ax = _axes(x.ndim, axes)
    return tuple(1 if d in ax else n for d, n in enumerate(x.shape) if keepdims or d not in ax)


def _point(b, node, ix, rix, axes):
    """Input index for output point `ix` and reduction point `rix` over `axes`."""
    x = node.inputs[0]
    keep = node.attrs["keepdims"]
    out_dims = iter(ix)
    r = iter(rix)
    full = []
    for d in range(x.ndim):
        if d in axes:
            full.append(next(r))
            if keep:
                next(out_dims)
        else:
            full.append(next(out_dims))
    return tuple(full)


def _reduce_value(b, node, ix, rix, operand):
    axes = _axes(node.inputs[0].ndim, node.attrs["axes"])
    return operand(0, _point(b, node, ix, rix, axes))


def _rshape(node):
    x = node.inputs[0]
    return tuple(x.shape[a] for a in _axes(x.ndim, node.attrs["axes"]))


def _numeric_dtype(types, **_):
    d = types[0].dtype
    if d.is_bool:
        raise DTypeError("reduce a bool array after casting it (kn.sum casts to int64 itself)")
    return d


def _empty_check(types, axes, keepdims, name):
    x = types[0]
    if any(x.shape[a] == 0 for a in _axes(x.ndim, axes)):
        raise ShapeError(f"zero-size array to reduction operation {name} which has no identity")
    return _reduce_shape(types, axes, keepdims)


# gradients (the driver unbroadcasts; `e` is an ir.builder.Emitter) ---------------------------

def _kept(x, axes) -> tuple[int, ...]:
    """x's shape with the reduced axes kept as size 1."""
    ax = _axes(x.ndim, axes)
    return tuple(1 if d in ax else n for d, n in enumerate(x.shape))


def _sum_grad(e, g, y, x, axes, keepdims):
    return (e.broadcast(e.reshape_to(g, _kept(x, axes)), x.shape),)


def _prod_grad(e, g, y, x, axes, keepdims):
    """Product of the other elements, exact with zeros: one zero in a group gets the product of
    the rest, everything else 0; no zero: y / x (computed on zero-free values)."""
    zero, one = e.const(0, x.dtype), e.const(1, x.dtype)
    ax = _axes(x.ndim, axes)
    is0 = e.equal(x, zero)
    nz = e.where(is0, one, x)
    p = e.prod(nz, axes=ax, keepdims=True)
    n0 = e.sum(e.astype(is0, dtype=x.dtype.name), axes=ax, keepdims=True)
    at_zero = e.where(e.equal(n0, one), p, zero)
    elsewhere = e.where(e.equal(n0, zero), e.divide(p, nz), zero)
    d = e.where(is0, at_zero, elsewhere)
    return (e.multiply(e.broadcast(e.reshape_to(g, _kept(x, axes)), x.shape), d),)


def _extremum_grad(e, g, y, x, axes, keepdims):
    """max/min: g goes to the positions equal to the result, split evenly among ties."""
    kept = _kept(x, axes)
    ax = _axes(x.ndim, axes)
    mask = e.astype(e.equal(x, e.broadcast(e.reshape_to(y, kept), x.shape)), dtype=x.dtype.name)
    count = e.sum(mask, axes=ax, keepdims=True)
    return (e.multiply(e.divide(e.reshape_to(g, kept), count), mask),)


def reduction(name, ref, combiner, identity_required=False, grad=None):
    shape = (lambda types, axes, keepdims: _empty_check(types, axes, keepdims, name)) if identity_required \
        else _reduce_shape
    defop(name, shape=shape, dtype=_numeric_dtype if name in ("sum", "prod") else (lambda t, **_: t[0].dtype),
          ref=lambda x, axes, keepdims: ref(x, axis=tuple(axes), keepdims=keepdims),
          reduce=_reduce_value, rshape=_rshape, combiner=combiner, traits={"reduction"},
          attrs=("axes", "keepdims"), grad=grad)


reduction("sum", np.sum, "sum", grad=_sum_grad)
reduction("prod", np.prod, "prod", grad=_prod_grad)
reduction("max", np.max, "max", identity_required=True, grad=_extremum_grad)
reduction("min", np.min, "min", identity_required=True, grad=_extremum_grad)


def _arg_shape(types, axis, keepdims):
    x = types[0]
    ax = norm_axis(axis, x.ndim)
    if x.ndim == 0 or x.shape[ax] == 0:
        raise ShapeError("attempt to get argmax/argmin of an empty sequence")
    return tuple(1 if d == ax else n for d, n in enumerate(x.shape) if keepdims or d != ax)


def _arg_value(b, node, ix, rix, operand):
    x = node.inputs[0]
    ax = norm_axis(node.attrs["axis"], x.ndim)
    return operand(0, _point(b, node, ix, rix, (ax,)))


def _arg_rshape(node):
    x = node.inputs[0]
    return (x.shape[norm_axis(node.attrs["axis"], x.ndim)],)


def argreduction(name, ref):
    defop(name, shape=_arg_shape, dtype=lambda types, **_: dt.int64,
          ref=lambda x, axis, keepdims: ref(x, axis=axis, keepdims=keepdims),
          reduce=_arg_value, rshape=_arg_rshape, combiner=name, traits={"reduction"}, attrs=("axis", "keepdims"))


argreduction("argmax", np.argmax)
argreduction("argmin", np.argmin)


def _scan_value(b, node, ix, rix, operand):
    ax = norm_axis(node.attrs["axis"], node.inputs[0].ndim)
    return operand(0, ix[:ax] + rix + ix[ax:])


def _no_scalar_scan(ndim: int) -> None:
    """NumPy's cumsum of a 0-d array along axis 0 has shape (1,); kiln refuses it instead."""
    if ndim == 0:
        raise ShapeError("cumsum of a 0-d array: reshape it to (1,) first")


def _scan_shape(types, axis):
    _no_scalar_scan(types[0].ndim)
    norm_axis(axis, types[0].ndim)
    return types[0].shape


def _flip(e, v, axis: int):
    """v reversed along `axis` (a slice with step -1)."""
    n = v.shape[axis]
    starts = tuple(n - 1 if d == axis else 0 for d in range(v.ndim))
    stops = tuple(-1 if d == axis else m for d, m in enumerate(v.shape))
    steps = tuple(-1 if d == axis else 1 for d in range(v.ndim))
    return e.slice(v, starts=starts, stops=stops, steps=steps)


def _cumsum_grad(e, g, y, x, axis):
    """The transpose of an inclusive scan is the reversed scan of the reversed cotangent."""
    ax = norm_axis(axis, x.ndim)
    if x.shape[ax] <= 1:
        return (g,)
    return (_flip(e, e.cumsum(_flip(e, g, ax), axis=ax), ax),)


def _cumsum_ref(x, axis):
    _no_scalar_scan(x.ndim)
    return np.cumsum(x, axis=axis)


defop("cumsum", shape=_scan_shape, dtype=_numeric_dtype, ref=_cumsum_ref,
      reduce=_scan_value, rshape=lambda node: (node.inputs[0].shape[node.attrs["axis"]],), combiner="cumsum",
      traits={"reduction", "scan"}, attrs=("axis",), grad=_cumsum_grad)
