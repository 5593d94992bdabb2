"""A multilayer perceptron (64-256-10, ReLU) trained on the 8x8 handwritten digits, compiled.

d2l's "Concise Implementation of Multilayer Perceptrons" on the digits data set that ships
with kiln (80/20 split): the whole training step (forward, backward, SGD update of every
Variable) is one `@kn.jit` function, traced once and run as one native call per batch.

Run ``python examples/mlp_digits.py`` (``--epochs N``, ``--plot PATH`` or ``--no-plot``).
"""
from __future__ import annotations

import time


import kiln as kn
from _train import accuracy, arguments, fit, plot


def build(hidden: int = 256, lr: float = 0.1, seed: int = 0):
    """The model, its optimizer, and a compiled train step and predictor."""
    kn.random.seed(seed)
    net = kn.nn.Sequential([kn.nn.Dense(hidden, activation="relu"), kn.nn.Dense(10)])
    opt = kn.optim.SGD(lr, momentum=0.9)

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.sparse_softmax_cross_entropy(net(x, training=True), y)
        variables = net.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return net, opt, train_step, kn.jit(net)


def main(epochs: int = 10, batch_size: int = 64, plot_path: str | None = None, quiet: bool = False) -> dict:
    (x_train, y_train), (x_test, y_test) = kn.data.load_digits(test_fraction=0.2, seed=0)
    net, opt, train_step, predict = build()
    loader = kn.data.DataLoader((x_train, y_train), batch_size, shuffle=True, seed=0, drop_last=True)
    start = time.perf_counter()
    history = fit(train_step, loader, epochs, lambda: {"test_acc": accuracy(predict, x_test, y_test)}, quiet)
    seconds = time.perf_counter() - start
    result = {"test_acc": history[-1]["test_acc"], "train_acc": accuracy(predict, x_train, y_train),
              "seconds": seconds, "history": history, "traces": train_step.trace_count}
    print(f"MLP 64-256-10: test accuracy {result['test_acc']:.4f}, train accuracy {result['train_acc']:.4f}, "
          f"{epochs} epochs in {seconds:.2f}s (train step traced {result['traces']}x)")
    plot(history, plot_path, "MLP on digits")
    return result


if __name__ == "__main__":
    args = arguments(__doc__, epochs=10, plot_default="mlp_digits.png")
    main(args.epochs, plot_path=args.plot, quiet=args.quiet)
