"""Conformance cases for elementwise ops, astype, where and clip (NumPy broadcasting and promotion)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .harness import (
    ALL,
    ANY,
    FLOATS,
    INTS,
    NUMERIC,
    POS,
    Case,
    Dom,
    Example,
    array,
    broadcast_shapes,
    kn,
    scalar,
    shape,
)

F32, I32 = np.dtype("float32"), np.dtype("int32")
BIG_INT = Dom(-10.0, 10.0, int_lo=-1000, int_hi=1000)
GRID = Dom(-4.0, 4.0, step=0.5, int_lo=-4, int_hi=4)        # ties and equalities happen often
FLOOR_NUM = Dom(-16.0, 16.0, step=0.25, int_lo=-100, int_hi=100)
FLOOR_DEN = Dom(-4.0, 4.0, step=0.5, nonzero=True, int_lo=-10, int_hi=10)


def _pair(data, pool) -> tuple[str, str]:
    """Two dtypes from pool; often equal, sometimes mixed (array-array promotion)."""
    a = data.draw(st.sampled_from(pool), label="dtype_a")
    same = data.draw(st.booleans(), label="same_dtype")
    return a, (a if same else data.draw(st.sampled_from(pool), label="dtype_b"))


def draw_binary(pool, dom_a: Dom = ANY, dom_b: Dom | None = None):
    """Two broadcastable arrays of (maybe mixed) dtypes from pool."""
    def draw(data):
        da, db = _pair(data, pool)
        sa, sb = broadcast_shapes(data, 2)
        return Example((array(data, da, sa, dom_a, "a"), array(data, db, sb, dom_b or dom_a, "b")))
    return draw


def draw_unary(pool, dom: Dom = ANY):
    def draw(data):
        d = data.draw(st.sampled_from(pool), label="dtype")
        return Example((array(data, d, shape(data), dom, "x"),))
    return draw


def _abs_sum(a, b):
    return np.abs(a) + np.abs(b)


def _binary(name, pool, dom_a=ANY, dom_b=None, **kw) -> Case:
    fn = getattr(np, name)
    return Case(name, draw_binary(pool, dom_a, dom_b), lambda a, b: getattr(kn, name)(a, b), fn, **kw)


def _unary(name, pool, dom=ANY, **kw) -> Case:
    fn = getattr(np, name)
    return Case(name, draw_unary(pool, dom), lambda x: getattr(kn, name)(x), fn, **kw)


# --- power: keep clear of int negative exponents and negative bases with fractional exponents

def _draw_power(data) -> Example:
    da, db = _pair(data, NUMERIC)
    sa, sb = broadcast_shapes(data, 2)
    ints = np.dtype(da).kind == "i" and np.dtype(db).kind == "i"
    base_dom = Dom(-4.0, 4.0) if ints else Dom(0.1, 5.0, int_lo=1, int_hi=5)
    exp_dom = Dom(0.0, 5.0) if ints else Dom(-3.0, 3.0)
    return Example((array(data, da, sa, base_dom, "base"), array(data, db, sb, exp_dom, "exponent")))


def _draw_power_negative_base(data) -> Example:
    """Negative float bases with integral float exponents are defined (NumPy: (-2.)**3. == -8.)."""
    d = data.draw(st.sampled_from(FLOATS), label="dtype")
    sa, sb = broadcast_shapes(data, 2)
    base = array(data, d, sa, Dom(-4.0, -0.25), "base")
    return Example((base, array(data, d, sb, Dom(-3.0, 3.0, step=1.0), "exponent")))


# --- weak Python scalars (API.md: x_f32 * 2.0 stays float32, x_i32 * 2.0 is float32, x_i32 * 2 int32)

def weak_dtype(arr_dtype: np.dtype, s) -> np.dtype:
    d = np.dtype(arr_dtype)
    if isinstance(s, float) and d.kind in "iub":
        return F32
    if isinstance(s, int) and not isinstance(s, bool) and d.kind == "b":
        return I32
    return d


EXPONENT = Dom(-3.0, 3.0, int_lo=0, int_hi=4)
POS_BASE = Dom(0.5, 4.0, step=0.5, int_lo=1, int_hi=4)
NZ_GRID = Dom(-8.0, 8.0, step=0.5, nonzero=True)

SCALAR_OPS = {
    # name: (array pool, (array dom, scalar dom) with the array on the left, same with the scalar
    #        on the left, result is bool)
    "add": (NUMERIC, (ANY, ANY), (ANY, ANY), False),
    "subtract": (NUMERIC, (ANY, ANY), (ANY, ANY), False),
    "multiply": (NUMERIC, (ANY, ANY), (ANY, ANY), False),
    "divide": (FLOATS, (ANY, NZ_GRID), (Dom(-10.0, 10.0, nonzero=True), ANY), False),
    "floor_divide": (NUMERIC, (FLOOR_NUM, FLOOR_DEN), (FLOOR_DEN, FLOOR_NUM), False),
    "mod": (NUMERIC, (FLOOR_NUM, FLOOR_DEN), (FLOOR_DEN, FLOOR_NUM), False),
    "power": (NUMERIC, (Dom(0.1, 5.0, int_lo=0, int_hi=5), Dom(0.0, 3.0, step=0.5)), (EXPONENT, POS_BASE),
              False),
    "maximum": (NUMERIC, (GRID, GRID), (GRID, GRID), False),
    "minimum": (NUMERIC, (GRID, GRID), (GRID, GRID), False),
    "equal": (NUMERIC, (GRID, GRID), (GRID, GRID), True),
    "less": (NUMERIC, (GRID, GRID), (GRID, GRID), True),
    "greater_equal": (NUMERIC, (GRID, GRID), (GRID, GRID), True),
}


def draw_with_scalar(pool, right: tuple[Dom, Dom], left: tuple[Dom, Dom], static: bool = False):
    """An array and a Python int/float scalar, in either order (`right`: array op scalar).

    With static=False the scalar is a traced argument under jit (a weakly typed scalar);
    with static=True it is closed over (a Python constant at trace time, e.g. `2.0 - t`).
    """
    def draw(data):
        d = data.draw(st.sampled_from(pool), label="dtype")
        on_left = data.draw(st.booleans(), label="scalar_on_left")
        arr_dom, sc_dom = left if on_left else right
        x = array(data, d, shape(data), arr_dom, "x")
        kinds = ["int", "float"] if d != "int64" else ["int"]  # int64 with a weak float: unspecified
        sk = data.draw(st.sampled_from(kinds), label="scalar_kind")
        s = scalar(data, "int32" if sk == "int" else "float64", sc_dom, "scalar")
        if static:
            return Example((x,), {"s": s, "left": on_left})
        return Example((s, x) if on_left else (x, s))
    return draw


def _split_scalar(ex):
    """(scalar, array) of a drawn array/scalar example, whatever the order."""
    if isinstance(ex.args[0], np.ndarray):
        return ex.args[1], ex.args[0]
    return ex.args[0], ex.args[1]


def _scalar_case(name: str) -> Case:
    pool, right, left, to_bool = SCALAR_OPS[name]

    def dtype(ex):
        if to_bool:
            return np.dtype(bool)
        s, x = _split_scalar(ex)
        return weak_dtype(x.dtype, s)

    scale = _abs_sum if name in ("add", "subtract") else None
    tol = "transcendental" if name == "power" else "ordinary"
    return Case(f"{name}:scalar", draw_with_scalar(pool, right, left),
                lambda a, b: getattr(kn, name)(a, b), getattr(np, name), dtype=dtype, scale=scale, tol=tol)


# --- where / clip / astype ----------------------------------------------------------------------

def _draw_where(data) -> Example:
    dx, dy = _pair(data, ALL)
    sc, sx, sy = broadcast_shapes(data, 3)
    cond = array(data, "bool", sc, ANY, "cond")
    return Example((cond, array(data, dx, sx, ANY, "x"), array(data, dy, sy, ANY, "y")))


def _draw_where_scalar(data) -> Example:
    d = data.draw(st.sampled_from(NUMERIC), label="dtype")
    sc, sx = broadcast_shapes(data, 2)
    s = scalar(data, data.draw(st.sampled_from(["int32", "float64"]) if d != "int64" else st.just("int32")),
               ANY, "scalar")
    return Example((array(data, "bool", sc, ANY, "cond"), array(data, d, sx, ANY, "x"), s))


def _draw_clip(data) -> Example:
    d = data.draw(st.sampled_from(NUMERIC), label="dtype")
    x = array(data, d, shape(data), GRID, "x")
    kinds = ["int"] if np.dtype(d).kind == "i" else ["int", "float"]
    kind = data.draw(st.sampled_from(kinds), label="bound_kind")
    sd = "int32" if kind == "int" else "float64"
    lo = scalar(data, sd, GRID, "a_min")
    hi = lo + scalar(data, sd, Dom(0.0, 4.0, step=0.5, int_lo=0, int_hi=4), "width")
    return Example((x,), {"a_min": lo, "a_max": hi})


def _draw_clip_array(data) -> Example:
    d = data.draw(st.sampled_from(NUMERIC), label="dtype")
    sx, sl, sh = broadcast_shapes(data, 3)
    lo = array(data, d, sl, GRID, "a_min")
    width = array(data, d, sh, Dom(0.0, 4.0, step=0.5, int_lo=0, int_hi=4), "width")
    hi = (np.broadcast_to(lo, np.broadcast_shapes(sl, sh)) + width).astype(d)
    return Example((array(data, d, sx, GRID, "x"), lo, hi))


DTYPE_FORMS = ("kiln", "numpy", "string")


def dtype_spec(name: str, form: str):
    """A dtype as the user may spell it: kn.float32, np.float32 / np.dtype, or 'float32'."""
    if form == "kiln":
        return getattr(kn, "bool_" if name == "bool" else name)
    if form == "numpy":
        return np.dtype(name)
    return name


def _draw_astype(data) -> Example:
    src = data.draw(st.sampled_from(ALL), label="from")
    dst = data.draw(st.sampled_from(ALL), label="to")
    form = data.draw(st.sampled_from(DTYPE_FORMS), label="dtype_form")
    x = array(data, src, shape(data), Dom(-1000.0, 1000.0, int_lo=-1000, int_hi=1000), "x")
    return Example((x,), {"to": dst, "form": form})


def _clip_scalars_dtype(ex):
    (x,) = ex.args
    return weak_dtype(x.dtype, ex.static["a_min"]) if isinstance(ex.static["a_min"], float) else x.dtype


def _where_scalar_dtype(ex):
    return weak_dtype(ex.args[1].dtype, ex.args[2])


TRANSCENDENTAL = {
    # name: (float domain, int domain, absolute floor)
    "exp": (Dom(-15.0, 15.0), Dom(-10.0, 10.0), 0.0),
    "log": (POS, POS, 0.01),
    "log1p": (Dom(-0.999, 100.0), Dom(0.0, 1000.0), 0.0),
    "sqrt": (Dom(0.0, 1e4), Dom(0.0, 1e4), 0.0),
    "sin": (Dom(-10.0, 10.0), Dom(-10.0, 10.0), 0.01),
    "cos": (Dom(-10.0, 10.0), Dom(-10.0, 10.0), 0.01),
    "tanh": (Dom(-10.0, 10.0), Dom(-10.0, 10.0), 1e-3),
}


def cases() -> list[Case]:
    out = [
        _binary("add", ALL, BIG_INT, scale=_abs_sum),
        _binary("subtract", NUMERIC, BIG_INT, scale=_abs_sum),
        _binary("multiply", ALL, BIG_INT),
        _binary("divide", NUMERIC, ANY, Dom(-10.0, 10.0, nonzero=True)),
        _binary("floor_divide", NUMERIC, FLOOR_NUM, FLOOR_DEN),
        _binary("mod", NUMERIC, FLOOR_NUM, FLOOR_DEN),
        Case("power", _draw_power, lambda a, b: kn.power(a, b), np.power, tol="transcendental"),
        Case("power:negative_base", _draw_power_negative_base, lambda a, b: kn.power(a, b), np.power,
             tol="transcendental", examples=10),
        _binary("maximum", ALL, GRID),
        _binary("minimum", ALL, GRID),
        _unary("negative", NUMERIC, BIG_INT),
        _unary("abs", ALL, BIG_INT),
        _unary("sign", NUMERIC, GRID),
        _unary("square", NUMERIC, BIG_INT),
        _unary("floor", NUMERIC, Dom(-10.0, 10.0, step=0.25)),
        _unary("ceil", NUMERIC, Dom(-10.0, 10.0, step=0.25)),
        _unary("logical_not", ALL, GRID),
        Case("stop_gradient", draw_unary(ALL), lambda x: kn.stop_gradient(x), lambda x: x, examples=6),
        *[_binary(n, ALL, GRID) for n in ("equal", "not_equal", "less", "less_equal", "greater",
                                          "greater_equal", "logical_and", "logical_or")],
        Case("where", _draw_where, lambda c, x, y: kn.where(c, x, y), np.where),
        Case("where:scalar", _draw_where_scalar, lambda c, x, s: kn.where(c, x, s), np.where,
             dtype=_where_scalar_dtype, examples=10),
        Case("clip", _draw_clip, lambda x, *, a_min, a_max: kn.clip(x, a_min, a_max),
             lambda x, *, a_min, a_max: np.clip(x, a_min, a_max), dtype=_clip_scalars_dtype),
        Case("clip:array", _draw_clip_array, lambda x, lo, hi: kn.clip(x, lo, hi), np.clip, examples=10),
        Case("astype", _draw_astype,
             lambda x, *, to, form: kn.astype(x, dtype_spec(to, form)),
             lambda x, *, to, form: x.astype(to)),
    ]
    for name, (fdom, idom, atol) in TRANSCENDENTAL.items():
        out.append(_unary(name, FLOATS, fdom, tol="transcendental", atol=atol))
        # NumPy computes int inputs in float64 (kiln's float_of rule agrees)
        out.append(Case(f"{name}:int", draw_unary(INTS, idom), lambda x, n=name: getattr(kn, n)(x),
                        getattr(np, name), tol="transcendental", atol=atol, examples=6))
    out.append(Case("sigmoid", draw_unary(FLOATS, Dom(-30.0, 30.0)), lambda x: kn.nn.sigmoid(x),
                    lambda x: 1 / (1 + np.exp(-x)), tol="transcendental"))
    out += [_scalar_case(n) for n in SCALAR_OPS]
    return out
