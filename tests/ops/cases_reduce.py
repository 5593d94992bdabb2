"""Conformance cases for reductions (axis None/int/tuple, negative, keepdims), norm and linear algebra."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .harness import (
    ALL,
    ANY,
    FLOATS,
    NUMERIC,
    Case,
    Dom,
    Example,
    array,
    axes,
    broadcast_shapes,
    kn,
    nonempty_along,
    shape,
)

GRID = Dom(-2.0, 2.0, step=0.5, int_lo=-3, int_hi=3)  # many ties for argmax/argmin
SUM_DOM = Dom(-10.0, 10.0, int_lo=-100, int_hi=100)
PROD_DOM = Dom(-2.0, 2.0, min_abs=0.5, int_lo=-3, int_hi=3)


def draw_reduction(pool, dom: Dom = ANY, *, nonempty: bool = False, tuple_axes: bool = True,
                   max_side: int = 4, max_dims: int = 4):
    """x, axis (None / int / tuple, maybe negative) and keepdims.

    nonempty: reduced dims get size >= 1 (max/min/mean/argmax have no identity); other dims
    may still be empty.
    """
    def draw(data):
        d = data.draw(st.sampled_from(pool), label="dtype")
        shp = shape(data, max_side=max_side, max_dims=max_dims)
        axis = axes(data, len(shp), allow_tuple=tuple_axes)
        if nonempty:
            shp = nonempty_along(shp, axis)
        keep = data.draw(st.booleans(), label="keepdims")
        return Example((array(data, d, shp, dom, "x"),), {"axis": axis, "keepdims": keep})
    return draw


def _reduction(name: str, pool, dom: Dom = ANY, *, scale=None, **kw) -> Case:
    fn = getattr(np, name)
    draw_kw = {k: kw.pop(k) for k in ("nonempty", "tuple_axes", "max_side", "max_dims") if k in kw}
    return Case(name, draw_reduction(pool, dom, **draw_kw),
                lambda x, *, axis, keepdims: getattr(kn, name)(x, axis=axis, keepdims=keepdims),
                lambda x, *, axis, keepdims: fn(x, axis=axis, keepdims=keepdims), scale=scale, **kw)


def _abs_reduce(fn):
    """Rounding error of a sum-like reduction is bounded by the same reduction of |x|."""
    return lambda x, *, axis, keepdims: fn(np.abs(x), axis=axis, keepdims=keepdims)


def logsumexp_ref(x, *, axis=None, keepdims=False):
    """scipy.special.logsumexp in float64 (stable: shift by the max)."""
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out


def _lse_scale(x, *, axis, keepdims):
    """Error of logsumexp grows with the magnitude of the max it shifts by."""
    lse = logsumexp_ref(x, axis=axis, keepdims=keepdims)
    return np.abs(lse) + np.max(np.abs(x), axis=axis, keepdims=keepdims)


# --- norm (numpy.linalg.norm: vector norms over one axis, matrix norms over two) -------------

def _draw_norm(data) -> Example:
    d = data.draw(st.sampled_from(FLOATS), label="dtype")
    forms = ["flat", "vector", "matrix", "axis_none_1d", "axis_none_2d"]
    form = data.draw(st.sampled_from(forms), label="form")
    ords = [None, 1, 2, np.inf]
    o = data.draw(st.sampled_from(ords), label="ord")
    keep = data.draw(st.booleans(), label="keepdims")
    if form == "flat":  # ord=None, axis=None: 2-norm of the flattened array, any ndim
        shp, o, axis = shape(data), None, None
    elif form == "vector":
        shp = shape(data, min_dims=1)
        axis = data.draw(st.integers(-len(shp), len(shp) - 1), label="axis")
        if o == np.inf:
            shp = nonempty_along(shp, axis)
    elif form == "matrix":
        shp = shape(data, min_dims=2)
        nd = len(shp)
        a0 = data.draw(st.integers(-nd, nd - 1), label="row_axis")
        a1 = data.draw(st.integers(-nd, nd - 1).filter(lambda a: a % nd != a0 % nd), label="col_axis")
        axis = (a0, a1)
        if o is not None:
            shp = nonempty_along(shp, axis)
    elif form == "axis_none_1d":
        shp, axis = shape(data, min_dims=1, max_dims=1, min_side=1 if o == np.inf else 0), None
    else:
        shp, axis = shape(data, min_dims=2, max_dims=2, min_side=0 if o is None else 1), None
    return Example((array(data, d, shp, ANY, "x"),), {"ord": o, "axis": axis, "keepdims": keep})


# --- matmul / dot / transpose ---------------------------------------------------------------

def _draw_matmul(data) -> Example:
    da = data.draw(st.sampled_from(NUMERIC), label="dtype_a")
    db = data.draw(st.sampled_from([da] + list(NUMERIC)), label="dtype_b")
    n, k, m = (data.draw(st.integers(0, 4), label=lbl) for lbl in ("n", "k", "m"))
    form = data.draw(st.sampled_from(["mm", "batched", "vv", "vm", "mv", "batched_v"]), label="form")
    ba, bb = broadcast_shapes(data, 2, max_dims=2, max_side=3) if "batched" in form else ((), ())
    sa = {"vv": (k,), "vm": (k,)}.get(form, ba + (n, k))
    sb = {"vv": (k,), "mv": (k,), "batched_v": (k,)}.get(form, bb + (k, m))
    dom = Dom(-10.0, 10.0, int_lo=-10, int_hi=10)
    return Example((array(data, da, sa, dom, "a"), array(data, db, sb, dom, "b")))


def _draw_dot(data) -> Example:
    da = data.draw(st.sampled_from(NUMERIC), label="dtype_a")
    db = data.draw(st.sampled_from([da] + list(NUMERIC)), label="dtype_b")
    k = data.draw(st.integers(0, 4), label="k")
    form = data.draw(st.sampled_from(["scalar", "vv", "mm", "mv", "nd_v", "nd_md"]), label="form")
    lead_a = shape(data, max_dims=2, max_side=3, label="lead_a")
    lead_b = shape(data, max_dims=1, max_side=3, label="lead_b")
    m = data.draw(st.integers(0, 3), label="m")
    if form == "scalar":
        sa, sb = (), shape(data, max_dims=3)
        if data.draw(st.booleans(), label="swap"):
            sa, sb = sb, sa
    else:
        sa = {"vv": (k,), "mm": (2, k), "mv": (3, k)}.get(form, lead_a + (k,))
        sb = {"vv": (k,), "mv": (k,), "nd_v": (k,), "mm": (k, m)}.get(form, lead_b + (k, m))
    dom = Dom(-10.0, 10.0, int_lo=-10, int_hi=10)
    return Example((array(data, da, sa, dom, "a"), array(data, db, sb, dom, "b")))


def _draw_transpose(data) -> Example:
    d = data.draw(st.sampled_from(ALL), label="dtype")
    shp = shape(data)
    perm = data.draw(st.none() | st.permutations(range(len(shp))).flatmap(
        lambda p: st.tuples(*[st.sampled_from([a, a - len(shp)]) for a in p])), label="axes")
    return Example((array(data, d, shp, ANY, "x"),), {"axes": perm})


def _draw_cumsum(data) -> Example:
    d = data.draw(st.sampled_from(ALL), label="dtype")
    shp = shape(data)
    axis = axes(data, len(shp), allow_tuple=False)
    return Example((array(data, d, shp, SUM_DOM, "x"),), {"axis": axis})


def cases() -> list[Case]:
    sum_scale = _abs_reduce(np.sum)
    return [
        _reduction("sum", ALL, SUM_DOM, scale=sum_scale),
        _reduction("mean", ALL, SUM_DOM, scale=_abs_reduce(np.mean), nonempty=True),
        _reduction("max", ALL, GRID, nonempty=True),
        _reduction("min", ALL, GRID, nonempty=True),
        _reduction("prod", ALL, PROD_DOM, max_side=3, max_dims=3),
        _reduction("argmax", ALL, GRID, nonempty=True, tuple_axes=False),
        _reduction("argmin", ALL, GRID, nonempty=True, tuple_axes=False),
        Case("cumsum", _draw_cumsum, lambda x, *, axis: kn.cumsum(x, axis=axis),
             lambda x, *, axis: np.cumsum(x, axis=axis),
             scale=lambda x, *, axis: np.cumsum(np.abs(x), axis=axis)),
        Case("logsumexp", draw_reduction(FLOATS, Dom(-20.0, 20.0), nonempty=True),
             lambda x, *, axis, keepdims: kn.logsumexp(x, axis=axis, keepdims=keepdims),
             logsumexp_ref, tol="transcendental", scale=_lse_scale,
             dtype=lambda ex: ex.args[0].dtype),
        Case("norm", _draw_norm,
             lambda x, *, ord, axis, keepdims: kn.norm(x, ord=ord, axis=axis, keepdims=keepdims),
             lambda x, *, ord, axis, keepdims: np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims),
             tol="transcendental", examples=40),
        Case("matmul", _draw_matmul, lambda a, b: kn.matmul(a, b), np.matmul,
             scale=lambda a, b: np.matmul(np.abs(a), np.abs(b))),
        Case("dot", _draw_dot, lambda a, b: kn.dot(a, b), np.dot,
             scale=lambda a, b: np.dot(np.abs(a), np.abs(b))),
        Case("transpose", _draw_transpose, lambda x, *, axes: kn.transpose(x, axes),
             lambda x, *, axes: np.transpose(x, axes)),
    ]
