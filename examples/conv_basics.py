"""Convolutional neural networks, the basics (d2l 7.2–7.5), compiled.

Cross-correlation written by hand with loops and slices (`corr2d`) and traced by `kn.jit`
into one native call; the edge detector X → Y and learning its 1×2 kernel back from a random
start by gradient descent, the whole step (loss, gradient, update) being one compiled call;
the output shapes that padding and stride give; multiple input and output channels and the
1×1 convolution as a matrix product; max and average pooling, by hand and with `kn.nn`.
Every hand-written loop is checked against `kn.nn.conv2d` / `max_pool2d` / `avg_pool2d`.

Run ``python examples/conv_basics.py`` (``--seed S``, ``--steps N``, ``--lr LR``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import kiln as kn

LR, STEPS = 3e-2, 10


# ---------------------------------------------------------------- 7.2 conv-layer
def corr2d(X, K):
    """2-D cross-correlation as in d2l; kiln arrays are immutable, so rows are stacked, not assigned."""
    h, w = K.shape
    return kn.stack([kn.stack([(X[i:i + h, j:j + w] * K).sum() for j in range(X.shape[1] - w + 1)])
                     for i in range(X.shape[0] - h + 1)])


corr2d_jit = kn.jit(corr2d)


def edge_image():
    """d2l's 6×8 image: ones with a black (zero) band in columns 2..5."""
    cols = kn.arange(8)
    return kn.where((cols >= 2) & (cols < 6), 0.0, kn.ones((6, 8)))


EDGE_KERNEL = np.array([[1.0, -1.0]], np.float32)


def conv_layer_section() -> None:
    print("==== 7.2 convolutions for images ====")
    X, K = edge_image(), EDGE_KERNEL
    Y = corr2d_jit(X, K)
    print(f"X =\n{X}\nK = {K}\nY = corr2d(X, K): 1 where white turns black, -1 where black turns white\n{Y}")
    print(f"corr2d(X.T, K): a horizontal kernel sees no vertical edges\n{corr2d_jit(X.T, K)}")
    conv = kn.nn.conv2d(X.reshape(1, 1, 6, 8), K.reshape(1, 1, 1, 2))
    diff = float(np.abs(conv.numpy()[0, 0] - Y.numpy()).max())
    print(f"max |corr2d - kn.nn.conv2d| = {diff:.2e}")
    assert diff == 0.0, diff


def learn_kernel(seed: int = 0, steps: int = STEPS, lr: float = LR, quiet: bool = False):
    """Recover K = [1, -1] from (X, Y) by plain gradient descent from a random 1×2 kernel.

    The start is N(0, 0.1²) (a small random kernel: the loss's curvature along [1, 1] is 60,
    so lr 3e-2 shrinks that error by only 0.8 per step and a large start needs more steps).
    Returns {"start", "kernel"}: the (1, 2) kernels before and after, "losses": the loss of
    every step (before its update, as d2l prints it) and "traces": how often the step traced.
    """
    kn.random.seed(seed)
    X = edge_image().reshape(1, 1, 6, 8)
    Y = corr2d_jit(edge_image(), EDGE_KERNEL).reshape(1, 1, 6, 7)
    w = kn.Variable(kn.random.normal((1, 1, 1, 2), stddev=0.1), name="kernel")

    @kn.jit
    def step(x, y):
        with kn.GradientTape() as tape:
            loss = ((kn.nn.conv2d(x, w) - y) ** 2).sum()
        w.assign_sub(lr * tape.gradient(loss, w))
        return loss

    start = w.numpy().reshape(1, 2)
    if not quiet:
        print(f"start kernel {np.round(start, 4)}")
    losses = []
    for i in range(steps):
        losses.append(float(step(X, Y)))
        if (i + 1) % 2 == 0 and not quiet:
            print(f"epoch {i + 1}, loss {losses[-1]:.3f}")
    return {"start": start, "kernel": w.numpy().reshape(1, 2), "losses": losses, "traces": step.trace_count}


# ---------------------------------------------------------------- 7.3 padding-and-strides
def comp_conv2d(X, **conv):
    """d2l's helper: add batch and channel axes, convolve with a random kernel, drop them again."""
    k = conv.pop("kernel")
    w = kn.random.normal((1, 1) + k)
    return kn.nn.conv2d(X.reshape((1, 1) + X.shape), w, **conv)[0, 0]


PADDING_CASES = [  # (description, conv arguments, expected output shape), d2l's four examples
    ("3x3 kernel, padding 1", {"kernel": (3, 3), "padding": 1}, (8, 8)),
    ("5x3 kernel, padding (2, 1)", {"kernel": (5, 3), "padding": (2, 1)}, (8, 8)),
    ("3x3 kernel, padding 1, stride 2", {"kernel": (3, 3), "padding": 1, "stride": 2}, (4, 4)),
    ("3x5 kernel, padding (0, 1), stride (3, 4)", {"kernel": (3, 5), "padding": (0, 1), "stride": (3, 4)},
     (2, 2)),
]


def padding_section() -> None:
    print("==== 7.3 padding and stride ====")
    X = kn.random.uniform((8, 8))
    for name, conv, expected in PADDING_CASES:
        shape = comp_conv2d(X, **dict(conv)).shape
        print(f"8x8 input, {name}: output {shape}")
        assert tuple(shape) == expected, (name, shape, expected)


# ---------------------------------------------------------------- 7.4 channels
def corr2d_multi_in(X, K):
    """Correlate each input channel with its kernel slice and add the results."""
    return sum(corr2d(x, k) for x, k in zip(X, K))


def corr2d_multi_in_out(X, K):
    """One multi-input correlation per output channel, stacked on axis 0."""
    return kn.stack([corr2d_multi_in(X, k) for k in K], 0)


def corr2d_multi_in_out_1x1(X, K):
    """A 1×1 convolution is a fully connected layer applied at every pixel: a matrix product."""
    c_i, h, w = X.shape
    c_o = K.shape[0]
    Y = K.reshape((c_o, c_i)) @ X.reshape((c_i, h * w))
    return Y.reshape((c_o, h, w))


CHANNEL_X = np.array([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                      [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]], np.float32)
CHANNEL_K = np.array([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]], np.float32)

multi_in_jit = kn.jit(corr2d_multi_in)
multi_in_out_jit = kn.jit(corr2d_multi_in_out)
one_by_one_jit = kn.jit(corr2d_multi_in_out_1x1)


def channels_section() -> None:
    print("==== 7.4 multiple input and output channels ====")
    print(f"corr2d_multi_in(X, K)\n{multi_in_jit(CHANNEL_X, CHANNEL_K)}")
    K3 = np.stack([CHANNEL_K, CHANNEL_K + 1, CHANNEL_K + 2], 0)
    Y = multi_in_out_jit(CHANNEL_X, K3)
    print(f"K of shape {K3.shape}: corr2d_multi_in_out(X, K)\n{Y}")
    conv = kn.nn.conv2d(CHANNEL_X[None], K3)[0]
    diff = float(np.abs(conv.numpy() - Y.numpy()).max())
    print(f"max |loops - kn.nn.conv2d| = {diff:.2e}")
    assert diff == 0.0, diff
    X, K = kn.random.normal((3, 3, 3)), kn.random.normal((2, 3, 1, 1))
    Y1, Y2 = one_by_one_jit(X, K), multi_in_out_jit(X, K)
    diff = float(np.abs(Y1.numpy() - Y2.numpy()).max())
    print(f"1x1 convolution as a matmul: max |Y1 - Y2| = {diff:.2e}")
    assert diff < 1e-6, diff


# ---------------------------------------------------------------- 7.5 pooling
def pool2d(X, pool_size, mode: str = "max"):
    """d2l's pooling loop: max or mean of every p_h × p_w window (stride 1, no padding)."""
    p_h, p_w = pool_size
    reduce = (lambda t: t.max()) if mode == "max" else (lambda t: t.mean())
    return kn.stack([kn.stack([reduce(X[i:i + p_h, j:j + p_w]) for j in range(X.shape[1] - p_w + 1)])
                     for i in range(X.shape[0] - p_h + 1)])


pool2d_jit = kn.jit(pool2d, static_argnums=(1, 2))


def pooling_section() -> None:
    print("==== 7.5 pooling ====")
    X = np.arange(9, dtype=np.float32).reshape(3, 3)
    for mode, op in (("max", kn.nn.max_pool2d), ("avg", kn.nn.avg_pool2d)):
        Y = pool2d_jit(X, (2, 2), mode)
        print(f"pool2d(X, (2, 2), {mode!r})\n{Y}")
        assert np.array_equal(op(X[None, None], 2, stride=1).numpy()[0, 0], Y.numpy()), mode
    X = kn.arange(16, dtype=kn.float32).reshape(1, 1, 4, 4)
    print(f"X =\n{X}")
    print(f"max_pool2d(X, 3): the stride defaults to the window\n{kn.nn.max_pool2d(X, 3)}")
    print(f"max_pool2d(X, 3, padding=1, stride=2)\n{kn.nn.max_pool2d(X, 3, padding=1, stride=2)}")
    print(f"max_pool2d(X, (2, 3), stride=(2, 3), padding=(0, 1))\n"
          f"{kn.nn.max_pool2d(X, (2, 3), stride=(2, 3), padding=(0, 1))}")
    X2 = kn.concatenate([X, X + 1], 1)
    print(f"two channels, X and X + 1: pooled channel by channel\n"
          f"{kn.nn.max_pool2d(X2, 3, padding=1, stride=2)}")


def main(seed: int = 0, steps: int = STEPS, lr: float = LR) -> dict:
    start = time.perf_counter()
    conv_layer_section()
    print(f"==== learning the kernel: {steps} steps of gradient descent, lr {lr} ====")
    learned = learn_kernel(seed, steps, lr)
    print(f"learned kernel {np.round(learned['kernel'], 4)} (true [[1, -1]]), "
          f"step traced {learned['traces']}x")
    kn.random.seed(seed)
    padding_section()
    channels_section()
    pooling_section()
    print(f"done in {time.perf_counter() - start:.2f}s")
    return learned


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--seed", type=int, default=0, help="seed of the random kernel and data")
    p.add_argument("--steps", type=int, default=STEPS, help="gradient-descent steps when learning the kernel")
    p.add_argument("--lr", type=float, default=LR)
    args = p.parse_args()
    main(args.seed, args.steps, args.lr)
