"""Batch normalization as a composite of kiln ops: the statistics are two reductions (mean,
then the mean squared deviation) that fusion puts in one kernel, and the moving averages
are Variables assigned in the same compiled step.
"""
from __future__ import annotations

from ...errors import ShapeError
from ...ir.opdef import norm_axis
from .. import ops
from ..core import lift, user_loc
from ..shape_ops import reshape
from ..variable import Variable


def batch_norm(x, gamma=None, beta=None, moving_mean=None, moving_var=None, training: bool = False,
               momentum: float = 0.9, eps: float = 1e-5, axis: int = 1):
    """Normalize x per feature along `axis` (channels of NCHW, features of (N, F)), then scale
    by gamma and shift by beta (each optional, shape (C,)).

    training: use the batch's mean and biased variance, and, where moving_mean / moving_var
    are Variables, update them in place: moving = momentum * moving + (1 - momentum) * batch
    (Gluon's and d2l's convention; PyTorch's momentum=0.1 is 1 - this one).
    inference: use moving_mean and moving_var, which are then required.
    """
    t = lift(x)
    if not t.dtype.is_float:
        t = ops.astype(t, "float32")
    if len(t.shape) < 2:
        raise ShapeError(f"expected a batch of at least 2 dimensions, got shape {tuple(t.shape)}",
                         op="batch_norm", loc=user_loc())
    try:
        ax = norm_axis(axis, len(t.shape))
    except ShapeError:
        raise ShapeError(f"axis {axis} is out of bounds for an input of shape {tuple(t.shape)}", op="batch_norm",
                         loc=user_loc()) from None
    c = t.shape[ax]
    kept = tuple(c if d == ax else 1 for d in range(len(t.shape)))
    others = tuple(d for d in range(len(t.shape)) if d != ax)

    def per_channel(v, name: str):
        v = lift(v)
        if v.size != c:
            raise ShapeError(f"{name} must hold {c} values (one per channel of axis {ax} of "
                             f"{tuple(t.shape)}), got shape {tuple(v.shape)}", op="batch_norm", loc=user_loc())
        return reshape(v, kept)

    if training:
        mean = ops.mean(t, axis=others, keepdims=True)
        var = ops.mean(ops.square(ops.subtract(t, mean)), axis=others, keepdims=True)
        for moving, stat in ((moving_mean, mean), (moving_var, var)):
            if isinstance(moving, Variable):
                new = ops.stop_gradient(reshape(stat, moving.shape))
                moving.assign(ops.add(ops.multiply(moving, momentum), ops.multiply(new, 1.0 - momentum)))
    else:
        if moving_mean is None or moving_var is None:
            raise ValueError("batch_norm: inference (training=False) needs moving_mean and moving_var")
        mean, var = per_channel(moving_mean, "moving_mean"), per_channel(moving_var, "moving_var")
    y = ops.multiply(ops.subtract(t, mean), ops.divide(1.0, ops.sqrt(ops.add(var, eps))))
    if gamma is not None:
        y = ops.multiply(y, per_channel(gamma, "gamma"))
    if beta is not None:
        y = ops.add(y, per_channel(beta, "beta"))
    return y
