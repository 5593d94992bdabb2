"""LeNet (d2l's: sigmoid activations, average pooling) trained on the handwritten digits, compiled.

d2l's "Convolutional Neural Networks (LeNet)" on the 8x8 digits that ship with kiln: each
image is enlarged 3x (nearest neighbour) and padded to 28x28, LeNet's input size. The whole
training step (forward through both convolutions, backward, Adam update) is one `@kn.jit`
function run as one native call per batch. Sigmoid LeNet learns slowly with plain SGD (d2l
uses lr 0.9 and many epochs); Adam gets it above 97% in a few seconds here.

Run ``python examples/lenet_digits.py`` (``--epochs N``, ``--plot PATH`` or ``--no-plot``).
"""
from __future__ import annotations

import time

import numpy as np

import kiln as kn
from _train import accuracy, arguments, fit, plot


def to_28x28(x: np.ndarray) -> np.ndarray:
    """(n, 64) pixels -> (n, 1, 28, 28): each pixel a 3x3 block, 2 pixels of border."""
    img = x.reshape(-1, 1, 8, 8).repeat(3, axis=2).repeat(3, axis=3)
    return np.pad(img, ((0, 0), (0, 0), (2, 2), (2, 2))).astype(np.float32)


def build(lr: float = 3e-3, seed: int = 0):
    """The model, its compiled train step and predictor."""
    kn.random.seed(seed)
    net = kn.models.lenet()
    opt = kn.optim.Adam(lr)

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.sparse_softmax_cross_entropy(net(x, training=True), y)
        variables = net.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return net, train_step, kn.jit(net)


def main(epochs: int = 30, batch_size: int = 64, plot_path: str | None = None, quiet: bool = False) -> dict:
    (x_train, y_train), (x_test, y_test) = kn.data.load_digits(test_fraction=0.2, seed=0)
    x_train, x_test = to_28x28(x_train), to_28x28(x_test)
    net, train_step, predict = build()
    loader = kn.data.DataLoader((x_train, y_train), batch_size, shuffle=True, seed=0, drop_last=True)
    start = time.perf_counter()
    history = fit(train_step, loader, epochs, lambda: {"test_acc": accuracy(predict, x_test, y_test)}, quiet)
    seconds = time.perf_counter() - start
    result = {"test_acc": history[-1]["test_acc"], "train_acc": accuracy(predict, x_train, y_train),
              "seconds": seconds, "history": history, "traces": train_step.trace_count}
    print(f"LeNet: test accuracy {result['test_acc']:.4f}, train accuracy {result['train_acc']:.4f}, "
          f"{epochs} epochs in {seconds:.2f}s (train step traced {result['traces']}x)")
    plot(history, plot_path, "LeNet on digits")
    return result


if __name__ == "__main__":
    args = arguments(__doc__, epochs=30, plot_default="lenet_digits.png")
    main(args.epochs, plot_path=args.plot, quiet=args.quiet)
