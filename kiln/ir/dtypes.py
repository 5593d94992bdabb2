"""kiln's element types and NumPy-style promotion with weakly typed Python scalars.

Imports numpy only. A DType is an interned singleton, so `is` and `==` agree.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class DType:
    """An element type: its short IR name, NumPy dtype and class (float/int/bool). It equals
    the NumPy dtype it stands for (`x.dtype == np.float32`), as JAX's dtypes do."""

    name: str
    short: str
    np_name: str
    kind: str  # "f", "i" or "b"
    bits: int

    @property
    def np(self) -> np.dtype:
        return np.dtype(self.np_name)

    @property
    def itemsize(self) -> int:
        return max(1, self.bits // 8)

    @property
    def is_float(self) -> bool:
        return self.kind == "f"

    @property
    def is_int(self) -> bool:
        return self.kind == "i"

    @property
    def is_bool(self) -> bool:
        return self.kind == "b"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DType):
            return self.name == other.name
        try:
            return other is not None and not isinstance(other, (int, float)) and np.dtype(other) == self.np
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"kn.{self.name}"

    def __str__(self) -> str:
        return self.name


float32 = DType("float32", "f32", "float32", "f", 32)
float64 = DType("float64", "f64", "float64", "f", 64)
int32 = DType("int32", "i32", "int32", "i", 32)
int64 = DType("int64", "i64", "int64", "i", 64)
bool_ = DType("bool", "bool", "bool", "b", 8)

ALL = (float32, float64, int32, int64, bool_)
_BY_NAME = {d.name: d for d in ALL} | {d.short: d for d in ALL} | {"bool_": bool_}
DEFAULT_FLOAT = float32
DEFAULT_INT = int32


def as_dtype(x: object) -> DType:
    """Accept a DType, NumPy dtype (object or string) or Python type; refuse what kiln lacks."""
    if isinstance(x, DType):
        return x
    if x is float:
        return DEFAULT_FLOAT
    if x is int:
        return DEFAULT_INT
    if x is bool:
        return bool_
    if isinstance(x, str) and x in _BY_NAME:
        return _BY_NAME[x]
    try:
        name = np.dtype(x).name  # type: ignore[call-overload]
    except TypeError as e:
        raise TypeError(f"kiln has no dtype {x!r}; use one of {[d.name for d in ALL]}") from e
    if name not in _BY_NAME:
        raise TypeError(f"kiln has no dtype {name}; use one of {[d.name for d in ALL]}")
    return _BY_NAME[name]


def promote(*dtypes: DType) -> DType:
    """NumPy's array-array promotion restricted to kiln's dtypes."""
    return as_dtype(np.result_type(*[d.np for d in dtypes]))


def promote_weak(strong: list[DType], weak: list[DType]) -> DType:
    """Promotion where `weak` dtypes come from Python scalars (JAX-style weak typing).

    A weak scalar never widens a strong operand of its class; a weak float meeting
    only ints/bools gives the default float; a weak int meeting only bools gives int32.
    """
    if not strong:
        if any(w.is_float for w in weak) or not weak:
            return DEFAULT_FLOAT
        return DEFAULT_INT if any(w.is_int for w in weak) else bool_
    result = promote(*strong)
    for w in weak:
        if w.is_float and not result.is_float:
            result = DEFAULT_FLOAT
        elif w.is_int and result.is_bool:
            result = DEFAULT_INT
    return result


def float_of(d: DType) -> DType:
    """The float type an int/bool is computed in by transcendental ops (NumPy's rule)."""
    if d.is_float:
        return d
    return float64 if d.is_int else float32
