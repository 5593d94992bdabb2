"""Optimizers whose state (slots, step count, learning rate) lives in Variables, so
`opt.apply_gradients(...)` inside `kn.jit` becomes in-place updates in the one native call.

Update rules are the textbook ones PyTorch also uses: SGD adds weight decay to the
gradient and keeps a momentum buffer b = μb + g (Nesterov: step along g + μb); Adam bias-
corrects both moments and adds eps to √v̂ (Kingma & Ba, Algorithm 1); RMSprop divides by
√(mean square) + eps. Hyperparameters other than the learning rate are fixed at construction.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...ir import dtypes as dt
from .. import ops
from ..core import lift, user_loc
from ..trace import tracing
from ..variable import Variable
from .schedules import LearningRateSchedule


class Optimizer:
    slot_names: tuple[str, ...] = ()

    def __init__(self, lr) -> None:
        with tracing(None):
            self.iterations = Variable(np.int64(0), trainable=False, name="iterations", dtype=dt.int64)
            self._lr = lr if isinstance(lr, LearningRateSchedule) else \
                Variable(np.float64(lr), trainable=False, name="learning_rate", dtype=dt.float64)
        self._slots: dict[int, tuple[Variable, dict[str, Variable]]] = {}

    @property
    def lr(self):
        """The schedule, or the current learning rate as a float."""
        return self._lr if isinstance(self._lr, LearningRateSchedule) else float(self._lr)

    @lr.setter
    def lr(self, value: float) -> None:
        """Change a constant learning rate in place: compiled steps see it without retracing."""
        if isinstance(self._lr, LearningRateSchedule):
            raise TypeError("this optimizer's learning rate is a schedule; construct a new optimizer to change it")
        self._lr.assign(np.float64(value))

    learning_rate = lr

    @property
    def variables(self) -> list[Variable]:
        """The optimizer's own state: step count, learning rate and every slot."""
        own = [self.iterations] + ([] if isinstance(self._lr, LearningRateSchedule) else [self._lr])
        return own + [s for _, slots in self._slots.values() for s in slots.values()]

    def _current_lr(self):
        return self._lr(self.iterations) if isinstance(self._lr, LearningRateSchedule) else self._lr

    def _slots_for(self, var: Variable) -> dict[str, Variable]:
        entry = self._slots.get(id(var))
        if entry is None:
            with tracing(None):
                slots = {n: Variable(np.zeros(var.shape, var.dtype.np), trainable=False,
                                     name=f"{var.name}/{n}") for n in self.slot_names}
            entry = self._slots[id(var)] = (var, slots)
        return entry[1]

    def apply_gradients(self, grads_and_vars) -> None:
        """Update each Variable from its gradient (pairs whose gradient is None are skipped),
        then count one step."""
        pairs = []
        for g, v in grads_and_vars:
            if not isinstance(v, Variable):
                raise TypeError(f"apply_gradients: expected (gradient, Variable) pairs, got a "
                                f"{type(v).__name__} where the Variable goes")
            if g is None:
                continue
            g = lift(g)
            if tuple(g.shape) != v.shape:
                raise ShapeError(f"gradient of shape {tuple(g.shape)} for Variable {v.name!r} of "
                                 f"shape {v.shape}", op="apply_gradients", loc=user_loc())
            pairs.append((g, v))
        lr = self._current_lr()
        for g, v in pairs:
            self._update(v, ops.astype(g, v.dtype), ops.astype(lr, v.dtype), self._slots_for(v))
        self.iterations.assign_add(1)

    def _update(self, var: Variable, g, lr, slots: dict[str, Variable]) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    def __init__(self, lr=0.01, momentum: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov, self.weight_decay = float(momentum), nesterov, float(weight_decay)
        self.slot_names = ("momentum",) if momentum else ()
        super().__init__(lr)

    def _update(self, var, g, lr, slots) -> None:
        if self.weight_decay:
            g = ops.add(g, ops.multiply(self.weight_decay, var))
        if self.momentum:
            buf = slots["momentum"]
            buf.assign(ops.add(ops.multiply(self.momentum, buf), g))
            g = ops.add(g, ops.multiply(self.momentum, buf)) if self.nesterov else buf
        var.assign_sub(ops.multiply(lr, g))


class Adam(Optimizer):
    slot_names = ("m", "v")

    def __init__(self, lr=1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7) -> None:
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        super().__init__(lr)

    def _update(self, var, g, lr, slots) -> None:
        m, v = slots["m"], slots["v"]
        t = ops.astype(ops.add(self.iterations, 1), var.dtype)
        m.assign(ops.add(ops.multiply(self.beta1, m), ops.multiply(1.0 - self.beta1, g)))
        v.assign(ops.add(ops.multiply(self.beta2, v), ops.multiply(1.0 - self.beta2, ops.square(g))))
        m_hat = ops.divide(m, ops.subtract(1.0, ops.power(self.beta1, t)))
        v_hat = ops.divide(v, ops.subtract(1.0, ops.power(self.beta2, t)))
        var.assign_sub(ops.divide(ops.multiply(lr, m_hat), ops.add(ops.sqrt(v_hat), self.eps)))


class RMSprop(Optimizer):
    def __init__(self, lr=1e-3, rho: float = 0.9, momentum: float = 0.0, eps: float = 1e-7) -> None:
        self.rho, self.momentum, self.eps = float(rho), float(momentum), float(eps)
        self.slot_names = ("mean_square",) + (("momentum",) if momentum else ())
        super().__init__(lr)

    def _update(self, var, g, lr, slots) -> None:
        ms = slots["mean_square"]
        ms.assign(ops.add(ops.multiply(self.rho, ms), ops.multiply(1.0 - self.rho, ops.square(g))))
        step = ops.divide(g, ops.add(ops.sqrt(ms), self.eps))
        if self.momentum:
            buf = slots["momentum"]
            buf.assign(ops.add(ops.multiply(self.momentum, buf), step))
            step = buf
        var.assign_sub(ops.multiply(lr, step))
