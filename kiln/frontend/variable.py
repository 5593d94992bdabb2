"""kn.Variable: a buffer that compiled code reads and updates in place (captured by reference).

Its shape and dtype are fixed for `assign`. `v.data = x` (PyTorch's idiom) replaces the buffer
with a C-ordered copy of x, converted to the Variable's dtype; the shape may change, and
compiled functions that use the Variable check it on their next call and retrace.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..errors import DTypeError, ShapeError, TraceError
from ..ir import dtypes as dt
from .core import apply, lift
from .tensor import Array, ArrayMethods, Tensor
from .trace import creation_hooks, current, user_loc

_names = itertools.count()


class Variable(ArrayMethods):
    """Mutable state. Its NumPy buffer moves only when `.data` is set: assignments write into it."""

    _is_variable = True
    # how many buffers have been replaced (`.data = x`) in this process: compiled code checks the
    # shapes of its Variables again when this has changed since its last call
    replaced = 0

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
        object.__setattr__(self, "data", np.array(arr, dtype=d.np, order="C", copy=True))
        self.trainable = bool(trainable)
        self.name = name or f"Variable:{next(_names)}"
        for hook in creation_hooks():
            hook(self)

    def __setattr__(self, name: str, value) -> None:
        if name == "data":
            value = self._new_buffer(value)
            Variable.replaced += 1
        object.__setattr__(self, name, value)

    def _new_buffer(self, value) -> np.ndarray:
        """`value` as this Variable's next buffer: a C-ordered copy in its dtype (the Variable's
        compiled users never see another layout or dtype, nor the caller's array)."""
        if current() is not None:
            raise TraceError(f"setting {self.name}.data inside a compiled function would run once, while "
                             "tracing; use .assign() (same shape) or set .data outside", loc=user_loc())
        if isinstance(value, Tensor):
            raise TraceError(f"{self.name}.data: a traced kn.Tensor cannot become a Variable's buffer",
                             loc=user_loc())
        arr = np.asarray(value.data if isinstance(value, (Array, Variable)) else value)
        d = self.dtype.np
        if not np.can_cast(arr.dtype, d, "same_kind"):
            raise DTypeError(f"{self.name}.data = array of dtype {arr.dtype} {arr.shape}: the Variable's "
                             f"dtype is {self.dtype.name} (fixed); arrays of the same kind are converted",
                             loc=user_loc())
        return np.array(arr, dtype=d, order="C", copy=True)

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
            if not _broadcasts_to(tuple(v.shape), self.shape):
                raise ShapeError(f"cannot assign a value of shape {tuple(v.shape)} to Variable {self.name!r} "
                                 f"of shape {self.shape} ({self.dtype.name}): a Variable's shape is fixed; "
                                 "replace its buffer (`.data = x`) outside compiled functions to change it",
                                 op="assign", loc=user_loc())
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


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    return len(shape) <= len(target) and all(a in (1, b) for a, b in zip(shape[::-1], target[::-1]))
