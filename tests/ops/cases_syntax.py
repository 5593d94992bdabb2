"""Conformance cases for operators and methods of kn.Array / kn.Tensor, and NumPy basic indexing.

Eagerly the inputs are wrapped with kn.asarray (operators on raw ndarrays would be NumPy's
own); under jit they are traced Tensors. Python scalars are closed over, so `2.0 - t` really
goes through the reflected operator.
"""
from __future__ import annotations

import operator

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .cases_elementwise import (
    BIG_INT,
    FLOOR_DEN,
    FLOOR_NUM,
    GRID,
    SCALAR_OPS,
    _abs_sum,
    _draw_astype,
    _draw_power,
    draw_binary,
    draw_unary,
    draw_with_scalar,
    dtype_spec,
    weak_dtype,
)
from .cases_reduce import GRID as RGRID
from .cases_reduce import SUM_DOM, _abs_reduce, _draw_matmul, draw_reduction
from .cases_shape import _draw_reshape
from .harness import ALL, ANY, INTS, NUMERIC, Case, Dom, Example, array, kn, shape


def t(x):
    """An ndarray becomes a kn.Array (eager); traced Tensors and Arrays pass through."""
    return kn.asarray(x) if isinstance(x, np.ndarray) else x


def _binop_call(op):
    def call(*args, s=None, left=False):
        if len(args) == 2:
            return op(t(args[0]), t(args[1]))
        return op(s, t(args[0])) if left else op(t(args[0]), s)
    return call


def _binop_ref(fn):
    def ref(*args, s=None, left=False):
        if len(args) == 2:
            return fn(*args)
        return fn(s, args[0]) if left else fn(args[0], s)
    return ref


def _draw_forms(array_array, with_scalar):
    def draw(data):
        if with_scalar is None or data.draw(st.booleans(), label="array_op_array"):
            return array_array(data)
        return with_scalar(data)
    return draw


def _scalar_dtype(to_bool: bool):
    def dtype(ex):
        if len(ex.args) == 2:
            return None  # array-array: NumPy's promotion
        return np.dtype(bool) if to_bool else weak_dtype(ex.args[0].dtype, ex.static["s"])
    return dtype


OPERATORS = {
    # key: (python operator, numpy function, array pool, array doms, scalar table key or None)
    "add:operator": (operator.add, np.add, NUMERIC, (BIG_INT, None), "add"),
    "subtract:operator": (operator.sub, np.subtract, NUMERIC, (BIG_INT, None), "subtract"),
    "multiply:operator": (operator.mul, np.multiply, NUMERIC, (BIG_INT, None), "multiply"),
    "divide:operator": (operator.truediv, np.divide, NUMERIC, (ANY, Dom(-10.0, 10.0, nonzero=True)),
                        "divide"),
    "floor_divide:operator": (operator.floordiv, np.floor_divide, NUMERIC, (FLOOR_NUM, FLOOR_DEN),
                              "floor_divide"),
    "mod:operator": (operator.mod, np.mod, NUMERIC, (FLOOR_NUM, FLOOR_DEN), "mod"),
    "equal:operator": (operator.eq, np.equal, NUMERIC, (GRID, None), "equal"),
    "not_equal:operator": (operator.ne, np.not_equal, NUMERIC, (GRID, None), "equal"),
    "less:operator": (operator.lt, np.less, NUMERIC, (GRID, None), "less"),
    "less_equal:operator": (operator.le, np.less_equal, NUMERIC, (GRID, None), "less"),
    "greater:operator": (operator.gt, np.greater, NUMERIC, (GRID, None), "less"),
    "greater_equal:operator": (operator.ge, np.greater_equal, NUMERIC, (GRID, None), "greater_equal"),
}
BITWISE = {
    "bitwise_and": (operator.and_, np.bitwise_and),
    "bitwise_or": (operator.or_, np.bitwise_or),
    "bitwise_xor": (operator.xor, np.bitwise_xor),
}
BOOL_RESULT = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}


def _operator_case(key: str) -> Case:
    op, fn, pool, (dom_a, dom_b), scalar_key = OPERATORS[key]
    _, right, left, _ = SCALAR_OPS[scalar_key]
    to_bool = key.split(":")[0] in BOOL_RESULT
    scale = _abs_sum if key.startswith(("add", "subtract")) else None
    return Case(key, _draw_forms(draw_binary(pool, dom_a, dom_b),
                                 draw_with_scalar(SCALAR_OPS[scalar_key][0], right, left, static=True)),
                _binop_call(op), _binop_ref(fn), kind="operator", dtype=_scalar_dtype(to_bool),
                scale=(lambda *a, **kw: scale(a[0], kw["s"] if len(a) == 1 else a[1])) if scale else None)


def _draw_int_scalar(data) -> Example:
    """An int array with a weak int scalar on either side (bitwise ops)."""
    d = data.draw(st.sampled_from(INTS), label="dtype")
    x = array(data, d, shape(data), BIG_INT, "x")
    return Example((x,), {"s": data.draw(st.integers(-100, 100), label="scalar"),
                          "left": data.draw(st.booleans(), label="scalar_on_left")})


def _bitwise_case(key: str) -> Case:
    op, fn = BITWISE[key]
    return Case(key, _draw_forms(draw_binary(INTS + ("bool",), BIG_INT), _draw_int_scalar),
                _binop_call(op), _binop_ref(fn), kind="operator")


def _draw_power_op(data) -> Example:
    if data.draw(st.booleans(), label="array_op_array"):
        return _draw_power(data)
    pool, right, left, _ = SCALAR_OPS["power"]
    return draw_with_scalar(pool, right, left, static=True)(data)


# --- methods ----------------------------------------------------------------------------------

def _reshape_method(x, *, shape, splat):
    return t(x).reshape(*shape) if splat else t(x).reshape(shape)


def _draw_reshape_method(data) -> Example:
    ex = _draw_reshape(data)
    ex.static["splat"] = bool(ex.static["shape"]) and data.draw(st.booleans(), label="splat")
    return ex


def _reduce_method(name: str) -> Case:
    fn = getattr(np, name)
    nonempty = name != "sum"
    dom = SUM_DOM if name in ("sum", "mean") else RGRID
    scale = _abs_reduce(getattr(np, name)) if name in ("sum", "mean") else None
    return Case(f"{name}:method", draw_reduction(ALL, dom, nonempty=nonempty),
                lambda x, *, axis, keepdims: getattr(t(x), name)(axis=axis, keepdims=keepdims),
                lambda x, *, axis, keepdims: fn(x, axis=axis, keepdims=keepdims), kind="method", scale=scale,
                examples=10)


def _draw_getitem(data) -> Example:
    shp = shape(data, max_side=5)
    idx = data.draw(hnp.basic_indices(shp, min_dims=0, allow_newaxis=True, allow_ellipsis=True),
                    label="index")
    d = data.draw(st.sampled_from(ALL), label="dtype")
    return Example((array(data, d, shp, ANY, "x"),), {"index": idx})


def cases() -> list[Case]:
    return [
        *[_operator_case(k) for k in OPERATORS],
        Case("power:operator", _draw_power_op, _binop_call(operator.pow), _binop_ref(np.power),
             kind="operator", tol="transcendental", dtype=_scalar_dtype(False)),
        Case("matmul:operator", _draw_matmul, lambda a, b: t(a) @ t(b), np.matmul, kind="operator",
             scale=lambda a, b: np.matmul(np.abs(a), np.abs(b)), examples=15),
        Case("negative:operator", draw_unary(NUMERIC, BIG_INT), lambda x: -t(x), np.negative, kind="operator",
             examples=10),
        Case("abs:builtin", draw_unary(NUMERIC, BIG_INT), lambda x: abs(t(x)), np.abs, kind="operator",
             examples=10),
        *[_bitwise_case(k) for k in BITWISE],
        Case("invert", draw_unary(INTS + ("bool",), BIG_INT), lambda x: ~t(x), np.invert, kind="operator"),
        Case("transpose:T", draw_unary(ALL), lambda x: t(x).T, lambda x: x.T, kind="method", examples=10),
        Case("reshape:method", _draw_reshape_method, _reshape_method,
             lambda x, *, shape, splat: x.reshape(shape), kind="method", examples=10),
        Case("astype:method", _draw_astype, lambda x, *, to, form: t(x).astype(dtype_spec(to, form)),
             lambda x, *, to, form: x.astype(to), kind="method", examples=10),
        *[_reduce_method(n) for n in ("sum", "mean", "max", "min")],
        Case("getitem", _draw_getitem, lambda x, *, index: t(x)[index], lambda x, *, index: x[index],
             kind="indexing", examples=40),
    ]
