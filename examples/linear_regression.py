"""Linear regression from scratch and concisely (d2l 3.2–3.5), compiled.

Synthetic data y = Xw + b + noise with true w = [2, -3.4], b = 4.2, 1000 samples, noise
0.01. From scratch: parameters are Variables, the squared loss and minibatch SGD are written
by hand, and the gradient comes from a GradientTape inside the compiled step. Concisely:
`kn.nn.Dense(1)`, `kn.nn.mse` and `kn.optim.SGD`. Both train 3 epochs of batch 10 at lr 0.03
and must recover w and b to within 0.01.

Run ``python examples/linear_regression.py`` (``--plot PATH`` or ``--no-plot``).
"""
from __future__ import annotations

import numpy as np

import kiln as kn
from _train import arguments, fit, plot

TRUE_W, TRUE_B = np.array([2.0, -3.4], np.float32), 4.2


def synthetic_data(w: np.ndarray, b: float, n: int):
    """y = Xw + b + N(0, 0.01²) noise, X ~ N(0, 1): kiln's random numbers, drawn eagerly."""
    x = kn.random.normal((n, len(w)))
    y = x @ w.reshape(-1, 1) + b + kn.random.normal((n, 1), stddev=0.01)
    return np.asarray(x), np.asarray(y)


def from_scratch(x, y, epochs: int = 3, batch_size: int = 10, lr: float = 0.03, quiet: bool = False):
    w = kn.Variable(kn.random.normal((2, 1), stddev=0.01), name="w")
    b = kn.Variable(np.zeros(1, np.float32), name="b")

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    @kn.jit
    def train_step(xb, yb):
        with kn.GradientTape() as tape:
            loss = squared_loss(xb @ w + b, yb).sum()
        dw, db = tape.gradient(loss, [w, b])
        for param, grad in ((w, dw), (b, db)):  # minibatch SGD
            param.assign_sub(lr * grad / xb.shape[0])
        return loss / xb.shape[0]

    loader = kn.data.DataLoader((x, y), batch_size, shuffle=True, seed=1)
    history = fit(train_step, loader, epochs, quiet=quiet)
    return w.numpy().ravel(), float(b.numpy()[0]), history


def concise(x, y, epochs: int = 3, batch_size: int = 10, lr: float = 0.03, quiet: bool = False):
    net = kn.nn.Dense(1, kernel_initializer=kn.nn.init.normal(0.0, 0.01))
    opt = kn.optim.SGD(lr)

    @kn.jit
    def train_step(xb, yb):
        with kn.GradientTape() as tape:
            loss = kn.nn.mse(net(xb), yb)
        opt.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
        return loss

    loader = kn.data.DataLoader((x, y), batch_size, shuffle=True, seed=2)
    history = fit(train_step, loader, epochs, quiet=quiet)
    return net.kernel.numpy().ravel(), float(net.bias.numpy()[0]), history


def main(epochs: int = 3, plot_path: str | None = None, quiet: bool = False) -> dict:
    kn.random.seed(0)
    x, y = synthetic_data(TRUE_W, TRUE_B, 1000)
    results = {}
    for name, train in (("from scratch", from_scratch), ("concise", concise)):
        w, b, history = train(x, y, epochs, quiet=quiet)
        results[name] = {"w": w, "b": b, "history": history}
        print(f"{name:>12}: w = {np.round(w, 4)} (error {np.round(TRUE_W - w, 4)}), "
              f"b = {b:.4f} (error {TRUE_B - b:.4f}), final loss {history[-1]['loss']:.6f}")
    plot(results["from scratch"]["history"], plot_path, "linear regression (from scratch)")
    return results


if __name__ == "__main__":
    args = arguments(__doc__, epochs=3, plot_default="linear_regression.png")
    main(args.epochs, plot_path=args.plot, quiet=args.quiet)
