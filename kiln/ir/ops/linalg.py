"""matmul: batched, broadcasting over leading dims; both operands have ndim >= 2 in the IR."""
from __future__ import annotations

import numpy as np

from ...errors import DTypeError, ShapeError
from ..opdef import broadcast_shapes, defop, same_dtype


def _matmul_shape(types):
    a, b = types
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError(f"IR matmul needs operands of rank >= 2, got {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise ShapeError(f"mismatch in contraction dimension: {a.shape} @ {b.shape} "
                         f"({a.shape[-1]} != {b.shape[-2]})")
    try:
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ShapeError:
        raise ShapeError(f"batch dimensions do not broadcast: {a.shape} @ {b.shape}") from None
    return batch + (a.shape[-2], b.shape[-1])


def _matmul_dtype(types):
    """Products summed: bool operands would add as one-bit integers (an XOR), so they are refused."""
    d = same_dtype(types)
    if d.is_bool:
        raise DTypeError("matmul of bool arrays is not supported; cast them to an integer or float dtype")
    return d


def _bcast(b, ix, shape):
    lead = len(ix) - len(shape)
    return tuple(b.const(0) if n == 1 else ix[lead + d] for d, n in enumerate(shape))


def _matmul_value(b, node, ix, rix, operand):
    x, y = node.inputs
    batch, i, j, (k,) = ix[:-2], ix[-2], ix[-1], rix
    xi = _bcast(b, batch, x.shape[:-2]) + (i, k)
    yi = _bcast(b, batch, y.shape[:-2]) + (k, j)
    return b.mul(operand(0, xi), operand(1, yi))


def _swap_last(e, v):
    return e.transpose(v, perm=tuple(range(v.ndim - 2)) + (v.ndim - 1, v.ndim - 2))


def _matmul_grad(e, g, y, a, b):
    """dA = g @ B^T, dB = A^T @ g, at the broadcast batch shape (the driver sums it back)."""
    return e.matmul(g, _swap_last(e, b)), e.matmul(_swap_last(e, a), g)


defop("matmul", shape=_matmul_shape, dtype=_matmul_dtype, ref=np.matmul,
      reduce=_matmul_value, rshape=lambda node: (node.inputs[0].shape[-1],), combiner="sum",
      traits={"linalg", "contraction"}, grad=_matmul_grad)
