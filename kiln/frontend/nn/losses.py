"""Losses: per-example values reduced over the batch (`reduction="mean"|"sum"|"none"`).

Cross-entropies take logits and go through log_softmax / a softplus form, so logits of
±1000 give finite losses and gradients. A per-example loss averages over every axis after
the batch axis (Keras's convention), so "mean" is the mean over all elements for mse.
"""
from __future__ import annotations

import math

from ...errors import ShapeError
from ...ir import dtypes as dt
from .. import ops
from ..core import apply, lift, user_loc
from ..shape_ops import one_hot
from .functional import log_softmax, relu, softplus_tail

_REDUCTIONS = ("mean", "sum", "none")
_TINY = math.exp(-100.0)


def _reduce(per_example, reduction: str):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if reduction == "none":
        return per_example
    return ops.mean(per_example) if reduction == "mean" else ops.sum(per_example)


def _per_example(elementwise):
    """Average an elementwise loss over all axes after the first (the batch axis)."""
    nd = len(elementwise.shape)
    return ops.mean(elementwise, axis=tuple(range(1, nd))) if nd > 1 else elementwise


def _pair(op: str, pred, target):
    p = lift(pred)
    if not p.dtype.is_float:
        p = ops.astype(p, dt.float_of(p.dtype))
    t = lift(target, p.dtype)
    if tuple(p.shape) != tuple(t.shape):
        raise ShapeError(f"predictions {tuple(p.shape)} and targets {tuple(t.shape)} differ in shape",
                         op=op, loc=user_loc())
    return p, t


def sparse_softmax_cross_entropy(logits, labels, reduction: str = "mean"):
    """-log softmax(logits)[label] per example; labels are integer class ids."""
    z = lift(logits)
    lab = lift(labels)
    if not lab.dtype.is_int:
        raise TypeError(f"sparse_softmax_cross_entropy: labels must be integers, got {lab.dtype} "
                        "(use softmax_cross_entropy for one-hot or soft targets)")
    if tuple(lab.shape) != tuple(z.shape[:-1]):
        raise ShapeError(f"labels of shape {tuple(lab.shape)} do not match "
                         f"logits {tuple(z.shape)} (expected labels of shape {tuple(z.shape[:-1])})",
                         op="sparse_softmax_cross_entropy", loc=user_loc())
    # NOTE: checked in [0, classes) eagerly and compiled alike (IndexError naming the label)
    lab = apply("check_index", [lab], bound=int(z.shape[-1]), negative=False, axis=None,
                caller="sparse_softmax_cross_entropy")
    logp = log_softmax(z, axis=-1)
    picked = ops.sum(ops.multiply(one_hot(lab, z.shape[-1], dtype=logp.dtype), logp), axis=-1)
    return _reduce(ops.negative(picked), reduction)


def softmax_cross_entropy(logits, onehot, reduction: str = "mean"):
    """-Σ target · log softmax(logits) over the last axis; targets may be soft."""
    z, t = _pair("softmax_cross_entropy", logits, onehot)
    return _reduce(ops.negative(ops.sum(ops.multiply(t, log_softmax(z, axis=-1)), axis=-1)), reduction)


def binary_cross_entropy(pred, target, from_logits: bool = False, reduction: str = "mean"):
    """-(y log p + (1-y) log(1-p)). With probabilities, each log is clamped at -100 (PyTorch's
    rule) so p = 0 or 1 stays finite; with logits, the exact form max(x,0) - x·y + log1p(e^-|x|)
    (softplus's pieces: the gradient is sigmoid(x) - y at x = 0 too)."""
    p, y = _pair("binary_cross_entropy", pred, target)
    if from_logits:
        per = ops.add(ops.subtract(relu(p), ops.multiply(p, y)), softplus_tail(p))
    else:
        log_p, log_q = _clamped_log(p), _clamped_log(ops.subtract(1.0, p))
        per = ops.negative(ops.add(ops.multiply(y, log_p), ops.multiply(ops.subtract(1.0, y), log_q)))
    return _reduce(_per_example(per), reduction)


def _clamped_log(v):
    """max(log v, -100), with a zero (not NaN) gradient where the clamp holds."""
    ok = ops.greater(v, _TINY)
    return ops.where(ok, ops.log(ops.where(ok, v, 1.0)), -100.0)


def mse(pred, target, reduction: str = "mean"):
    p, t = _pair("mse", pred, target)
    return _reduce(_per_example(ops.square(ops.subtract(p, t))), reduction)


def huber(pred, target, delta: float = 1.0, reduction: str = "mean"):
    """½e² where |e| ≤ delta, delta·(|e| − ½delta) beyond (Keras's Huber). The square is of e
    itself, so the second derivative at 0 is 1; at |e| = delta the quadratic branch holds
    (PyTorch's choice)."""
    p, t = _pair("huber", pred, target)
    e = ops.subtract(p, t)
    a = ops.abs(e)
    inside = ops.less_equal(a, delta)
    quad = ops.multiply(0.5, ops.square(ops.where(inside, e, 0.0)))  # an infinite e gets no NaN from e²
    per = ops.where(inside, quad, ops.multiply(delta, ops.subtract(a, 0.5 * delta)))
    return _reduce(_per_example(per), reduction)
