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


def unary(name: str, ref, scalar, dtype=_float_only, traits=(), grad=None):
    defop(name, shape=broadcast_shape, dtype=dtype, ref=ref, scalar=scalar, traits=EW | set(traits),
          grad=grad)


def binary(name: str, ref, scalar, dtype=same_dtype, traits=(), grad=None):
    defop(name, shape=broadcast_shape, dtype=dtype, ref=ref, scalar=scalar, traits=EW | set(traits),
          grad=grad)


# gradients (VJPs in kiln ops; `e` is an ir.builder.Emitter, the driver unbroadcasts) ------

def _c(e, v, value):
    return e.const(value, v.dtype)


def _pow_grad(e, g, y, x, p):
    """d/dx = p x^(p-1) (0 where p == 0, like JAX); d/dp = y log x, taken as 0 where x <= 0."""
    zero, one = _c(e, x, 0), _c(e, x, 1)
    dx = e.where(e.equal(p, zero), zero, e.multiply(p, e.power(x, e.subtract(p, one))))
    pos = e.greater(x, zero)
    dp = e.where(pos, e.multiply(y, e.log(e.where(pos, x, one))), zero)
    return e.multiply(g, dx), e.multiply(g, dp)


def _extremum_grad(cmp):
    """maximum/minimum: the winner gets g; ties split it evenly (JAX's rule)."""
    def rule(e, g, y, a, b):
        zero, half, one = _c(e, g, 0), _c(e, g, 0.5), _c(e, g, 1)
        wa = e.where(getattr(e, cmp)(a, b), one, e.where(e.equal(a, b), half, zero))
        return e.multiply(g, wa), e.multiply(g, e.subtract(one, wa))
    return rule


def _zero_grad(e, g, y, *xs):
    """Piecewise-constant ops (sign, floor, ceil, floor_divide): zero almost everywhere."""
    return tuple(e.zeros_like(x) for x in xs)


def _astype_grad(e, g, y, x, dtype):
    return (e.astype(g, dtype=x.dtype.name) if x.dtype.is_float else None,)


# arithmetic
binary("add", np.add, lambda b, x, y: b.add(x, y), _numeric,
       grad=lambda e, g, y, a, b: (g, g))
binary("subtract", np.subtract, lambda b, x, y: b.sub(x, y), _numeric,
       grad=lambda e, g, y, a, b: (g, e.negative(g)))
binary("multiply", np.multiply, lambda b, x, y: b.mul(x, y), _numeric,
       grad=lambda e, g, y, a, b: (e.multiply(g, b), e.multiply(g, a)))
binary("divide", np.divide, lambda b, x, y: b.div(x, y), _float_only,
       grad=lambda e, g, y, a, b: (e.divide(g, b), e.negative(e.multiply(e.divide(g, b), y))))
binary("floor_divide", np.floor_divide, lambda b, x, y: b.floordiv(x, y), _numeric,
       grad=_zero_grad)
binary("mod", np.mod, lambda b, x, y: b.mod(x, y), _numeric,
       grad=lambda e, g, y, a, b: (g, e.negative(e.multiply(g, e.floor(e.divide(a, b))))))
def _power_ref(x, y):
    """NumPy's power, and for integers with a negative exponent 1/x^|y| truncated toward zero
    (JAX's rule: 1 for x = 1, ±1 for x = -1, else 0, 0 for x = 0 like integer division by
    zero) where NumPy raises."""
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind != "i":
        return np.power(x, y)
    negative = y < 0
    p = np.power(x, np.where(negative, 0, y))
    inverse = np.where(x == 1, 1, np.where(x == -1, np.where(y % 2 == 0, 1, -1), 0))
    return np.where(negative, inverse, p).astype(p.dtype)


binary("power", _power_ref, lambda b, x, y: b.pow(x, y), _numeric, traits={"transcendental"},
       grad=_pow_grad)
binary("maximum", np.maximum, lambda b, x, y: b.max(x, y),
       grad=_extremum_grad("greater"))
binary("minimum", np.minimum, lambda b, x, y: b.min(x, y),
       grad=_extremum_grad("less"))

unary("negative", np.negative, lambda b, x: b.neg(x), _numeric,
      grad=lambda e, g, y, x: (e.negative(g),))
unary("abs", np.abs, lambda b, x: b.abs(x), _numeric,
      grad=lambda e, g, y, x: (e.multiply(g, e.sign(x)),))
unary("sign", np.sign, lambda b, x: b.sign(x), _numeric,
      grad=_zero_grad)
unary("floor", np.floor, lambda b, x: b.floor(x), _numeric,
      grad=_zero_grad)
unary("ceil", np.ceil, lambda b, x: b.ceil(x), _numeric,
      grad=_zero_grad)
unary("exp", np.exp, lambda b, x: b.exp(x), traits={"transcendental"},
      grad=lambda e, g, y, x: (e.multiply(g, y),))
unary("log", np.log, lambda b, x: b.log(x), traits={"transcendental"},
      grad=lambda e, g, y, x: (e.divide(g, x),))
unary("log1p", np.log1p, lambda b, x: b.log1p(x), traits={"transcendental"},
      grad=lambda e, g, y, x: (e.divide(g, e.add(_c(e, x, 1), x)),))
unary("sqrt", np.sqrt, lambda b, x: b.sqrt(x), traits={"transcendental"},
      grad=lambda e, g, y, x: (e.divide(e.multiply(g, _c(e, g, 0.5)), y),))
unary("sin", np.sin, lambda b, x: b.sin(x), traits={"transcendental"},
      grad=lambda e, g, y, x: (e.multiply(g, e.cos(x)),))
unary("cos", np.cos, lambda b, x: b.cos(x), traits={"transcendental"},
      grad=lambda e, g, y, x: (e.negative(e.multiply(g, e.sin(x))),))
unary("tanh", np.tanh, lambda b, x: b.tanh(x), traits={"transcendental"},
      grad=lambda e, g, y, x: (e.multiply(g, e.subtract(_c(e, y, 1), e.multiply(y, y))),))


def _sigmoid_ref(x):
    """1/(1+e^-x) without overflow warnings: e^-|x| never overflows."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype)


unary("sigmoid", _sigmoid_ref, lambda b, x: b.sigmoid(x), traits={"transcendental"},
      grad=lambda e, g, y, x: (e.multiply(g, e.multiply(y, e.subtract(_c(e, y, 1), y))),))

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
      scalar=lambda b, c, x, y: b.select(c, x, y), traits=EW,
      grad=lambda e, g, y, c, a, b: (None, e.where(c, g, _c(e, g, 0)), e.where(c, _c(e, g, 0), g)))


def _astype_ref(x, dtype):
    """NumPy's cast, except float → int saturates and sends NaN to 0 (what compiled code does;
    NumPy leaves those cases undefined)."""
    to = dt.as_dtype(dtype)
    if to.is_int and np.asarray(x).dtype.kind == "f":
        info = np.iinfo(to.np)
        x = np.where(np.isnan(x), 0, np.clip(x, info.min, info.max))
        big = x >= info.max  # info.max itself may round up to 2**31 or 2**63 in float
        return np.where(big, info.max, np.where(big, 0, x).astype(to.np)).astype(to.np)
    return x.astype(to.np)


defop("astype", shape=broadcast_shape, dtype=lambda types, dtype: dt.as_dtype(dtype),
      ref=_astype_ref, scalar=lambda b, x, *, dtype: b.cast(x, dt.as_dtype(dtype)), traits=EW,
      attrs=("dtype",), grad=_astype_grad)

defop("stop_gradient", shape=broadcast_shape, dtype=lambda types: types[0].dtype, ref=lambda x: x,
      scalar=lambda b, x: x, traits=EW, grad=lambda e, g, y, x: (None,))
