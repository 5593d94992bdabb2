"""The d2l CNN zoo (kn.models, examples/zoo.py): architectures, shapes and one training step.

- Every layer's (or block's) output shape matches d2l's printed tables at d2l's input size,
  found by tracing (kn.models.layer_shapes: nothing is computed, so VGG at 224 is cheap);
  d2l's block checks (Residual, DenseBlock, transition_block) likewise.
- For every model at its `--small` size, ONE compiled train step (forward, GradientTape
  backward, SGD update) gives PyTorch's loss and gradients for every parameter (the same
  architecture written as d2l writes it in PyTorch, kiln's weights copied in), the SGD update
  lands in kiln's Variables, and BatchNorm's moving statistics follow torch's running ones.
- LeNet and NiN are also checked without torch: the loss against a float64 NumPy forward,
  gradients against central differences of it.
- The compiled step is one native call, with no retrace, that updates Variables in place.
- examples/zoo.py runs as a user runs it.
"""
from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import kiln as kn
import kiln.models as zoo
from kiln.frontend import core
from kiln.runtime.executable import Executable

ROOT = Path(__file__).resolve().parents[2]
NAMES = list(zoo.MODELS)
BATCH = 4
LR = 0.1
RTOL = 1e-3


def _width(n: float, w: float) -> int:
    return max(1, round(n * w))


# --------------------------------------------------------------------------- shapes (d2l's tables)
# d2l's printed tables at d2l's input sizes: a layer (or block) and its output shape a line
D2L_TEXT = {
    "lenet": """
        Conv2D          1 6 28 28
        Sigmoid         1 6 28 28
        AvgPool2D       1 6 14 14
        Conv2D          1 16 10 10
        Sigmoid         1 16 10 10
        AvgPool2D       1 16 5 5
        Flatten         1 400
        Dense           1 120
        Sigmoid         1 120
        Dense           1 84
        Sigmoid         1 84
        Dense           1 10""",
    "lenet_bn": """
        Conv2D          1 6 24 24
        BatchNorm       1 6 24 24
        Sigmoid         1 6 24 24
        AvgPool2D       1 6 12 12
        Conv2D          1 16 8 8
        BatchNorm       1 16 8 8
        Sigmoid         1 16 8 8
        AvgPool2D       1 16 4 4
        Flatten         1 256
        Dense           1 120
        BatchNorm       1 120
        Sigmoid         1 120
        Dense           1 84
        BatchNorm       1 84
        Sigmoid         1 84
        Dense           1 10""",
    "alexnet": """
        Conv2D          1 96 54 54
        ReLU            1 96 54 54
        MaxPool2D       1 96 26 26
        Conv2D          1 256 26 26
        ReLU            1 256 26 26
        MaxPool2D       1 256 12 12
        Conv2D          1 384 12 12
        ReLU            1 384 12 12
        Conv2D          1 384 12 12
        ReLU            1 384 12 12
        Conv2D          1 256 12 12
        ReLU            1 256 12 12
        MaxPool2D       1 256 5 5
        Flatten         1 6400
        Dense           1 4096
        ReLU            1 4096
        Dropout         1 4096
        Dense           1 4096
        ReLU            1 4096
        Dropout         1 4096
        Dense           1 10""",
    "vgg11": """
        Sequential      1 64 112 112
        Sequential      1 128 56 56
        Sequential      1 256 28 28
        Sequential      1 512 14 14
        Sequential      1 512 7 7
        Flatten         1 25088
        Dense           1 4096
        ReLU            1 4096
        Dropout         1 4096
        Dense           1 4096
        ReLU            1 4096
        Dropout         1 4096
        Dense           1 10""",
    "nin": """
        Sequential      1 96 54 54
        MaxPool2D       1 96 26 26
        Sequential      1 256 26 26
        MaxPool2D       1 256 12 12
        Sequential      1 384 12 12
        MaxPool2D       1 384 5 5
        Dropout         1 384 5 5
        Sequential      1 10 5 5
        GlobalAvgPool2D 1 10 1 1
        Flatten         1 10""",
    "googlenet": """
        Sequential      1 64 24 24
        Sequential      1 192 12 12
        Sequential      1 480 6 6
        Sequential      1 832 3 3
        Sequential      1 1024
        Dense           1 10""",
    "resnet18": """
        Sequential      1 64 24 24
        Sequential      1 64 24 24
        Sequential      1 128 12 12
        Sequential      1 256 6 6
        Sequential      1 512 3 3
        GlobalAvgPool2D 1 512 1 1
        Flatten         1 512
        Dense           1 10""",
    "densenet": """
        Sequential      1 64 24 24
        DenseBlock      1 192 24 24
        Sequential      1 96 12 12
        DenseBlock      1 224 12 12
        Sequential      1 112 6 6
        DenseBlock      1 240 6 6
        Sequential      1 120 3 3
        DenseBlock      1 248 3 3
        BatchNorm       1 248 3 3
        ReLU            1 248 3 3
        GlobalAvgPool2D 1 248 1 1
        Flatten         1 248
        Dense           1 10""",
}
D2L_TABLES = {name: [(row.split()[0], tuple(int(n) for n in row.split()[1:])) for row in text.strip().splitlines()]
              for name, text in D2L_TEXT.items()}


@pytest.mark.parametrize("name", NAMES)
def test_layer_shapes_match_d2l_tables(name: str) -> None:
    net = zoo.MODELS[name]()
    size = zoo.INPUT_SIZE[name]
    assert zoo.layer_shapes(net, (1, 1, size, size)) == D2L_TABLES[name]


def test_resnet18_at_224_matches_d2l_table() -> None:
    """d2l prints ResNet's table for a 224x224 input (and trains it on 96x96)."""
    shapes = [s for _, s in zoo.layer_shapes(zoo.resnet18(), (1, 1, 224, 224))]
    assert shapes == [(1, 64, 56, 56), (1, 64, 56, 56), (1, 128, 28, 28), (1, 256, 14, 14), (1, 512, 7, 7),
                      (1, 512, 1, 1), (1, 512), (1, 10)]


def test_vgg_block_halves_and_googlenet_blocks_concat() -> None:
    shapes = zoo.layer_shapes(kn.nn.Sequential([zoo.vgg_block(2, 8), zoo.Inception(4, (3, 5), (2, 6), 7)]),
                              (2, 3, 16, 16))
    assert shapes == [("Sequential", (2, 8, 8, 8)), ("Inception", (2, 4 + 5 + 6 + 7, 8, 8))]


def _block_shape(block, shape) -> tuple:
    return zoo.layer_shapes(kn.nn.Sequential([block]), shape, training=True)[0][1]


def test_d2l_block_checks() -> None:
    """d2l 8.6's and 8.7's block examples: Residual(3) and Residual(6, 1x1, stride 2) on (4, 3, 6, 6);
    DenseBlock(2, 10) on (4, 3, 8, 8) gives 23 channels; transition_block(10) halves it to 4x4."""
    assert _block_shape(zoo.Residual(3), (4, 3, 6, 6)) == (4, 3, 6, 6)
    assert _block_shape(zoo.Residual(6, use_1x1conv=True, strides=2), (4, 3, 6, 6)) == (4, 6, 3, 3)
    assert _block_shape(zoo.DenseBlock(2, 10), (4, 3, 8, 8)) == (4, 23, 8, 8)
    assert _block_shape(zoo.transition_block(10), (4, 23, 8, 8)) == (4, 10, 4, 4)


def test_width_scales_channels_not_classes() -> None:
    rows = zoo.layer_shapes(zoo.nin(width=0.125), (2, 1, 68, 68))
    assert rows[0][1] == (2, 12, 15, 15) and rows[-1][1] == (2, 10)
    rows = zoo.layer_shapes(zoo.densenet(num_classes=7, width=0.25), (2, 1, 32, 32))
    assert rows[1] == ("DenseBlock", (2, 16 + 4 * 8, 8, 8)) and rows[-1][1] == (2, 7)
    assert zoo.layer_shapes(zoo.lenet(width=1e-3), (1, 1, 28, 28))[0][1] == (1, 1, 28, 28)  # at least 1


# --------------------------------------------------------------------------- one compiled train step
class StepRecord:
    """A small model before and after one compiled SGD step, with the step's loss and grads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.width, self.size = zoo.SMALL[name]
        kn.random.seed(0)
        kwargs = {"dropout": 0.0} if "dropout" in zoo.MODELS[name].__code__.co_varnames else {}
        self.net = net = zoo.MODELS[name](width=self.width, **kwargs)
        rng = np.random.default_rng(1)
        self.x = rng.standard_normal((BATCH, 1, self.size, self.size), dtype=np.float32)
        self.y = rng.integers(0, 10, BATCH).astype(np.int32)
        zoo.layer_shapes(net, self.x.shape)  # build the Variables
        self.opt = opt = kn.optim.SGD(LR)

        @kn.jit
        def step(x, y):
            with kn.GradientTape() as tape:
                loss = kn.nn.sparse_softmax_cross_entropy(net(x, training=True), y)
            variables = net.trainable_variables
            grads = tape.gradient(loss, variables)
            opt.apply_gradients(zip(grads, variables))
            return loss, grads

        self.step = step
        self.before = [v.numpy().copy() for v in net.variables]
        loss, grads = step(self.x, self.y)
        self.loss, self.grads = float(loss), [g.numpy().copy() for g in grads]
        self.after = [v.numpy().copy() for v in net.variables]
        self.trainable = [v.trainable for v in net.variables]
        dense_kernels = {id(m.kernel) for _, m in net.named_modules() if isinstance(m, kn.nn.Dense)}
        self.is_dense_kernel = [id(v) in dense_kernels for v in net.trainable_variables]


@pytest.fixture(scope="module")
def record():
    cache: dict[str, StepRecord] = {}

    def get(name: str) -> StepRecord:
        if name not in cache:
            cache[name] = StepRecord(name)
        return cache[name]
    return get


def _rel(got: np.ndarray, want: np.ndarray) -> float:
    """Norm-based relative error ||got - want|| / ||want||."""
    return float(np.linalg.norm(np.asarray(got, np.float64) - want) / max(np.linalg.norm(want), 1e-300))


# PyTorch versions, written as d2l 2nd edition (v1.0) writes them, lazy layers and all.
def _torch_models(torch):
    nn, F = torch.nn, torch.nn.functional

    def lenet(w):
        c = lambda n: _width(n, w)
        return nn.Sequential(
            nn.LazyConv2d(c(6), kernel_size=5, padding=2), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(c(16), kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(), nn.LazyLinear(c(120)), nn.Sigmoid(), nn.LazyLinear(c(84)), nn.Sigmoid(),
            nn.LazyLinear(10))

    def lenet_bn(w):
        c = lambda n: _width(n, w)
        return nn.Sequential(
            nn.LazyConv2d(c(6), kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(c(16), kernel_size=5), nn.LazyBatchNorm2d(), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
            nn.LazyLinear(c(120)), nn.LazyBatchNorm1d(), nn.Sigmoid(),
            nn.LazyLinear(c(84)), nn.LazyBatchNorm1d(), nn.Sigmoid(), nn.LazyLinear(10))

    def alexnet(w):
        c = lambda n: _width(n, w)
        return nn.Sequential(
            nn.LazyConv2d(c(96), kernel_size=11, stride=4, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.LazyConv2d(c(256), kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.LazyConv2d(c(384), kernel_size=3, padding=1), nn.ReLU(),
            nn.LazyConv2d(c(384), kernel_size=3, padding=1), nn.ReLU(),
            nn.LazyConv2d(c(256), kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
            nn.LazyLinear(c(4096)), nn.ReLU(), nn.Dropout(p=0.0),
            nn.LazyLinear(c(4096)), nn.ReLU(), nn.Dropout(p=0.0),
            nn.LazyLinear(10))

    def vgg_block(num_convs, out_channels):
        layers = []
        for _ in range(num_convs):
            layers += [nn.LazyConv2d(out_channels, kernel_size=3, padding=1), nn.ReLU()]
        return nn.Sequential(*layers, nn.MaxPool2d(kernel_size=2, stride=2))

    def vgg11(w):
        c = lambda n: _width(n, w)
        blocks = [vgg_block(n, c(ch)) for n, ch in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))]
        return nn.Sequential(*blocks, nn.Flatten(),
                             nn.LazyLinear(c(4096)), nn.ReLU(), nn.Dropout(0.0),
                             nn.LazyLinear(c(4096)), nn.ReLU(), nn.Dropout(0.0),
                             nn.LazyLinear(10))

    def nin_block(out_channels, kernel_size, strides, padding):
        return nn.Sequential(
            nn.LazyConv2d(out_channels, kernel_size, strides, padding), nn.ReLU(),
            nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU(),
            nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU())

    def nin(w):
        c = lambda n: _width(n, w)
        return nn.Sequential(
            nin_block(c(96), kernel_size=11, strides=4, padding=0), nn.MaxPool2d(3, stride=2),
            nin_block(c(256), kernel_size=5, strides=1, padding=2), nn.MaxPool2d(3, stride=2),
            nin_block(c(384), kernel_size=3, strides=1, padding=1), nn.MaxPool2d(3, stride=2),
            nn.Dropout(0.0), nin_block(10, kernel_size=3, strides=1, padding=1),
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())

    class Inception(nn.Module):
        def __init__(self, c1, c2, c3, c4):
            super().__init__()
            self.b1_1 = nn.LazyConv2d(c1, kernel_size=1)
            self.b2_1 = nn.LazyConv2d(c2[0], kernel_size=1)
            self.b2_2 = nn.LazyConv2d(c2[1], kernel_size=3, padding=1)
            self.b3_1 = nn.LazyConv2d(c3[0], kernel_size=1)
            self.b3_2 = nn.LazyConv2d(c3[1], kernel_size=5, padding=2)
            self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.b4_2 = nn.LazyConv2d(c4, kernel_size=1)

        def forward(self, x):
            b1 = F.relu(self.b1_1(x))
            b2 = F.relu(self.b2_2(F.relu(self.b2_1(x))))
            b3 = F.relu(self.b3_2(F.relu(self.b3_1(x))))
            b4 = F.relu(self.b4_2(self.b4_1(x)))
            return torch.cat((b1, b2, b3, b4), dim=1)

    def googlenet(w):
        c = lambda n: _width(n, w)

        def inc(c1, c2, c3, c4):
            return Inception(c(c1), (c(c2[0]), c(c2[1])), (c(c3[0]), c(c3[1])), c(c4))
        b1 = nn.Sequential(nn.LazyConv2d(c(64), kernel_size=7, stride=2, padding=3), nn.ReLU(),
                           nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        b2 = nn.Sequential(nn.LazyConv2d(c(64), kernel_size=1), nn.ReLU(),
                           nn.LazyConv2d(c(192), kernel_size=3, padding=1), nn.ReLU(),
                           nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        b3 = nn.Sequential(inc(64, (96, 128), (16, 32), 32), inc(128, (128, 192), (32, 96), 64),
                           nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        b4 = nn.Sequential(inc(192, (96, 208), (16, 48), 64), inc(160, (112, 224), (24, 64), 64),
                           inc(128, (128, 256), (24, 64), 64), inc(112, (144, 288), (32, 64), 64),
                           inc(256, (160, 320), (32, 128), 128),
                           nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        b5 = nn.Sequential(inc(256, (160, 320), (32, 128), 128), inc(384, (192, 384), (48, 128), 128),
                           nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
        return nn.Sequential(b1, b2, b3, b4, b5, nn.LazyLinear(10))

    class Residual(nn.Module):
        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
            self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
            self.bn1 = nn.LazyBatchNorm2d()
            self.bn2 = nn.LazyBatchNorm2d()

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)

    def stem(c):
        return nn.Sequential(nn.LazyConv2d(c(64), kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(),
                             nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def resnet18(w):
        c = lambda n: _width(n, w)

        def block(num_residuals, num_channels, first_block=False):
            return nn.Sequential(*[Residual(num_channels, use_1x1conv=True, strides=2)
                                   if i == 0 and not first_block else Residual(num_channels)
                                   for i in range(num_residuals)])
        return nn.Sequential(stem(c), block(2, c(64), first_block=True), block(2, c(128)), block(2, c(256)),
                             block(2, c(512)), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(10))

    def conv_block(num_channels):
        return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(),
                             nn.LazyConv2d(num_channels, kernel_size=3, padding=1))

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, num_channels):
            super().__init__()
            self.net = nn.Sequential(*[conv_block(num_channels) for _ in range(num_convs)])

        def forward(self, X):
            for blk in self.net:
                Y = blk(X)
                X = torch.cat((X, Y), dim=1)
            return X

    def transition_block(num_channels):
        return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=1),
                             nn.AvgPool2d(kernel_size=2, stride=2))

    def densenet(w):
        c = lambda n: _width(n, w)
        num_channels, growth_rate = c(64), c(32)
        layers = [stem(c)]
        for i, num_convs in enumerate((4, 4, 4, 4)):
            layers.append(DenseBlock(num_convs, growth_rate))
            num_channels += num_convs * growth_rate
            if i != 3:
                num_channels //= 2
                layers.append(transition_block(num_channels))
        return nn.Sequential(*layers, nn.LazyBatchNorm2d(), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                             nn.Flatten(), nn.LazyLinear(10))

    return {"lenet": lenet, "lenet_bn": lenet_bn, "alexnet": alexnet, "vgg11": vgg11, "nin": nin,
            "googlenet": googlenet, "resnet18": resnet18, "densenet": densenet}


@pytest.mark.parametrize("name", NAMES)
def test_one_train_step_matches_pytorch(name: str, record) -> None:
    torch = pytest.importorskip("torch")
    rec = record(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Lazy modules are a new feature"
        tnet = _torch_models(torch)[name](rec.width)
        tnet.eval()(torch.zeros(rec.x.shape))  # materialize the lazy layers
    for m in tnet.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
    tnet.train()
    params = list(tnet.parameters())
    trainable = [b for b, t in zip(rec.before, rec.trainable) if t]
    assert len(params) == len(trainable), "torch and kiln models hold different parameter counts"
    with torch.no_grad():
        for p, value, dense in zip(params, trainable, rec.is_dense_kernel):
            value = value.T if dense else value  # Dense (in, out) vs Linear (out, in)
            assert tuple(p.shape) == value.shape, (tuple(p.shape), value.shape)
            p.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    loss = torch.nn.functional.cross_entropy(tnet(torch.from_numpy(rec.x)), torch.from_numpy(rec.y).long())
    loss.backward()

    assert rec.loss == pytest.approx(loss.item(), rel=RTOL)
    want = [p.grad.double().numpy() for p in params]
    want = [w.T if dense else w for w, dense in zip(want, rec.is_dense_kernel)]
    # A bias feeding a BatchNorm has zero gradient (the normalization subtracts it again):
    # torch's and kiln's are both rounding noise, checked to be tiny next to the largest.
    # Every other tensor's gradient matches to RTOL in norm.
    largest = max(np.linalg.norm(w) for w in want)
    zero = [i for i, w in enumerate(want) if np.linalg.norm(w) < 1e-6 * largest]
    assert all(np.linalg.norm(rec.grads[i]) < 1e-5 * largest for i in zero), \
        {i: float(np.linalg.norm(rec.grads[i])) for i in zero}
    errors = {i: _rel(g, w) for i, (g, w) in enumerate(zip(rec.grads, want)) if i not in zero}
    print(f"{name}: loss {rec.loss:.6f} vs torch {loss.item():.6f}; worst gradient error "
          f"{max(errors.values()):.2e} over {len(errors)} tensors (+{len(zero)} zero)")
    assert max(errors.values()) < RTOL, {i: e for i, e in errors.items() if e >= RTOL}

    # the SGD update landed in kiln's Variables: w - lr * grad
    after = [a for a, t in zip(rec.after, rec.trainable) if t]
    for b, a, g in zip(trainable, after, rec.grads):
        np.testing.assert_allclose(a, b - LR * g, rtol=1e-6, atol=1e-7)

    # BatchNorm: kiln's momentum 0.9 is torch's 0.1; the moving means agree. The moving
    # variances differ by design (kiln, like d2l and Gluon, averages the biased batch
    # variance, torch the unbiased one), so kiln's is checked against torch's, unbiased back.
    kbn = [m for _, m in rec.net.named_modules() if isinstance(m, kn.nn.BatchNorm)]
    tbn = [m for m in tnet.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert len(kbn) == len(tbn)
    index = {id(v): i for i, v in enumerate(rec.net.variables)}
    counts = _values_per_channel(rec.net, rec.x.shape)
    for k, t in zip(kbn, tbn):
        mean, var = rec.after[index[id(k.moving_mean)]], rec.after[index[id(k.moving_var)]]
        np.testing.assert_allclose(mean, t.running_mean.numpy(), rtol=1e-4, atol=1e-5)
        # kiln: 0.9 + 0.1 * biased; torch: 0.9 + 0.1 * biased * m / (m - 1), m values per channel
        m = counts[id(k)]
        biased = (t.running_var.numpy().astype(np.float64) - 0.9) / 0.1 * (m - 1) / m
        np.testing.assert_allclose(var, 0.9 + 0.1 * biased, rtol=1e-4, atol=1e-5)


def _values_per_channel(net, shape) -> dict[int, int]:
    """For each BatchNorm of `net` (by id), how many values per channel its batch statistics
    average over for an input of `shape` (read off a trace)."""
    counts: dict[int, int] = {}
    bns = [m for _, m in net.named_modules() if isinstance(m, kn.nn.BatchNorm)]
    for m in bns:
        def forward(x, training=False, _m=m):
            counts[id(_m)] = int(np.prod(x.shape)) // x.shape[_m.axis]
            return kn.nn.BatchNorm.forward(_m, x, training=training)
        m.forward = forward
    try:
        zoo.layer_shapes(net, shape, training=True)
    finally:
        for m in bns:
            del m.forward
    return counts


# --------------------------------------------------------------------------- without torch: NumPy
def _np_forward(layer, x: np.ndarray, w: dict[int, np.ndarray]) -> np.ndarray:
    """A float64 NumPy forward of the layers LeNet and NiN use; `w` maps id(Variable) to its
    value (so a test can perturb one)."""
    from numpy.lib.stride_tricks import sliding_window_view as windows
    nn = kn.nn
    if isinstance(layer, nn.Sequential):
        for sub in layer.layers:
            x = _np_forward(sub, x, w)
        return x
    if isinstance(layer, nn.Conv2D):
        k, p, s = w[id(layer.kernel)], layer.padding, layer.stride
        win = windows(np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))), k.shape[2:], axis=(2, 3))[:, :, ::s, ::s]
        return np.einsum("nchwij,ocij->nohw", win, k) + w[id(layer.bias)][None, :, None, None]
    if isinstance(layer, (nn.MaxPool2D, nn.AvgPool2D)):  # (AvgPool2D subclasses MaxPool2D)
        assert layer.padding == 0
        k, s = layer.pool_size, layer.stride or layer.pool_size
        win = windows(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
        return win.mean(axis=(-2, -1)) if isinstance(layer, nn.AvgPool2D) else win.max(axis=(-2, -1))
    if isinstance(layer, nn.Dense):
        return x @ w[id(layer.kernel)] + w[id(layer.bias)]
    if isinstance(layer, zoo.Sigmoid):
        return 1 / (1 + np.exp(-x))
    if isinstance(layer, nn.ReLU):
        return np.maximum(x, 0)
    if isinstance(layer, nn.Flatten):
        return x.reshape(len(x), -1)
    if isinstance(layer, nn.GlobalAvgPool2D):
        return x.mean(axis=(2, 3), keepdims=True)
    if isinstance(layer, nn.Dropout):
        assert layer.rate == 0
        return x
    raise NotImplementedError(type(layer).__name__)


def _np_loss(rec: StepRecord, w: dict[int, np.ndarray]) -> float:
    z = _np_forward(rec.net, rec.x.astype(np.float64), w)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(rec.y)), rec.y].mean())


@pytest.mark.parametrize("name", ["lenet", "nin"])
def test_one_train_step_matches_numpy_float64(name: str, record) -> None:
    """The loss against a float64 NumPy forward; gradients against its central differences at
    the three largest-gradient coordinates of the first, a middle and the last two tensors."""
    rec = record(name)
    variables = rec.net.variables
    w = {id(v): b.astype(np.float64) for v, b in zip(variables, rec.before)}
    assert rec.loss == pytest.approx(_np_loss(rec, w), rel=1e-5)
    trainable = rec.net.trainable_variables
    picks = sorted({0, len(trainable) // 2, len(trainable) - 2, len(trainable) - 1})
    eps = 1e-6
    for t in picks:
        var, grad = trainable[t], rec.grads[t]
        for flat in np.argsort(-np.abs(grad), axis=None)[:3]:
            idx = np.unravel_index(flat, grad.shape)
            base = w[id(var)]
            plus, minus = base.copy(), base.copy()
            plus[idx] += eps
            minus[idx] -= eps
            numeric = (_np_loss(rec, w | {id(var): plus}) - _np_loss(rec, w | {id(var): minus})) / (2 * eps)
            assert grad[idx] == pytest.approx(numeric, rel=RTOL, abs=1e-6), (t, idx, grad[idx], numeric)


# --------------------------------------------------------------------------- the compiled step itself
def test_compiled_step_is_one_native_call_updating_variables_in_place(record, monkeypatch) -> None:
    rec = record("resnet18")
    variables = rec.net.variables + rec.opt.variables
    addresses = [v.data.ctypes.data for v in variables]
    before = [v.numpy() for v in variables]
    calls = {"native": 0, "eager": 0}
    real_call, real_eager = Executable.__call__, core.run_eager

    def counting_call(self, args, states):
        calls["native"] += 1
        return real_call(self, args, states)

    def counting_eager(*a, **k):
        calls["eager"] += 1
        return real_eager(*a, **k)
    monkeypatch.setattr(Executable, "__call__", counting_call)
    monkeypatch.setattr(core, "run_eager", counting_eager)
    for _ in range(3):
        rec.step(rec.x, rec.y)
    assert calls == {"native": 3, "eager": 0}
    assert rec.step.trace_count == 1
    assert [v.data.ctypes.data for v in variables] == addresses
    moving = {id(m.moving_mean) for _, m in rec.net.named_modules() if isinstance(m, kn.nn.BatchNorm)}
    changed = [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]
    assert all(c for c, v in zip(changed, variables) if v.trainable or id(v) in moving)
    assert int(rec.opt.iterations.numpy()) == 4


def test_zoo_script_runs(tmp_path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "zoo.py"), "--model", "lenet", "--small",
                          "--steps", "3"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Conv2D output shape:\t (1, 6, 28, 28)" in out.stdout
    assert "Dense output shape:\t (1, 10)" in out.stdout
    assert "lenet train" in out.stderr and "ms/step" in out.stdout
