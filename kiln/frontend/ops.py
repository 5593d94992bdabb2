"""Public elementwise ops, reductions and linear algebra (NumPy names and semantics).

Each function promotes its operands (NumPy rules, weak Python scalars), then binds
registry ops; composites (mean, clip, logsumexp, norm, dot, ...) are written in ops.
"""
from __future__ import annotations

import math
from typing import Any

from ..errors import DTypeError, ShapeError
from ..ir import dtypes as dt
from ..ir.opdef import norm_axis
from .core import all_weak, apply, lift, normalize_axes, result_dtype, unchanged, user_loc


def _binary(op: str, x: Any, y: Any, dtype: dt.DType | None = None):
    d = dtype or result_dtype(x, y)
    return apply(op, [lift(x, d), lift(y, d)], weak=all_weak(x, y))


def _arith(op: str, x: Any, y: Any):
    d = result_dtype(x, y)
    if d.is_bool:
        if op == "add":
            return _binary("logical_or", x, y, d)
        if op == "multiply":
            return _binary("logical_and", x, y, d)
        if op in ("maximum", "minimum"):
            return _binary(op, x, y, d)
        if op != "power":
            raise DTypeError(f"{op} is not defined for bool operands; cast them first", op=op, loc=user_loc())
        d = dt.int64 if not all_weak(x, y) else dt.int32  # NumPy: bool ** bool is int8; kiln has int32/64
    return _binary(op, x, y, d)


def add(x, y):
    return _arith("add", x, y)


def subtract(x, y):
    return _arith("subtract", x, y)


def multiply(x, y):
    return _arith("multiply", x, y)


def divide(x, y):
    return _binary("divide", x, y, dt.float_of(result_dtype(x, y)) if not all_weak(x, y) else dt.float32)


true_divide = divide


def floor_divide(x, y):
    return _arith("floor_divide", x, y)


def mod(x, y):
    return _arith("mod", x, y)


remainder = mod


def power(x, y):
    return _arith("power", x, y)


def maximum(x, y):
    return _arith("maximum", x, y)


def minimum(x, y):
    return _arith("minimum", x, y)


def _compare(op: str):
    def fn(x, y):
        return _binary(op, x, y)
    fn.__name__ = op
    return fn


equal, not_equal = _compare("equal"), _compare("not_equal")
less, less_equal = _compare("less"), _compare("less_equal")
greater, greater_equal = _compare("greater"), _compare("greater_equal")


def logical_and(x, y):
    return apply("logical_and", [lift(x, dt.bool_), lift(y, dt.bool_)])


def logical_or(x, y):
    return apply("logical_or", [lift(x, dt.bool_), lift(y, dt.bool_)])


def logical_not(x):
    return apply("logical_not", [lift(x, dt.bool_)])


def _bitwise(op: str, logical: str):
    def fn(x, y):
        d = result_dtype(x, y)
        if d.is_float:
            raise DTypeError(f"{op} needs integer or bool operands, got {d}", op=op, loc=user_loc())
        return _binary(logical if d.is_bool else op, x, y, d)
    return fn


bitwise_and = _bitwise("bitwise_and", "logical_and")
bitwise_or = _bitwise("bitwise_or", "logical_or")
bitwise_xor = _bitwise("bitwise_xor", "not_equal")


def invert(x):
    d = result_dtype(x)
    if d.is_float:
        raise DTypeError(f"invert (~) needs an integer or bool operand, got {d}", op="invert", loc=user_loc())
    return apply("logical_not" if d.is_bool else "invert", [lift(x, d)])


def _same_type_unary(op: str, allow_bool: bool = False):
    def fn(x):
        d = result_dtype(x)
        if d.is_bool and not allow_bool:
            raise DTypeError(f"{op} is not defined for bool; cast first", op=op, loc=user_loc())
        return apply(op, [lift(x, d)], weak=all_weak(x))
    fn.__name__ = op
    return fn


negative = _same_type_unary("negative")
sign = _same_type_unary("sign")


def _bool_identity_unary(op: str):
    """An op that NumPy defines as the identity on bool (abs(True) is True, still bool)."""
    def fn(x):
        d = result_dtype(x)
        t = lift(x, d)
        return unchanged(t) if d.is_bool else apply(op, [t], weak=all_weak(x))
    fn.__name__ = op
    return fn


abs = _bool_identity_unary("abs")  # noqa: A001  (NumPy's name)
absolute = abs
floor, ceil = _bool_identity_unary("floor"), _bool_identity_unary("ceil")


def _float_unary(op: str):
    def fn(x):
        d = result_dtype(x)
        f = d if d.is_float else (dt.float32 if all_weak(x) or d.is_bool else dt.float_of(d))
        return apply(op, [lift(x, f)], weak=all_weak(x))
    fn.__name__ = op
    return fn


exp, log, log1p, sqrt = (_float_unary(n) for n in ("exp", "log", "log1p", "sqrt"))
sin, cos, tanh = (_float_unary(n) for n in ("sin", "cos", "tanh"))


def square(x):
    d = result_dtype(x)
    if d.is_bool:
        d = dt.int32
    t = lift(x, d)
    return apply("multiply", [t, t], weak=all_weak(x))


def astype(x, dtype):
    d = dt.as_dtype(dtype)
    t = lift(x)
    return unchanged(t) if t.dtype == d else apply("astype", [t], dtype=d.name)


def clip(x, a_min=None, a_max=None):
    """NumPy's min(max(x, a_min), a_max) (a_max wins where a_min > a_max; NaN stays NaN). The
    gradient is 1 on the closed interval, bounds included (PyTorch's and TF's rule; JAX splits
    0.5/0.5 there); the bound gets it outside."""
    out = x
    if a_min is not None:
        out = where(less(out, a_min), a_min, out)
    if a_max is not None:
        out = where(greater(out, a_max), a_max, out)
    return unchanged(lift(out)) if out is x else out


def where(condition, x=None, y=None):
    if x is None and y is None:
        from .shape_ops import nonzero
        return nonzero(condition, "where")
    if x is None or y is None:
        raise TypeError("where takes one argument (nonzero) or three (select)")
    d = result_dtype(x, y)
    return apply("where", [lift(condition, dt.bool_), lift(x, d), lift(y, d)], weak=all_weak(x, y))


# reductions ------------------------------------------------------------------------------

def _axes(x, axis, op: str | None = None) -> tuple[int, ...]:
    nd = len(x.shape)
    try:
        return tuple(sorted(norm_axis(a, nd) for a in normalize_axes(axis, nd)))
    except ShapeError as e:
        raise e.at(op, user_loc()) from None


def _reduce(op: str, x, axis, keepdims: bool, dtype: dt.DType | None = None):
    t = lift(x)
    d = dtype or t.dtype
    if op in ("sum", "prod") and dtype is None and (t.dtype.is_bool or t.dtype == dt.int32):
        d = dt.int64  # NumPy accumulates ints in the platform int
    return apply(op, [lift(t, d)], axes=_axes(t, axis, op), keepdims=bool(keepdims))


def sum(x, axis=None, keepdims=False, dtype=None, initial=None, where=None):  # noqa: A001
    if initial is not None or where is not None:
        return npreduce.reduce("sum", x, axis, keepdims, dtype, initial, where)
    return _reduce("sum", x, axis, keepdims, dt.as_dtype(dtype) if dtype else None)


def prod(x, axis=None, keepdims=False, dtype=None, initial=None, where=None):
    if initial is not None or where is not None:
        return npreduce.reduce("prod", x, axis, keepdims, dtype, initial, where)
    return _reduce("prod", x, axis, keepdims, dt.as_dtype(dtype) if dtype else None)


def max(x, axis=None, keepdims=False, initial=None, where=None):  # noqa: A001
    if initial is not None or where is not None:
        return npreduce.reduce("max", x, axis, keepdims, None, initial, where)
    return _reduce("max", x, axis, keepdims)


def min(x, axis=None, keepdims=False, initial=None, where=None):  # noqa: A001
    if initial is not None or where is not None:
        return npreduce.reduce("min", x, axis, keepdims, None, initial, where)
    return _reduce("min", x, axis, keepdims)


amax, amin = max, min


def mean(x, axis=None, keepdims=False, dtype=None, where=None):
    if where is not None:
        return npreduce.mean(x, axis, dtype, keepdims, where)
    t = lift(x)
    d = dt.as_dtype(dtype) if dtype else (t.dtype if t.dtype.is_float else dt.float64)  # NumPy's rule
    axes = _axes(t, axis, "mean")
    count = math.prod(t.shape[a] for a in axes)
    total = _reduce("sum", t, axes, keepdims, d)
    return divide(total, lift(count, d) if count else lift(float("nan"), d))


def _arg(op: str, x, axis, keepdims: bool):
    t = lift(x)
    if axis is None:
        from .shape_ops import reshape
        t, axis = reshape(t, (-1,)), 0
        if keepdims:
            out = apply(op, [t], axis=0, keepdims=False)
            return reshape(out, (1,) * len(x.shape))
    try:
        ax = norm_axis(int(axis), len(t.shape))
    except ShapeError as e:
        raise e.at(op, user_loc()) from None
    return apply(op, [t], axis=ax, keepdims=bool(keepdims))


def argmax(x, axis=None, keepdims=False):
    return _arg("argmax", x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return _arg("argmin", x, axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    t = lift(x)
    if not t.dtype.is_float:
        t = astype(t, dt.float_of(t.dtype))
    m = max(t, axis, keepdims=True)
    m = stop_gradient(where(equal(abs(m), float("inf")), 0.0, m))
    out = log(sum(exp(subtract(t, m)), axis, keepdims=True)) + m
    if keepdims:
        return out
    from .shape_ops import squeeze
    return squeeze(out, _axes(t, axis))


def logaddexp(x, y):
    """log(e^x + e^y) as max + softplus(-|x - y|), branch-picked so every derivative is exact at
    ties too (d/dx = d/dy = 0.5 there, like NumPy's, JAX's and PyTorch's); equal infinities give
    that infinity, not NaN."""
    from .nn.functional import softplus
    d = result_dtype(x, y)
    a, b = lift(x, d), lift(y, d)
    if not d.is_float:
        d = dt.float32 if all_weak(x, y) else dt.float_of(d)
        a, b = astype(a, d), astype(b, d)
    same_inf = logical_and(equal(a, b), equal(abs(a), float("inf")))
    diff = where(same_inf, 0.0, subtract(a, b))
    return where(greater(diff, 0), add(a, softplus(negative(diff))), add(b, softplus(diff)))


def stop_gradient(x):
    """x, with no gradient flowing back through it."""
    t = lift(x)
    return apply("stop_gradient", [t], weak=all_weak(x))


# linear algebra --------------------------------------------------------------------------

def matmul(x, y):
    from .shape_ops import reshape
    d = result_dtype(x, y)
    a, b = lift(x, d), lift(y, d)
    if len(a.shape) == 0 or len(b.shape) == 0:
        raise ShapeError(f"matmul: input operand does not have enough dimensions ({a.shape} @ {b.shape})",
                         op="matmul", loc=user_loc())
    va, vb = len(a.shape) == 1, len(b.shape) == 1
    if va:
        a = reshape(a, (1,) + a.shape)
    if vb:
        b = reshape(b, b.shape + (1,))
    if a.dtype.is_bool:
        raise DTypeError("matmul of bool arrays is not supported; cast first", op="matmul", loc=user_loc())
    out = apply("matmul", [a, b])
    if va or vb:
        shape = out.shape[:-2] + (() if va else out.shape[-2:-1]) + (() if vb else out.shape[-1:])
        out = reshape(out, shape)
    return out


def dot(x, y):
    """NumPy dot: inner product of vectors, matmul of matrices, else sum over a's last axis
    and b's second-to-last."""
    from .shape_ops import reshape, transpose
    d = result_dtype(x, y)
    a, b = lift(x, d), lift(y, d)
    if len(a.shape) == 0 or len(b.shape) == 0:
        return multiply(a, b)
    if len(b.shape) <= 2:
        return matmul(a, b)
    # a[..., k] · b[..., k, n] → a_lead + b_lead + (n,)
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"dot: shapes {a.shape} and {b.shape} not aligned", op="dot", loc=user_loc())
    k = a.shape[-1]
    bt = transpose(b, tuple(i for i in range(len(b.shape)) if i != len(b.shape) - 2) + (len(b.shape) - 2,))
    # explicit sizes: -1 is ambiguous when k == 0
    b2 = reshape(bt, (math.prod(bt.shape[:-1]), k))
    a2 = reshape(a, (math.prod(a.shape[:-1]), k))
    out = matmul(a2, transpose(b2))
    return reshape(out, a.shape[:-1] + b.shape[:-2] + b.shape[-1:])


def vdot(x, y):
    from .shape_ops import reshape
    return sum(multiply(reshape(x, (-1,)), reshape(y, (-1,))))


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    from .linalg import norm as _norm
    return _norm(x, ord, axis, keepdims)


from .shape_ops import *  # noqa: E402,F401,F403  (one namespace for Tensor methods and kn.*)
from .shape_ops import arange  # noqa: E402,F401
from . import npreduce  # noqa: E402  (builds on the ops above)
from .npreduce import std, var  # noqa: E402,F401
