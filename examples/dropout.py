"""Dropout (d2l 5.6): an MLP with two hidden layers and dropout 0.2 / 0.5, on the digits set.

From scratch: `dropout_layer` draws a mask from kn.random inside the compiled step, so every
call drops different units, and scales survivors by 1/(1-p). Concisely: `kn.nn.Dropout`
layers in a `Sequential`, active only when the model is called with `training=True`.

Run ``python examples/dropout.py`` (``--epochs N``, ``--plot PATH`` or ``--no-plot``).
"""
from __future__ import annotations

import kiln as kn
from _train import accuracy, arguments, fit, plot

DROPOUT1, DROPOUT2, HIDDEN, LR, BATCH = 0.2, 0.5, 256, 0.1, 64


def dropout_layer(x, p: float):
    """Keep each element with probability 1-p, scaled by 1/(1-p)."""
    if p == 1:
        return kn.zeros_like(x)
    mask = kn.random.uniform(x.shape) > p
    return kn.where(mask, x / (1.0 - p), 0.0)


class Net(kn.nn.Module):
    """d2l's from-scratch dropout MLP, as a Module with three Dense layers."""

    def __init__(self, outputs: int = 10) -> None:
        self.hidden1 = kn.nn.Dense(HIDDEN)
        self.hidden2 = kn.nn.Dense(HIDDEN)
        self.out = kn.nn.Dense(outputs)

    def forward(self, x, training: bool = False):
        h = kn.nn.relu(self.hidden1(x))
        if training:
            h = dropout_layer(h, DROPOUT1)
        h = kn.nn.relu(self.hidden2(h))
        if training:
            h = dropout_layer(h, DROPOUT2)
        return self.out(h)


def concise_net() -> kn.nn.Module:
    return kn.nn.Sequential([kn.nn.Flatten(), kn.nn.Dense(HIDDEN, activation="relu"), kn.nn.Dropout(DROPOUT1),
                             kn.nn.Dense(HIDDEN, activation="relu"), kn.nn.Dropout(DROPOUT2), kn.nn.Dense(10)])


def train(net: kn.nn.Module, data, epochs: int, quiet: bool = False):
    (x_train, y_train), (x_test, y_test) = data
    opt = kn.optim.SGD(LR, momentum=0.9)

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.sparse_softmax_cross_entropy(net(x, training=True), y)
        opt.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
        return loss

    predict = kn.jit(lambda x: net(x, training=False))
    loader = kn.data.DataLoader((x_train, y_train), BATCH, shuffle=True, seed=0, drop_last=True)
    return fit(train_step, loader, epochs, lambda: {"test_acc": accuracy(predict, x_test, y_test)}, quiet)


def main(epochs: int = 15, plot_path: str | None = None, quiet: bool = False) -> dict:
    kn.random.seed(0)
    data = kn.data.load_digits(test_fraction=0.2, seed=0)
    results = {}
    for name, net in (("from scratch", Net()), ("concise", concise_net())):
        results[name] = train(net, data, epochs, quiet)
        print(f"dropout MLP ({name}): test accuracy {results[name][-1]['test_acc']:.4f} after {epochs} epochs")
    plot(results["concise"], plot_path, "MLP with dropout on digits")
    return results


if __name__ == "__main__":
    args = arguments(__doc__, epochs=15, plot_default="dropout.png")
    main(args.epochs, plot_path=args.plot, quiet=args.quiet)
