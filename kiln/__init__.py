"""kiln: a graph compiler and static-graph runtime for deep learning (public API: API.md)."""
from .errors import DTypeError, KilnError, ParseError, ShapeError, TraceError
from . import data, nn, optim
from .frontend import random
from .frontend.jit import function, jit
from .frontend.ops import *  # noqa: F401,F403
from .frontend.ops import abs, max, min, sum  # noqa: A004,F401
from .frontend.tensor import Array, Tensor
from .frontend.variable import Variable
from .ir.dtypes import DType, bool_, float32, float64, int32, int64
from .frontend.autodiff import GradientTape, grad, stop_gradient, value_and_grad
from . import models  # after nn and jit, which it builds on

__version__ = "0.1.0"
__all__ = ["DTypeError", "KilnError", "ParseError", "ShapeError", "TraceError", "data", "models", "nn", "optim", "random",
           "function", "jit", "Array", "Tensor", "Variable", "DType", "bool_", "float32", "float64", "int32",
           "int64", "GradientTape", "grad", "stop_gradient", "value_and_grad"]
