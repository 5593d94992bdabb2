"""kn.models: the convolutional networks of "Dive into Deep Learning" (2nd edition, ch. 7–8).

Each constructor builds d2l's architecture with d2l's channel counts, laid out as d2l's
PyTorch code lays it out (activations are their own layers, so `for layer in net` prints
d2l's table), out of kiln's public layers:

    lenet      LeNet-5: sigmoid, average pooling (d2l 7.6)      input 28
    lenet_bn   LeNet with batch normalization (d2l 8.5)           input 28
    alexnet    AlexNet (d2l 8.1)                                  input 224
    vgg11      VGG-11, conv_arch ((1,64),(1,128),(2,256),(2,512),(2,512)) (d2l 8.2)   input 224
    nin        Network in Network (d2l 8.3)                       input 224
    googlenet  GoogLeNet, Inception blocks b1..b5 (d2l 8.4)       input 96
    resnet18   ResNet-18, Residual blocks with 1x1 shortcuts (d2l 8.6)   input 96
    densenet   DenseNet: growth 32, 4 dense blocks of 4 convs (d2l 8.7)  input 96

Every constructor takes `num_classes=10` and `width`: every channel and hidden-unit count
is multiplied by `width` (rounded, at least 1) so a narrow copy trains in seconds; the
class count is never scaled. AlexNet, VGG and NiN take `dropout=` (d2l's 0.5; 0 removes
the randomness). Inputs are single-channel NCHW images (Fashion-MNIST, as in d2l).
`INPUT_SIZE` holds d2l's input sizes, `SMALL` a narrow width and small input per model.

    net = kn.models.resnet18()
    for name, shape in kn.models.layer_shapes(net, (1, 1, 96, 96)):
        print(name, "output shape:\t", shape)
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .frontend.jit import jit
from .frontend.nn import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool2D,
    MaxPool2D,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    relu,
)
from .frontend.shape_ops import concatenate

__all__ = [
    "INPUT_SIZE",
    "LR",
    "MODELS",
    "SMALL",
    "DenseBlock",
    "Inception",
    "Residual",
    "alexnet",
    "conv_block",
    "densenet",
    "googlenet",
    "layer_shapes",
    "lenet",
    "lenet_bn",
    "nin",
    "nin_block",
    "resnet18",
    "resnet_block",
    "transition_block",
    "vgg11",
    "vgg_block",
]


def _c(n: int, width: float) -> int:
    """A channel count scaled by `width`: rounded, at least 1."""
    return max(1, round(n * width))


# ------------------------------------------------------------------------------- LeNet (7.6, 8.5)
def lenet(num_classes: int = 10, width: float = 1.0) -> Sequential:
    """d2l's LeNet: conv 6 k5 p2, sigmoid, avgpool 2; conv 16 k5, sigmoid, avgpool 2; dense
    120, 84 (sigmoid), num_classes. 28x28 inputs give the 16x5x5 = 400 features."""
    return Sequential([
        Conv2D(_c(6, width), 5, padding=2), Sigmoid(), AvgPool2D(2, stride=2),
        Conv2D(_c(16, width), 5), Sigmoid(), AvgPool2D(2, stride=2), Flatten(),
        Dense(_c(120, width)), Sigmoid(), Dense(_c(84, width)), Sigmoid(), Dense(num_classes)])


def lenet_bn(num_classes: int = 10, width: float = 1.0) -> Sequential:
    """d2l's BatchNorm LeNet (8.5, concise): BatchNorm after every conv and hidden dense layer,
    before the sigmoid; convolutions unpadded (28 -> 24 -> 12 -> 8 -> 4, 256 features)."""
    return Sequential([
        Conv2D(_c(6, width), 5), BatchNorm(), Sigmoid(), AvgPool2D(2, stride=2),
        Conv2D(_c(16, width), 5), BatchNorm(), Sigmoid(), AvgPool2D(2, stride=2), Flatten(),
        Dense(_c(120, width)), BatchNorm(), Sigmoid(),
        Dense(_c(84, width)), BatchNorm(), Sigmoid(), Dense(num_classes)])


# ------------------------------------------------------------------------------------ AlexNet (8.1)
def alexnet(num_classes: int = 10, width: float = 1.0, dropout: float = 0.5) -> Sequential:
    """d2l's AlexNet for 224x224 Fashion-MNIST: conv 96 k11 s4 p1, maxpool 3/2, conv 256 k5 p2,
    maxpool 3/2, three 3x3 convs (384, 384, 256), maxpool 3/2, dense 4096, 4096 with dropout."""
    return Sequential([
        Conv2D(_c(96, width), 11, stride=4, padding=1), ReLU(), MaxPool2D(3, stride=2),
        Conv2D(_c(256, width), 5, padding=2), ReLU(), MaxPool2D(3, stride=2),
        Conv2D(_c(384, width), 3, padding=1), ReLU(),
        Conv2D(_c(384, width), 3, padding=1), ReLU(),
        Conv2D(_c(256, width), 3, padding=1), ReLU(), MaxPool2D(3, stride=2), Flatten(),
        Dense(_c(4096, width)), ReLU(), Dropout(dropout),
        Dense(_c(4096, width)), ReLU(), Dropout(dropout),
        Dense(num_classes)])


# ---------------------------------------------------------------------------------------- VGG (8.2)
VGG11_ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg_block(num_convs: int, out_channels: int) -> Sequential:
    """num_convs 3x3 convolutions (padding 1, ReLU), then a 2x2 max pool halving H and W."""
    layers: list = []
    for _ in range(num_convs):
        layers += [Conv2D(out_channels, 3, padding=1), ReLU()]
    return Sequential(layers + [MaxPool2D(2, stride=2)])


def vgg11(num_classes: int = 10, width: float = 1.0, dropout: float = 0.5,
          conv_arch=VGG11_ARCH) -> Sequential:
    """d2l's VGG-11: five vgg blocks, then dense 4096, 4096 (ReLU, dropout) and the classifier."""
    blocks = [vgg_block(n, _c(c, width)) for n, c in conv_arch]
    return Sequential(blocks + [
        Flatten(),
        Dense(_c(4096, width)), ReLU(), Dropout(dropout),
        Dense(_c(4096, width)), ReLU(), Dropout(dropout),
        Dense(num_classes)])


# ---------------------------------------------------------------------------------------- NiN (8.3)
def nin_block(out_channels: int, kernel_size: int, strides: int, padding: int) -> Sequential:
    """A convolution followed by two 1x1 convolutions (per-pixel dense layers), each with ReLU."""
    return Sequential([
        Conv2D(out_channels, kernel_size, stride=strides, padding=padding), ReLU(),
        Conv2D(out_channels, 1), ReLU(),
        Conv2D(out_channels, 1), ReLU()])


def nin(num_classes: int = 10, width: float = 1.0, dropout: float = 0.5) -> Sequential:
    """d2l's NiN: AlexNet's kernel sizes as NiN blocks (96, 256, 384 channels), the last block
    has num_classes channels and a global average pool replaces the dense layers."""
    return Sequential([
        nin_block(_c(96, width), 11, 4, 0), MaxPool2D(3, stride=2),
        nin_block(_c(256, width), 5, 1, 2), MaxPool2D(3, stride=2),
        nin_block(_c(384, width), 3, 1, 1), MaxPool2D(3, stride=2),
        Dropout(dropout),
        nin_block(num_classes, 3, 1, 1),
        GlobalAvgPool2D(), Flatten()])


# ---------------------------------------------------------------------------------- GoogLeNet (8.4)
class Inception(Module):
    """Four parallel paths concatenated on channels: 1x1 conv (c1); 1x1 (c2[0]) then 3x3 (c2[1]);
    1x1 (c3[0]) then 5x5 (c3[1]); 3x3 max pool then 1x1 (c4). ReLU after every conv."""

    def __init__(self, c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int) -> None:
        self.p1_1 = Conv2D(c1, 1)
        self.p2_1 = Conv2D(c2[0], 1)
        self.p2_2 = Conv2D(c2[1], 3, padding=1)
        self.p3_1 = Conv2D(c3[0], 1)
        self.p3_2 = Conv2D(c3[1], 5, padding=2)
        self.p4_1 = MaxPool2D(3, stride=1, padding=1)
        self.p4_2 = Conv2D(c4, 1)

    def forward(self, x, training: bool = False):
        p1 = relu(self.p1_1(x))
        p2 = relu(self.p2_2(relu(self.p2_1(x))))
        p3 = relu(self.p3_2(relu(self.p3_1(x))))
        p4 = relu(self.p4_2(self.p4_1(x)))
        return concatenate([p1, p2, p3, p4], axis=1)


def googlenet(num_classes: int = 10, width: float = 1.0) -> Sequential:
    """d2l's GoogLeNet: stem b1 (7x7 conv 64, pool), b2 (1x1 64, 3x3 192, pool), then nine
    Inception blocks in b3 (2), b4 (5), b5 (2) with pools between, global average pool, dense."""
    def inc(c1, c2, c3, c4):
        return Inception(_c(c1, width), (_c(c2[0], width), _c(c2[1], width)),
                         (_c(c3[0], width), _c(c3[1], width)), _c(c4, width))
    b1 = Sequential([Conv2D(_c(64, width), 7, stride=2, padding=3), ReLU(),
                     MaxPool2D(3, stride=2, padding=1)])
    b2 = Sequential([Conv2D(_c(64, width), 1), ReLU(), Conv2D(_c(192, width), 3, padding=1), ReLU(),
                     MaxPool2D(3, stride=2, padding=1)])
    b3 = Sequential([inc(64, (96, 128), (16, 32), 32), inc(128, (128, 192), (32, 96), 64),
                     MaxPool2D(3, stride=2, padding=1)])
    b4 = Sequential([inc(192, (96, 208), (16, 48), 64), inc(160, (112, 224), (24, 64), 64),
                     inc(128, (128, 256), (24, 64), 64), inc(112, (144, 288), (32, 64), 64),
                     inc(256, (160, 320), (32, 128), 128), MaxPool2D(3, stride=2, padding=1)])
    b5 = Sequential([inc(256, (160, 320), (32, 128), 128), inc(384, (192, 384), (48, 128), 128),
                     GlobalAvgPool2D(), Flatten()])
    return Sequential([b1, b2, b3, b4, b5, Dense(num_classes)])


# ------------------------------------------------------------------------------------- ResNet (8.6)
class Residual(Module):
    """d2l's residual block: 3x3 conv, BN, ReLU, 3x3 conv, BN, plus the input (through a 1x1
    convolution with the same stride when use_1x1conv), then ReLU."""

    def __init__(self, num_channels: int, use_1x1conv: bool = False, strides: int = 1) -> None:
        self.conv1 = Conv2D(num_channels, 3, padding=1, stride=strides)
        self.conv2 = Conv2D(num_channels, 3, padding=1)
        self.conv3 = Conv2D(num_channels, 1, stride=strides) if use_1x1conv else None
        self.bn1 = BatchNorm()
        self.bn2 = BatchNorm()

    def forward(self, x, training: bool = False):
        y = relu(self.bn1(self.conv1(x), training=training))
        y = self.bn2(self.conv2(y), training=training)
        if self.conv3 is not None:
            x = self.conv3(x)
        return relu(y + x)


def _stem(width: float) -> Sequential:
    """ResNet's and DenseNet's b1: 7x7 conv 64 stride 2, BN, ReLU, 3x3 max pool stride 2."""
    return Sequential([Conv2D(_c(64, width), 7, stride=2, padding=3), BatchNorm(), ReLU(),
                       MaxPool2D(3, stride=2, padding=1)])


def resnet_block(num_channels: int, num_residuals: int, first_block: bool = False) -> Sequential:
    """num_residuals Residual blocks; unless first_block, the first halves H and W (stride 2)
    and changes the channels through its 1x1 shortcut."""
    return Sequential([Residual(num_channels, use_1x1conv=True, strides=2) if i == 0 and not first_block
                       else Residual(num_channels) for i in range(num_residuals)])


def resnet18(num_classes: int = 10, width: float = 1.0) -> Sequential:
    """d2l's ResNet-18: stem, four stages of two Residual blocks (64, 128, 256, 512 channels),
    global average pool, dense."""
    return Sequential([
        _stem(width),
        resnet_block(_c(64, width), 2, first_block=True),
        resnet_block(_c(128, width), 2),
        resnet_block(_c(256, width), 2),
        resnet_block(_c(512, width), 2),
        GlobalAvgPool2D(), Flatten(), Dense(num_classes)])


# ----------------------------------------------------------------------------------- DenseNet (8.7)
def conv_block(num_channels: int) -> Sequential:
    """DenseNet's pre-activation unit: BN, ReLU, 3x3 conv (padding 1)."""
    return Sequential([BatchNorm(), ReLU(), Conv2D(num_channels, 3, padding=1)])


class DenseBlock(Module):
    """num_convs conv_blocks, each one's output concatenated onto its input on channels, so the
    block adds num_convs * num_channels (the growth rate) channels."""

    def __init__(self, num_convs: int, num_channels: int) -> None:
        self.net = Sequential([conv_block(num_channels) for _ in range(num_convs)])

    def forward(self, x, training: bool = False):
        for blk in self.net.layers:
            y = blk(x, training=training)
            x = concatenate([x, y], axis=1)
        return x


def transition_block(num_channels: int) -> Sequential:
    """BN, ReLU, 1x1 conv to num_channels, 2x2 average pool (halves H and W)."""
    return Sequential([BatchNorm(), ReLU(), Conv2D(num_channels, 1), AvgPool2D(2, stride=2)])


def densenet(num_classes: int = 10, width: float = 1.0, growth_rate: int = 32,
             num_convs_in_dense_blocks=(4, 4, 4, 4)) -> Sequential:
    """d2l's DenseNet: stem, dense blocks (growth 32) with transition blocks halving the channels
    between them (64 -> 192 -> 96 -> 224 -> 112 -> 240 -> 120 -> 248), BN, ReLU, pool, dense."""
    num_channels, growth = _c(64, width), _c(growth_rate, width)
    blks: list = []
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        blks.append(DenseBlock(num_convs, growth))
        num_channels += num_convs * growth
        if i != len(num_convs_in_dense_blocks) - 1:
            num_channels //= 2
            blks.append(transition_block(num_channels))
    return Sequential([_stem(width), *blks, BatchNorm(), ReLU(), GlobalAvgPool2D(), Flatten(),
                       Dense(num_classes)])


# --------------------------------------------------------------------------------------- the zoo
MODELS: dict[str, Callable[..., Sequential]] = {
    "lenet": lenet, "lenet_bn": lenet_bn, "alexnet": alexnet, "vgg11": vgg11, "nin": nin,
    "googlenet": googlenet, "resnet18": resnet18, "densenet": densenet}

#: d2l's input height = width for each model (Fashion-MNIST resized).
INPUT_SIZE: dict[str, int] = {"lenet": 28, "lenet_bn": 28, "alexnet": 224, "vgg11": 224, "nin": 224,
                              "googlenet": 96, "resnet18": 96, "densenet": 96}

#: (width, input size) of the quick `--small` variants: the smallest inputs the strides allow
#: (AlexNet and NiN need 67+ pixels to keep one pixel after their three 3/2 pools).
SMALL: dict[str, tuple[float, int]] = {"lenet": (1.0, 28), "lenet_bn": (1.0, 28), "alexnet": (1 / 16, 68),
                                       "vgg11": (1 / 16, 32), "nin": (1 / 8, 68), "googlenet": (1 / 8, 32),
                                       "resnet18": (1 / 8, 32), "densenet": (1 / 4, 32)}

#: d2l's learning rates (plain SGD).
LR: dict[str, float] = {"lenet": 0.9, "lenet_bn": 1.0, "alexnet": 0.01, "vgg11": 0.05, "nin": 0.1,
                        "googlenet": 0.1, "resnet18": 0.05, "densenet": 0.1}


def layer_shapes(net: Sequential, input_shape, dtype=np.float32,
                 training: bool = False) -> list[tuple[str, tuple]]:
    """d2l's table, `for layer in net: X = layer(X); print(...)`, as (class name, output shape)
    pairs, found by tracing the layers (no arithmetic runs; unbuilt layers build their
    Variables)."""
    rows: list[tuple[str, tuple]] = []

    def probe(x):
        for layer in net.layers:
            x = layer(x, training=training) if isinstance(layer, Module) else layer(x)
            name = type(layer).__name__ if isinstance(layer, Module) else getattr(layer, "__name__", "?")
            rows.append((name, tuple(int(d) for d in x.shape)))
        return x

    jit(probe).trace(np.zeros(tuple(input_shape), dtype))
    return rows
