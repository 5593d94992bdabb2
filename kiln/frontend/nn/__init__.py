"""kn.nn: functional ops, losses, initializers, Module and layers (API.md § kiln.nn)."""
from . import init
from .conv import avg_pool2d, conv2d, global_avg_pool2d, max_pool2d
from .functional import dropout, gelu, leaky_relu, linear, log_softmax, relu, sigmoid, softmax, softplus, tanh
from .layers import (AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, GlobalAvgPool2D, MaxPool2D, ReLU,
                     Sequential, Sigmoid)
from .norm import batch_norm
from .losses import binary_cross_entropy, huber, mse, softmax_cross_entropy, sparse_softmax_cross_entropy
from .module import Module, load

__all__ = ["init", "avg_pool2d", "conv2d", "global_avg_pool2d", "max_pool2d", "dropout", "gelu", "leaky_relu", "linear", "log_softmax", "relu", "sigmoid", "softmax",
           "softplus", "tanh", "batch_norm", "AvgPool2D", "BatchNorm", "Conv2D", "GlobalAvgPool2D",
           "MaxPool2D", "Dense", "Dropout", "Flatten", "ReLU", "Sequential", "Sigmoid", "binary_cross_entropy",
           "huber", "mse", "softmax_cross_entropy", "sparse_softmax_cross_entropy", "Module", "load"]
