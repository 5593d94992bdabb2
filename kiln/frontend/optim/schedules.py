"""Learning-rate schedules: functions of the number of updates applied so far (step 0 first)."""
from __future__ import annotations

from ...ir import dtypes as dt
from .. import ops


class LearningRateSchedule:
    """`schedule(step)` for a Python number or a (traced) integer array step."""

    def __call__(self, step):
        raise NotImplementedError


class ExponentialDecay(LearningRateSchedule):
    """initial · decay_rate^(step / decay_steps), the exponent floored when `staircase`."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False) -> None:
        if decay_steps <= 0:
            raise ValueError(f"decay_steps must be positive, got {decay_steps}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = staircase

    def __call__(self, step):
        p = ops.divide(ops.astype(step, dt.float64), float(self.decay_steps))
        if self.staircase:
            p = ops.floor(p)
        return ops.multiply(self.initial_learning_rate, ops.power(self.decay_rate, p))
