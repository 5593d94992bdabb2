"""Elementwise ops: NumPy broadcasting between operands of one dtype (the frontend promotes)."""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError
from .. import dtypes as dt
from ..opdef import broadcast_shape, defop, same_dtype

EW = {"elementwise"}


def _float_only(types, **_):
    d = same_dtype(types)
    if not d.is_float:
        raise DTypeError(f"needs a float operand, got {d}")
    return d


def _numeric(types, **_):
    d = same_dtype(types)
    if d.is_bool:
        raise DTypeError("needs a numeric operand, got bool")
    return d


def _bool_result(types, **_):
    same_dtype(types)
    return dt.bool_


def _bool_only(types, **_):
    d = same_dtype(types)
    if not d.is_bool:
        raise DTypeError(f"needs bool operands, got {d}")
    return d


def _int_or_bool(types, **_):
    d = same_dtype(types)
    if d.is_float:
        raise DTypeError(f"needs integer or bool operands, got {d}")
    return d


def unary(name: str, ref, scalar, dtype=_float_only, traits=()):
    defop(name, shape=broadcast_shape, dtype=dtype, ref=ref, scalar=scalar, traits=EW | set(traits))


def binary(name: str, ref, scalar, dtype=same_dtype, traits=()):
    defop(name, shape=broadcast_shape, dtype=dtype, ref=ref, scalar=scalar, traits=EW | set(traits))


# arithmetic
binary("add", np.add, lambda b, x, y: b.add(x, y), _numeric)
binary("subtract", np.subtract, lambda b, x, y: b.sub(x, y), _numeric)
binary("multiply", np.multiply, lambda b, x, y: b.mul(x, y), _numeric)
binary("divide", np.divide, lambda b, x, y: b.div(x, y), _float_only)
binary("floor_divide", np.floor_divide, lambda b, x, y: b.floordiv(x, y), _numeric)
binary("mod", np.mod, lambda b, x, y: b.mod(x, y), _numeric)
binary("power", np.power, lambda b, x, y: b.pow(x, y), _numeric, traits={"transcendental"})
binary("maximum", np.maximum, lambda b, x, y: b.max(x, y))
binary("minimum", np.minimum, lambda b, x, y: b.min(x, y))

unary("negative", np.negative, lambda b, x: b.neg(x), _numeric)
unary("abs", np.abs, lambda b, x: b.abs(x), _numeric)
unary("sign", np.sign, lambda b, x: b.sign(x), _numeric)
unary("floor", np.floor, lambda b, x: b.floor(x), _numeric)
unary("ceil", np.ceil, lambda b, x: b.ceil(x), _numeric)
unary("exp", np.exp, lambda b, x: b.exp(x), traits={"transcendental"})
unary("log", np.log, lambda b, x: b.log(x), traits={"transcendental"})
unary("log1p", np.log1p, lambda b, x: b.log1p(x), traits={"transcendental"})
unary("sqrt", np.sqrt, lambda b, x: b.sqrt(x), traits={"transcendental"})
unary("sin", np.sin, lambda b, x: b.sin(x), traits={"transcendental"})
unary("cos", np.cos, lambda b, x: b.cos(x), traits={"transcendental"})
unary("tanh", np.tanh, lambda b, x: b.tanh(x), traits={"transcendental"})

# comparisons and logic
binary("equal", np.equal, lambda b, x, y: b.eq(x, y), _bool_result)
binary("not_equal", np.not_equal, lambda b, x, y: b.ne(x, y), _bool_result)
binary("less", np.less, lambda b, x, y: b.lt(x, y), _bool_result)
binary("less_equal", np.less_equal, lambda b, x, y: b.le(x, y), _bool_result)
binary("greater", np.greater, lambda b, x, y: b.gt(x, y), _bool_result)
binary("greater_equal", np.greater_equal, lambda b, x, y: b.ge(x, y), _bool_result)
binary("logical_and", np.logical_and, lambda b, x, y: b.and_(x, y), _bool_only)
binary("logical_or", np.logical_or, lambda b, x, y: b.or_(x, y), _bool_only)
unary("logical_not", np.logical_not, lambda b, x: b.not_(x), _bool_only)
binary("bitwise_and", np.bitwise_and, lambda b, x, y: b.and_(x, y), _int_or_bool)
binary("bitwise_or", np.bitwise_or, lambda b, x, y: b.or_(x, y), _int_or_bool)
binary("bitwise_xor", np.bitwise_xor, lambda b, x, y: b.xor_(x, y), _int_or_bool)
unary("invert", np.invert, lambda b, x: b.not_(x), _int_or_bool)


def _where_dtype(types, **_):
    c, x, y = types
    if not c.dtype.is_bool:
        raise DTypeError(f"condition must be bool, got {c.dtype}")
    return same_dtype([x, y])


defop("where", shape=broadcast_shape, dtype=_where_dtype, ref=np.where,
      scalar=lambda b, c, x, y: b.select(c, x, y), traits=EW)


def _astype_ref(x, dtype):
    return x.astype(dt.as_dtype(dtype).np)


defop("astype", shape=broadcast_shape, dtype=lambda types, dtype: dt.as_dtype(dtype),
      ref=_astype_ref, scalar=lambda b, x, *, dtype: b.cast(x, dt.as_dtype(dtype)), traits=EW,
      attrs=("dtype",))

defop("stop_gradient", shape=broadcast_shape, dtype=lambda types: types[0].dtype, ref=lambda x: x,
      scalar=lambda b, x: x, traits=EW)
