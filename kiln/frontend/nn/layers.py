"""Layers: Sequential, Dense, Conv2D, pooling, BatchNorm, Dropout, Flatten, ReLU (Gluon names,
Keras-style deferred shapes: input channels and features are read from the first call)."""
from __future__ import annotations

import inspect
from typing import Callable

from ...errors import ShapeError
from ...ir import dtypes as dt
from .. import ops
from ..core import lift, user_loc
from ..shape_ops import reshape
from . import conv as C
from . import functional as F
from .norm import batch_norm
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


class Sigmoid(Module):
    """The logistic function as a layer, so d2l's LeNet lists it among its layers."""

    def forward(self, x, training: bool = False):
        return F.sigmoid(x)


def _float_input(x, dtype):
    t = lift(x)
    return t if t.dtype.is_float else ops.astype(t, dtype)


class Conv2D(Module):
    """2-D cross-correlation over NCHW inputs; kernel (channels, in_channels/groups, KH, KW)."""

    def __init__(self, channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 activation=None, use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", dtype=dt.float32, *, strides=None) -> None:
        self.channels, self.groups = int(channels), int(groups)
        self.kernel_size = C._pair(kernel_size, "kernel_size")
        self.stride = stride if strides is None else strides  # `strides`: Gluon's and Keras's spelling
        self.padding, self.dilation = padding, dilation
        self.activation = F.activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer
        self.dtype = dt.as_dtype(dtype)

    def build(self, input_shape) -> None:
        if len(input_shape) != 4 or input_shape[1] % self.groups or self.channels % self.groups:
            raise ShapeError(f"needs NCHW inputs whose channels divide into groups={self.groups} (and "
                             f"{self.channels} output channels that do), got shape {input_shape}",
                             op="Conv2D", loc=user_loc())
        self.add_weight("kernel", (self.channels, input_shape[1] // self.groups) + self.kernel_size,
                        self.kernel_initializer, self.dtype)
        if self.use_bias:
            self.add_weight("bias", (self.channels,), self.bias_initializer, self.dtype)

    def forward(self, x, training: bool = False):
        y = C.conv2d(_float_input(x, self.dtype), self.kernel, self.bias if self.use_bias else None,
                     self.stride, self.padding, self.dilation, self.groups)
        return y if self.activation is None else self.activation(y)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}, stride={self.stride}, " \
               f"padding={self.padding}"


class MaxPool2D(Module):
    """Window maxima; stride defaults to the window. Gluon's `strides` and PyTorch's
    `kernel_size` are accepted as keywords too."""

    def __init__(self, pool_size=2, stride=None, padding=0, *, strides=None, kernel_size=None) -> None:
        self.pool_size = pool_size if kernel_size is None else kernel_size
        self.stride = stride if strides is None else strides
        self.padding = padding

    def forward(self, x, training: bool = False):
        return C.max_pool2d(x, self.pool_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2D(MaxPool2D):
    """Window means, the zero padding counted (PyTorch's count_include_pad=True)."""

    def forward(self, x, training: bool = False):
        return C.avg_pool2d(x, self.pool_size, self.stride, self.padding)


class GlobalAvgPool2D(Module):
    """Mean over H and W, keeping them as 1s: (N, C, 1, 1)."""

    def forward(self, x, training: bool = False):
        return C.global_avg_pool2d(x)


class BatchNorm(Module):
    """Batch normalization over `axis` (channels of NCHW, features of (N, F)): learned scale
    gamma and shift beta, moving statistics in non-trainable Variables updated by training
    calls (moving = momentum * moving + (1 - momentum) * batch)."""

    def __init__(self, axis: int = 1, momentum: float = 0.9, epsilon: float = 1e-5, center: bool = True,
                 scale: bool = True, dtype=dt.float32) -> None:
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = center, scale
        self.dtype = dt.as_dtype(dtype)

    def build(self, input_shape) -> None:
        if len(input_shape) < 2:
            raise ShapeError(f"needs a batch of at least 2 dimensions, got shape {input_shape}", op="BatchNorm",
                             loc=user_loc())
        c = (input_shape[self.axis],)
        if self.scale:
            self.add_weight("gamma", c, "ones", self.dtype)
        if self.center:
            self.add_weight("beta", c, "zeros", self.dtype)
        self.add_weight("moving_mean", c, "zeros", self.dtype, trainable=False)
        self.add_weight("moving_var", c, "ones", self.dtype, trainable=False)

    def forward(self, x, training: bool = False):
        return batch_norm(_float_input(x, self.dtype), self.gamma if self.scale else None,
                          self.beta if self.center else None, self.moving_mean, self.moving_var, training,
                          self.momentum, self.epsilon, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}, momentum={self.momentum}, epsilon={self.epsilon}"
