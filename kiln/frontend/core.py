"""Operand handling shared by every public op: lifting Python/NumPy values, NumPy promotion
with weak Python scalars, and `apply` — the call into `bind` (trace or eager)."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import DTypeError, KilnError
from ..ir import dtypes as dt
from ..ir.dtypes import DType
from . import trace
from .tensor import Array, Tensor
from .trace import current, default_dtype_of, run_eager, user_loc


def is_weak(x: Any) -> bool:
    return isinstance(x, (bool, int, float)) and not isinstance(x, np.generic) or \
        (isinstance(x, Tensor) and x.weak)


def dtype_of(x: Any) -> DType:
    if isinstance(x, (Tensor, Array)) or hasattr(x, "_is_variable"):
        return x.dtype
    return default_dtype_of(x)


def result_dtype(*xs: Any) -> DType:
    """NumPy promotion of array operands; Python scalars are weak (JAX-style)."""
    strong = [dtype_of(x) for x in xs if x is not None and not is_weak(x)]
    weak = [dtype_of(x) for x in xs if x is not None and is_weak(x)]
    return dt.promote_weak(strong, weak)


def all_weak(*xs: Any) -> bool:
    return all(is_weak(x) for x in xs)


def lift(x: Any, dtype: DType | None = None):
    """x as an operand of the active context: a traced Value, or an Array/Variable eagerly;
    cast to `dtype` when given."""
    ctx = current()
    if isinstance(x, Tensor):
        if not x.owned():
            raise x.leaked("as an operand")
        out = x
    elif hasattr(x, "_is_variable"):
        out = x if ctx is None else Tensor(ctx.read_variable(x))
    elif isinstance(x, Array):
        out = x if ctx is None else Tensor(ctx.constant(x.data, user_loc()))
    else:
        if not isinstance(x, (numbers.Number, np.ndarray, np.generic, list, tuple)):
            raise TypeError(f"kiln cannot use a {type(x).__name__} as an array")
        d = dtype or default_dtype_of(x)
        try:
            arr = np.asarray(x, dtype=d.np)
        except (ValueError, OverflowError) as e:
            raise DTypeError(f"cannot convert {x!r} to {d}: {e}", loc=user_loc()) from None
        return Array(arr) if ctx is None else Tensor(ctx.constant(arr, user_loc()))
    if dtype is not None and out.dtype != dtype:
        out = apply("astype", [out], dtype=dtype.name)
    return out


def apply(op: str, operands: list, weak: bool = False, **attrs: Any):
    """Bind `op` on lifted operands: append to the trace, or run eagerly through the compiler."""
    ctx = current()
    loc = user_loc()
    if ctx is not None:
        for o in operands:
            if isinstance(o, Tensor) and o.trace is not ctx and not o.owned():
                raise o.leaked(f"as an operand of {op}")
        vals = [o.value for o in operands]
        outs = ctx.add(op, vals, attrs, loc)
        return Tensor(outs[0], weak) if outs else None
    try:
        out = run_eager(op, operands, attrs, loc)
    except KilnError as e:
        raise e.at(op, loc) from None
    result = None if out is None else Array(out)
    for hook in trace.eager_hooks():
        hook(op, operands, attrs, result)
    return result


def unchanged(t):
    """`t` (a lifted operand) as the result of an op that leaves it as it is. Eagerly a Variable
    is copied by an identity reshape: the result must not follow the Variable's later assigns,
    and going through `apply` lets gradient tapes connect the copy to the Variable."""
    if current() is None and hasattr(t, "_is_variable"):
        return apply("reshape", [t], shape=tuple(t.shape))
    return t


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """None → every axis; int or tuple → a tuple (bounds checked by the op's shape rule)."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        return tuple(int(a) for a in axis)
    return (int(axis),)
