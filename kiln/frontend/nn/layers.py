"""Layers: Sequential, Dense, Dropout, Flatten, ReLU (the convolutional ones come with conv ops)."""
from __future__ import annotations

import inspect
from typing import Callable

from ...errors import ShapeError
from ...ir import dtypes as dt
from .. import ops
from ..core import lift, user_loc
from ..shape_ops import reshape
from . import functional as F
from .module import Module


class Sequential(Module):
    """Calls its layers in order; plain callables (e.g. kn.nn.relu) may sit between layers."""

    def __init__(self, layers=()) -> None:
        self.layers = list(layers)

    def add(self, layer) -> "Sequential":
        self.layers.append(layer)
        return self

    def forward(self, x, training: bool = False):
        for layer in self.layers:
            x = layer(x, training=training) if _takes_training(layer) else layer(x)
        return x

    def __getitem__(self, i):
        return Sequential(self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)


def _takes_training(layer: Callable) -> bool:
    if isinstance(layer, Module):
        return True
    try:
        return "training" in inspect.signature(layer).parameters
    except (TypeError, ValueError):
        return False


class Dense(Module):
    """y = activation(x @ kernel + bias), kernel of shape (in_features, units)."""

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", dtype=dt.float32) -> None:
        self.units = int(units)
        self.activation = F.activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.dtype = dt.as_dtype(dtype)

    def build(self, input_shape) -> None:
        if len(input_shape) < 1:
            raise ShapeError(f"needs inputs with at least one axis, got shape {input_shape}",
                             op="Dense", loc=user_loc())
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer, self.dtype)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, self.dtype)

    def forward(self, x, training: bool = False):
        t = lift(x)
        if not t.dtype.is_float:  # integer / bool features (pixels, one-hots) compute in the layer's dtype
            t = ops.astype(t, self.dtype)
        if t.shape[-1] != self.kernel.shape[0]:
            raise ShapeError(f"input has {t.shape[-1]} features (shape {tuple(t.shape)}), the layer "
                             f"was built for {self.kernel.shape[0]}", op="Dense", loc=user_loc())
        y = F.linear(t, self.kernel, self.bias if self.use_bias else None)
        return y if self.activation is None else self.activation(y)

    def extra_repr(self) -> str:
        return f"units={self.units}" + (f", in_features={self.kernel.shape[0]}" if self.built else "")


class Dropout(Module):
    def __init__(self, rate: float) -> None:
        self.rate = float(rate)

    def forward(self, x, training: bool = False):
        return F.dropout(x, self.rate, training=training)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1·d2·...)."""

    def forward(self, x, training: bool = False):
        t = lift(x)
        return reshape(t, (t.shape[0], -1)) if len(t.shape) > 1 else ops.expand_dims(t, 1)


class ReLU(Module):
    def forward(self, x, training: bool = False):
        return F.relu(x)
