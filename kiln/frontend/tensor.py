"""kn.Tensor (traced, inside a compiled function) and kn.Array (concrete), sharing one
method surface: operators, NumPy basic indexing, and the array methods of API.md."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import TraceError
from ..ir import dtypes as dt
from ..ir.graph import Value
from .trace import current, user_loc


class ArrayMethods:
    """Operators and methods shared by Tensor, Array and Variable; each calls a public op."""

    __array_priority__ = 100

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def T(self):
        from . import ops
        return ops.transpose(self)

    def reshape(self, *shape):
        from . import ops
        return ops.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def astype(self, dtype):
        from . import ops
        return ops.astype(self, dtype)

    # reductions: NumPy's method signatures, since np.sum(a, ...) etc. call these with NumPy's
    # keywords; each runs kiln ops and returns their result (or writes it into `out`)
    def sum(self, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        return _npcall("sum", out, "reduce", "sum", self, axis, keepdims, dtype, initial, where)

    def prod(self, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
        return _npcall("prod", out, "reduce", "prod", self, axis, keepdims, dtype, initial, where)

    def max(self, axis=None, out=None, keepdims=False, initial=None, where=None):
        return _npcall("max", out, "reduce", "max", self, axis, keepdims, None, initial, where)

    def min(self, axis=None, out=None, keepdims=False, initial=None, where=None):
        return _npcall("min", out, "reduce", "min", self, axis, keepdims, None, initial, where)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
        return _npcall("mean", out, "mean", self, axis, dtype, keepdims, where)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
            correction=None):
        _unsupported("var", mean=mean)
        return _npcall("var", out, "var", self, axis, dtype, ddof, keepdims, where, correction)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None,
            correction=None):
        _unsupported("std", mean=mean)
        return _npcall("std", out, "std", self, axis, dtype, ddof, keepdims, where, correction)

    def argmax(self, axis=None, out=None, *, keepdims=False):
        return _npcall("argmax", out, "argmax", self, axis, keepdims)

    def argmin(self, axis=None, out=None, *, keepdims=False):
        return _npcall("argmin", out, "argmin", self, axis, keepdims)

    def __getitem__(self, key):
        from . import indexing
        return indexing.getitem(self, key)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def _npcall(method: str, out, fn: str, *args):
    """npreduce.<fn>(*args), written into `out` when given (NumPy's method protocol)."""
    from . import npreduce
    return npreduce.write_out(method, getattr(npreduce, fn)(*args), out)


def _unsupported(method: str, **given) -> None:
    """A clear error for a NumPy keyword kiln does not implement, when it is given."""
    for name, value in given.items():
        if value is not None:
            raise TypeError(f"{method}: the keyword {name}= is not supported by kiln (given {value!r})")


def _operator(name: str, reflected: bool = False):
    def method(self, other):
        from . import ops
        fn = getattr(ops, name)
        return fn(other, self) if reflected else fn(self, other)
    method.__name__ = name
    return method


_BINARY = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide",
           "floordiv": "floor_divide", "mod": "mod", "pow": "power", "matmul": "matmul",
           "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor"}
for _dunder, _op in _BINARY.items():
    setattr(ArrayMethods, f"__{_dunder}__", _operator(_op))
    setattr(ArrayMethods, f"__r{_dunder}__", _operator(_op, reflected=True))
for _dunder, _op in {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
                     "eq": "equal", "ne": "not_equal"}.items():
    setattr(ArrayMethods, f"__{_dunder}__", _operator(_op))
ArrayMethods.__hash__ = object.__hash__


def _unary(name: str):
    def method(self):
        from . import ops
        return getattr(ops, name)(self)
    return method


ArrayMethods.__neg__ = _unary("negative")
ArrayMethods.__pos__ = _unary("asarray")  # a Variable gives a snapshot, like NumPy's copy
ArrayMethods.__abs__ = _unary("abs")
ArrayMethods.__invert__ = _unary("invert")


class Tensor(ArrayMethods):
    """A traced value inside a compiled function; `weak` marks a Python scalar argument, and
    `trace` is the TraceContext it belongs to (None until first used, for arguments wrapped
    before their trace starts), so a tracer leaked into another trace or out of its own is
    caught where it is used."""

    __slots__ = ("value", "weak", "trace")

    def __init__(self, value: Value, weak: bool = False):
        self.value, self.weak, self.trace = value, weak, current()

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.type.shape

    @property
    def dtype(self) -> dt.DType:
        return self.value.type.dtype

    def owned(self) -> bool:
        """Whether this tracer belongs to the active trace; an unbound one (an argument wrapped
        before its trace began) is bound to the trace whose input it is."""
        ctx = current()
        if ctx is None:
            return False
        if self.trace is None and any(v is self.value for v in ctx.inputs):
            self.trace = ctx
        return self.trace is ctx

    def leaked(self, use: str) -> TraceError:
        """The error for using this tracer outside the trace that made it."""
        made = f"while tracing {self.trace.name!r}" if self.trace is not None else "by a trace"
        ctx = current()
        where = f"while tracing {ctx.name!r}" if ctx is not None else "outside any compiled function"
        return TraceError(
            f"leaked tracer: a kn.Tensor{tuple(self.shape)} {self.dtype} made {made} is used {where} "
            f"({use}); a traced value exists only during the call that traced it: return it from "
            "that function instead of storing it (on self, in a global or a closure)", loc=user_loc())

    def _concrete(self, what: str):
        if not self.owned():
            raise self.leaked(what)
        loc = user_loc()
        raise TraceError(
            f"{what} of a traced kn.Tensor{self.value.type.shape} is not known while tracing; "
            "Python `if`/`while` on traced values cannot be compiled: use kn.cond / kn.while_loop / "
            "kn.where, or mark the argument static (static_argnums)", loc=loc)

    def __bool__(self):
        self._concrete("the truth value")

    def __float__(self):
        self._concrete("float()")

    def __int__(self):
        self._concrete("int()")

    def __index__(self):
        self._concrete("the index value")

    def numpy(self):
        self._concrete("numpy()")

    def __array__(self, *a, **k):
        self._concrete("np.asarray()")

    def __repr__(self) -> str:
        return f"kn.Tensor({self.value.type})"


class Array(ArrayMethods):
    """A concrete array; on the CPU its buffer is a NumPy array (np.asarray is zero-copy)."""

    __slots__ = ("data",)
    device = "cpu"

    def __init__(self, data: np.ndarray):
        self.data = data

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> dt.DType:
        return dt.as_dtype(self.data.dtype)

    def numpy(self) -> np.ndarray:
        return self.data.copy()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self) -> Any:
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __index__(self) -> int:
        if not self.dtype.is_int:
            raise TypeError("only integer arrays can be used as an index")
        return int(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="kn.Array(")
        return f"kn.Array({body}, dtype={self.dtype.name})"

    def __str__(self) -> str:
        return str(self.data)

    def __format__(self, spec: str) -> str:
        return format(self.data.item(), spec) if self.data.ndim == 0 else format(str(self.data), spec)
