"""Softmax regression on the 8x8 handwritten digits (d2l 4.1–4.5), from scratch and concisely.

From scratch: W (64×10) and b are Variables, softmax and cross-entropy are written with kiln
ops (the stable log-softmax form), and SGD is applied by hand. Concisely: one `Dense(10)`
layer, `kn.nn.sparse_softmax_cross_entropy` and `kn.optim.SGD`. Each training step is one
compiled native call.

Run ``python examples/softmax_regression.py`` (``--epochs N``, ``--plot PATH`` or ``--no-plot``).
"""
from __future__ import annotations

import numpy as np

import kiln as kn
from _train import accuracy, arguments, fit, plot


def from_scratch(data, epochs: int, lr: float = 0.5, batch_size: int = 64, quiet: bool = False):
    (x_train, y_train), (x_test, y_test) = data
    W = kn.Variable(kn.random.normal((64, 10), stddev=0.01), name="W")
    b = kn.Variable(np.zeros(10, np.float32), name="b")

    def net(x):
        return x @ W + b

    def cross_entropy(logits, y):
        z = logits - kn.stop_gradient(logits.max(axis=1, keepdims=True))
        log_probs = z - kn.log(kn.exp(z).sum(axis=1, keepdims=True))
        return -(kn.one_hot(y, 10) * log_probs).sum(axis=1)

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = cross_entropy(net(x), y).mean()
        dW, db = tape.gradient(loss, [W, b])
        W.assign_sub(lr * dW)
        b.assign_sub(lr * db)
        return loss

    predict = kn.jit(net)
    loader = kn.data.DataLoader((x_train, y_train), batch_size, shuffle=True, seed=0, drop_last=True)
    return fit(train_step, loader, epochs, lambda: {"test_acc": accuracy(predict, x_test, y_test)}, quiet)


def concise(data, epochs: int, lr: float = 0.5, batch_size: int = 64, quiet: bool = False):
    (x_train, y_train), (x_test, y_test) = data
    net = kn.nn.Dense(10, kernel_initializer=kn.nn.init.normal(0.0, 0.01))
    opt = kn.optim.SGD(lr)

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.sparse_softmax_cross_entropy(net(x), y)
        opt.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
        return loss

    predict = kn.jit(net)
    loader = kn.data.DataLoader((x_train, y_train), batch_size, shuffle=True, seed=0, drop_last=True)
    return fit(train_step, loader, epochs, lambda: {"test_acc": accuracy(predict, x_test, y_test)}, quiet)


def main(epochs: int = 10, plot_path: str | None = None, quiet: bool = False) -> dict:
    kn.random.seed(0)
    data = kn.data.load_digits(test_fraction=0.2, seed=0)
    results = {}
    for name, train in (("from scratch", from_scratch), ("concise", concise)):
        history = train(data, epochs, quiet=quiet)
        results[name] = history
        print(f"softmax regression ({name}): test accuracy {history[-1]['test_acc']:.4f} after {epochs} epochs")
    plot(results["concise"], plot_path, "softmax regression on digits")
    return results


if __name__ == "__main__":
    args = arguments(__doc__, epochs=10, plot_default="softmax_regression.png")
    main(args.epochs, plot_path=args.plot, quiet=args.quiet)
