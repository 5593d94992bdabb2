"""assign: the one effectful op; writes a new value into a state input (a Variable)."""
from __future__ import annotations

from ...errors import DTypeError, ShapeError
from ..opdef import defop


def _assign_shape(types):
    var, value = types
    if var.shape != value.shape:
        raise ShapeError(f"cannot assign a value of shape {value.shape} to a variable of shape {var.shape}")
    if var.dtype != value.dtype:
        raise DTypeError(f"cannot assign a value of dtype {value.dtype} to a variable of dtype {var.dtype}")
    return ()


defop("assign", shape=_assign_shape, dtype=lambda types: None, traits={"effectful", "internal"})
