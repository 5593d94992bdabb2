"""kn.Tensor (traced, inside a compiled function) and kn.Array (concrete), sharing one
method surface: operators, NumPy basic indexing, and the array methods of API.md."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import TraceError
from ..ir import dtypes as dt
from ..ir.graph import Value
from .trace import user_loc


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

    def sum(self, axis=None, keepdims=False):
        from . import ops
        return ops.sum(self, axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        from . import ops
        return ops.mean(self, axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        from . import ops
        return ops.max(self, axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        from . import ops
        return ops.min(self, axis, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        from . import ops
        return ops.prod(self, axis, keepdims=keepdims)

    def argmax(self, axis=None):
        from . import ops
        return ops.argmax(self, axis)

    def argmin(self, axis=None):
        from . import ops
        return ops.argmin(self, axis)

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
    """A traced value inside a compiled function; `weak` marks a Python scalar argument."""

    __slots__ = ("value", "weak")

    def __init__(self, value: Value, weak: bool = False):
        self.value, self.weak = value, weak

    @property
    def shape(self) -> tuple[int, ...]:
        return self.value.type.shape

    @property
    def dtype(self) -> dt.DType:
        return self.value.type.dtype

    def _concrete(self, what: str):
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
