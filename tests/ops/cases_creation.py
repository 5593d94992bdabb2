"""Conformance cases for creation functions.

kiln convention (API.md): Python numbers create float32 / int32 arrays (like JAX/TF), where
NumPy would make float64 / int64; an explicit dtype or an array argument decides otherwise.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .cases_elementwise import DTYPE_FORMS, dtype_spec
from .harness import ALL, ANY, Case, Example, array, kn, shape

F32, I32, BOOL = np.dtype("float32"), np.dtype("int32"), np.dtype("bool")


def default_dtype(value) -> np.dtype:
    """kiln's dtype for a Python scalar (or nested list of them) without an explicit dtype."""
    flat = np.ravel(np.array(value, dtype=object)).tolist() if isinstance(value, (list, tuple)) else [value]
    if flat and all(isinstance(v, bool) for v in flat):
        return BOOL
    if any(isinstance(v, float) for v in flat):
        return F32
    return I32


def _maybe_dtype(data, label: str = "dtype"):
    """None (use the default) or (dtype name, spelling)."""
    if data.draw(st.booleans(), label=f"{label}_given"):
        name = data.draw(st.sampled_from(ALL), label=label)
        return name, data.draw(st.sampled_from(DTYPE_FORMS), label="form")
    return None


def _kw(dtype) -> dict:
    return {} if dtype is None else {"dtype": dtype_spec(*dtype)}


def _np_kw(dtype) -> dict:
    return {} if dtype is None else {"dtype": np.dtype(dtype[0])}


def _shape_arg(data) -> tuple | int:
    s = shape(data, max_dims=3)
    return s[0] if len(s) == 1 and data.draw(st.booleans(), label="shape_as_int") else s


# --- zeros / ones / full ---------------------------------------------------------------------

def _draw_fill(with_value: bool):
    def draw(data):
        dt = _maybe_dtype(data)
        static = {"shape": _shape_arg(data), "dtype": dt}
        if with_value:
            kind = np.dtype(dt[0]).kind if dt else data.draw(st.sampled_from("bif"), label="value_kind")
            values = {"b": st.booleans(), "i": st.integers(-100, 100),
                      "f": st.sampled_from([0.5, -2.25, 3.0, 1e-3])}
            static["fill"] = data.draw(values[kind], label="fill_value")
        return Example((), static)
    return draw


def _fill_dtype(ex):
    if ex.static["dtype"] is not None:
        return np.dtype(ex.static["dtype"][0])
    return default_dtype(ex.static["fill"]) if "fill" in ex.static else F32


def _draw_like(with_value: bool):
    def draw(data):
        d = data.draw(st.sampled_from(ALL), label="x_dtype")
        dt = _maybe_dtype(data)
        static = {"dtype": dt}
        if with_value:
            kind = np.dtype(dt[0] if dt else d).kind
            static["fill"] = data.draw({"b": st.booleans(), "i": st.integers(-100, 100),
                                        "f": st.sampled_from([0.5, -2.25, 3.0, 7])}[kind], label="fill_value")
        return Example((array(data, d, shape(data), ANY, "x"),), static)
    return draw


# --- arange / linspace / eye -------------------------------------------------------------------

NICE_STEPS = (1, 2, 3, -1, -2, 0.5, 0.25, -0.5, 1.5)


def _draw_arange(data) -> Example:
    form = data.draw(st.sampled_from(["stop", "start_stop", "start_stop_step"]), label="form")
    floats = data.draw(st.booleans(), label="float_args")
    num = st.sampled_from([-3.5, -1.0, 0.0, 0.5, 2.0, 4.25, 7.0]) if floats else st.integers(-5, 8)
    start, stop = data.draw(num, label="start"), data.draw(num, label="stop")
    step = data.draw(st.sampled_from(NICE_STEPS if floats else [s for s in NICE_STEPS if isinstance(s, int)]),
                     label="step")
    args = {"stop": (stop,), "start_stop": (start, stop), "start_stop_step": (start, stop, step)}[form]
    dt = _maybe_dtype(data)
    if dt and (dt[0] == "bool" or (floats and np.dtype(dt[0]).kind == "i")):
        dt = None  # NumPy's arange with float arguments and an int dtype is not worth copying
    return Example((), {"args": args, "dtype": dt})


def _arange_dtype(ex):
    if ex.static["dtype"] is not None:
        return np.dtype(ex.static["dtype"][0])
    return default_dtype(list(ex.static["args"]))


def _draw_linspace(data) -> Example:
    start = data.draw(st.sampled_from([-3.0, 0.0, 1.0, 2.5, 10.0, -1]), label="start")
    stop = data.draw(st.sampled_from([-2.0, 0.0, 1.0, 7.5, 100.0, 4]), label="stop")
    num = data.draw(st.integers(0, 8), label="num")
    endpoint = data.draw(st.booleans(), label="endpoint")
    dt = data.draw(st.sampled_from([None, ("float32", "kiln"), ("float64", "string")]), label="dtype")
    return Example((), {"start": start, "stop": stop, "num": num, "endpoint": endpoint, "dtype": dt})


def _linspace_call(*, start, stop, num, endpoint, dtype):
    return kn.linspace(start, stop, num, endpoint=endpoint, **_kw(dtype))


def _linspace_ref(*, start, stop, num, endpoint, dtype):
    return np.linspace(start, stop, num, endpoint=endpoint, **_np_kw(dtype))


def _draw_eye(data) -> Example:
    n = data.draw(st.integers(0, 5), label="N")
    m = data.draw(st.none() | st.integers(0, 5), label="M")
    k = data.draw(st.integers(-3, 3), label="k")
    return Example((), {"N": n, "M": m, "k": k, "dtype": _maybe_dtype(data)})


# --- asarray ----------------------------------------------------------------------------------

def _draw_asarray(data) -> Example:
    form = data.draw(st.sampled_from(["ndarray", "list", "scalar"]), label="form")
    dt = _maybe_dtype(data)
    if form == "ndarray":  # traced under jit: asarray of a Tensor is the identity (or a cast)
        d = data.draw(st.sampled_from(ALL), label="x_dtype")
        return Example((array(data, d, shape(data), ANY, "x"),), {"dtype": dt, "value": None})
    kind = data.draw(st.sampled_from("bif"), label="value_kind")
    el = {"b": st.booleans(), "i": st.integers(-100, 100),
          "f": st.floats(-10, 10, width=32, allow_subnormal=False)}[kind]
    if form == "scalar":
        value = data.draw(el, label="value")
    else:
        shp = shape(data, min_dims=1, max_dims=2, min_side=1, max_side=3)
        value = np.array(data.draw(st.lists(el, min_size=int(np.prod(shp)), max_size=int(np.prod(shp))),
                                   label="values"), dtype=object).reshape(shp).tolist()
    if dt is not None and kind == "f" and np.dtype(dt[0]).kind in "iub":
        dt = None  # float -> int conversion of Python lists is a NumPy error; not under test
    return Example((), {"dtype": dt, "value": value})


def _asarray_call(*xs, dtype, value):
    return kn.asarray(xs[0] if xs else value, **_kw(dtype))


def _asarray_ref(*xs, dtype, value):
    if xs:
        return np.asarray(xs[0], **_np_kw(dtype))
    return np.asarray(value, **_np_kw(dtype))


def _asarray_dtype(ex):
    if ex.static["dtype"] is not None:
        return np.dtype(ex.static["dtype"][0])
    return ex.args[0].dtype if ex.args else default_dtype(ex.static["value"])


def _given_or(default):
    return lambda ex: np.dtype(ex.static["dtype"][0]) if ex.static["dtype"] is not None else default(ex)


def cases() -> list[Case]:
    like_dtype = _given_or(lambda ex: ex.args[0].dtype)
    return [
        Case("zeros", _draw_fill(False), lambda *, shape, dtype: kn.zeros(shape, **_kw(dtype)),
             lambda *, shape, dtype: np.zeros(shape, **_np_kw(dtype)), dtype=_fill_dtype),
        Case("ones", _draw_fill(False), lambda *, shape, dtype: kn.ones(shape, **_kw(dtype)),
             lambda *, shape, dtype: np.ones(shape, **_np_kw(dtype)), dtype=_fill_dtype),
        Case("full", _draw_fill(True), lambda *, shape, fill, dtype: kn.full(shape, fill, **_kw(dtype)),
             lambda *, shape, fill, dtype: np.full(shape, fill, **_np_kw(dtype)), dtype=_fill_dtype),
        Case("zeros_like", _draw_like(False), lambda x, *, dtype: kn.zeros_like(x, **_kw(dtype)),
             lambda x, *, dtype: np.zeros_like(x, **_np_kw(dtype)), dtype=like_dtype),
        Case("ones_like", _draw_like(False), lambda x, *, dtype: kn.ones_like(x, **_kw(dtype)),
             lambda x, *, dtype: np.ones_like(x, **_np_kw(dtype)), dtype=like_dtype),
        Case("full_like", _draw_like(True), lambda x, *, fill, dtype: kn.full_like(x, fill, **_kw(dtype)),
             lambda x, *, fill, dtype: np.full_like(x, fill, **_np_kw(dtype)), dtype=like_dtype),
        Case("arange", _draw_arange, lambda *, args, dtype: kn.arange(*args, **_kw(dtype)),
             lambda *, args, dtype: np.arange(*args, **_np_kw(dtype)), dtype=_arange_dtype,
             scale=lambda *, args, dtype: np.abs(np.arange(*args)) + abs(args[0])),
        Case("linspace", _draw_linspace, _linspace_call, _linspace_ref,
             dtype=_given_or(lambda ex: F32),
             scale=lambda **kw: abs(kw["start"]) + abs(kw["stop"])),
        Case("eye", _draw_eye, lambda *, N, M, k, dtype: kn.eye(N, M, k, **_kw(dtype)),
             lambda *, N, M, k, dtype: np.eye(N, M, k, **_np_kw(dtype)), dtype=_given_or(lambda ex: F32)),
        Case("asarray", _draw_asarray, _asarray_call, _asarray_ref, dtype=_asarray_dtype),
    ]
