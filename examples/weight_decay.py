"""Weight decay (d2l 3.7): high-dimensional linear regression with 20 training examples.

y = 0.05 + Σ 0.01·x_i + noise over 200 inputs: without a penalty the model overfits (train
loss → 0, test loss stays large); an L2 penalty λ‖w‖²/2 brings the test loss down. Shown
from scratch (the penalty added to the loss inside the compiled step) and concisely
(`kn.optim.SGD(weight_decay=λ)` on the weights, a plain SGD on the bias).

Run ``python examples/weight_decay.py`` (``--epochs N``, ``--plot PATH`` or ``--no-plot``).
"""
from __future__ import annotations

import numpy as np

import kiln as kn
from _train import arguments, fit, plot

N_TRAIN, N_TEST, NUM_INPUTS, BATCH, LR = 20, 100, 200, 5, 0.003


def make_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    w, b = np.full((NUM_INPUTS, 1), 0.01, np.float32), 0.05

    def draw(n):
        x = rng.normal(size=(n, NUM_INPUTS)).astype(np.float32)
        return x, (x @ w + b + rng.normal(scale=0.01, size=(n, 1))).astype(np.float32)
    return draw(N_TRAIN), draw(N_TEST)


def evaluator(predict, train, test):
    def evaluate():
        return {f"{name}_loss": float(kn.nn.mse(predict(x), y)) for name, (x, y) in (("train", train), ("test", test))}
    return evaluate


def from_scratch(train, test, lambd: float, epochs: int, quiet: bool = False):
    w = kn.Variable(kn.random.normal((NUM_INPUTS, 1)), name="w")
    b = kn.Variable(np.zeros(1, np.float32), name="b")

    def net(x):
        return x @ w + b

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = ((net(x) - y) ** 2 / 2).mean() + lambd * (w ** 2).sum() / 2
        dw, db = tape.gradient(loss, [w, b])
        w.assign_sub(LR * dw)
        b.assign_sub(LR * db)
        return loss

    loader = kn.data.DataLoader(train, BATCH, shuffle=True, seed=0)
    history = fit(train_step, loader, epochs, evaluator(kn.jit(net), train, test), quiet)
    return history, float(kn.norm(w))


def concise(train, test, wd: float, epochs: int, quiet: bool = False):
    net = kn.nn.Dense(1, kernel_initializer=kn.nn.init.normal(0.0, 1.0))
    decayed, plain = kn.optim.SGD(LR, weight_decay=wd), kn.optim.SGD(LR)

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.mse(net(x), y) / 2
        dw, db = tape.gradient(loss, [net.kernel, net.bias])
        decayed.apply_gradients([(dw, net.kernel)])
        plain.apply_gradients([(db, net.bias)])
        return loss

    loader = kn.data.DataLoader(train, BATCH, shuffle=True, seed=0)
    net(train[0][:1])  # build the layer so the optimizers can be given its Variables
    history = fit(train_step, loader, epochs, evaluator(kn.jit(net), train, test), quiet)
    return history, float(kn.norm(net.kernel))


def main(epochs: int = 100, plot_path: str | None = None, quiet: bool = False) -> dict:
    kn.random.seed(0)
    train, test = make_data()
    results = {}
    for name, fn, lambdas in (("from scratch", from_scratch, (0.0, 3.0)), ("concise", concise, (0.0, 3.0))):
        for lambd in lambdas:
            history, w_norm = fn(train, test, lambd, epochs, quiet)
            results[(name, lambd)] = history
            last = history[-1]
            print(f"{name:>12}, lambda={lambd}: train loss {last['train_loss']:.4f}, test loss "
                  f"{last['test_loss']:.4f}, |w| = {w_norm:.4f}")
    plot(results[("from scratch", 3.0)], plot_path, "weight decay, lambda = 3")
    return results


if __name__ == "__main__":
    args = arguments(__doc__, epochs=100, plot_default="weight_decay.png")
    main(args.epochs, plot_path=args.plot, quiet=args.quiet)
