"""kn.optim: SGD, Adam, RMSprop and learning-rate schedules (API.md § kiln.optim)."""
from . import schedules
from .optimizers import SGD, Adam, Optimizer, RMSprop

__all__ = ["schedules", "SGD", "Adam", "Optimizer", "RMSprop"]
