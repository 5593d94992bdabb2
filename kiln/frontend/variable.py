"""kn.Variable: a buffer that compiled code reads and updates in place (captured by reference)."""
from __future__ import annotations

import itertools

import numpy as np

from ..errors import TraceError
from ..ir import dtypes as dt
from .core import apply, lift
from .tensor import Array, ArrayMethods, Tensor
from .trace import creation_hooks, current, user_loc

_names = itertools.count()


class Variable(ArrayMethods):
    """Mutable state. Its NumPy buffer never moves: assignments write into it."""

    _is_variable = True

    def __init__(self, value, trainable: bool = True, name: str | None = None, dtype=None):
        if isinstance(value, Tensor):
            raise TraceError("a Variable's initial value must be concrete, not a traced kn.Tensor; create it "
                             "outside the compiled function or from NumPy/kn values computed eagerly",
                             loc=user_loc())
        if isinstance(value, Variable):
            value = value.data
        arr = value.data if isinstance(value, Array) else value
        d = dt.as_dtype(dtype) if dtype is not None else None
        if d is None:
            from .trace import default_dtype_of
            d = default_dtype_of(arr)
        self.data = np.array(arr, dtype=d.np, order="C", copy=True)
        self.trainable = bool(trainable)
        self.name = name or f"Variable:{next(_names)}"
        for hook in creation_hooks():
            hook(self)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> dt.DType:
        return dt.as_dtype(self.data.dtype)

    @property
    def value(self):
        """The current value: a snapshot Array eagerly, the traced value inside jit."""
        ctx = current()
        return Tensor(ctx.read_variable(self)) if ctx is not None else Array(self.data.copy())

    def read_value(self):
        return self.value

    def numpy(self) -> np.ndarray:
        return self.data.copy()

    def __array__(self, dtype=None, copy=None):
        return self.data.astype(dtype) if dtype is not None else self.data.copy()

    def assign(self, value):
        v = lift(value, self.dtype)
        if tuple(v.shape) != self.shape:
            from .shape_ops import broadcast_to
            v = broadcast_to(v, self.shape)
        ctx = current()
        if ctx is not None:
            ctx.write_variable(self, v.value, user_loc())
        else:
            apply("assign", [self, v])
        return self

    def assign_add(self, delta):
        from .ops import add
        return self.assign(add(self, delta))

    def assign_sub(self, delta):
        from .ops import subtract
        return self.assign(subtract(self, delta))

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    def __repr__(self) -> str:
        return f"kn.Variable({self.name!r}, shape={self.shape}, dtype={self.dtype.name}, value={self.data!r})"
