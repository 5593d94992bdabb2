"""The "Dive into Deep Learning" CNN zoo (LeNet to DenseNet, d2l 7.6 and ch. 8), compiled.

For each model from `kn.models`: print d2l's layer-by-layer table (`for layer in net: X =
layer(X); print(layer.__class__.__name__, 'output shape:', X.shape)`, found by tracing, so
even VGG at 224x224 prints at once), then train it for a few steps with one `@kn.jit` step
(forward, GradientTape backward, SGD update of every Variable: one native call per batch).
LeNet trains on the digits set that ships with kiln (8x8 images resized to the model's
input); the others on random images and labels, which is enough to time them and watch the
loss move. `--small` builds each model narrow (`kn.models.SMALL`: width and input size) so
every model compiles and trains a few steps in seconds.

Run ``python examples/zoo.py --model resnet18 --small`` (``--model all``, ``--steps N``,
``--batch B``, ``--size S``, ``--width W``, ``--lr LR``, ``--quiet``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from _train import Progress

import kiln as kn
import kiln.models as zoo


def images(name: str, batch: int, size: int, steps: int, seed: int = 0):
    """`steps` batches (x: (batch, 1, size, size) float32, y: (batch,) int32): the digits for the
    LeNets (nearest-neighbour upsampled from 8x8), random images and labels for the rest."""
    rng = np.random.default_rng(seed)
    if name.startswith("lenet"):
        x, y = kn.data.load_digits(test_fraction=None, flatten=False)
        idx = (np.arange(size) * 8) // size
        x = x[:, idx][:, :, idx][:, None]
        order = rng.permutation(len(x))
        picks = [order[(i * batch) % len(x):][:batch] for i in range(steps)]
        picks = [p if len(p) == batch else order[:batch] for p in picks]
        return [(np.ascontiguousarray(x[p]), y[p]) for p in picks]
    return [(rng.standard_normal((batch, 1, size, size), dtype=np.float32),
             rng.integers(0, 10, batch).astype(np.int32)) for _ in range(steps)]


def build(name: str, small: bool = False, width: float | None = None, lr: float | None = None, seed: int = 0):
    """(net, optimizer, compiled train step, input size) for model `name`."""
    kn.random.seed(seed)
    small_width, small_size = zoo.SMALL[name]
    width = width if width is not None else (small_width if small else 1.0)
    net = zoo.MODELS[name](width=width)
    opt = kn.optim.SGD(zoo.LR[name] if lr is None else lr)

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.sparse_softmax_cross_entropy(net(x, training=True), y)
        variables = net.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return net, opt, train_step, small_size if small else zoo.INPUT_SIZE[name]


def run(name: str, small: bool = False, steps: int = 5, batch: int = 4, size: int | None = None,
        width: float | None = None, lr: float | None = None, quiet: bool = False) -> dict:
    """Print the model's shape table, train `steps` compiled steps; return the timings and losses."""
    net, _, train_step, default_size = build(name, small, width, lr)
    size = size or default_size
    print(f"== {name} ({'small, ' if small else ''}input {size}x{size}, batch {batch})")
    for layer, shape in zoo.layer_shapes(net, (1, 1, size, size)):
        print(f"{layer} output shape:\t {shape}")
    params = sum(v.numpy().size for v in net.trainable_variables)
    data = images(name, batch, size, steps + 1)
    start = time.perf_counter()
    first = float(train_step(*data[0]))  # traces, compiles, and runs the first step
    compile_s = time.perf_counter() - start
    bar = Progress(steps, f"{name} train", quiet)
    losses, start = [first], time.perf_counter()
    for i, (x, y) in enumerate(data[1:], 1):
        losses.append(float(train_step(x, y)))
        bar.update(i, loss=losses[-1])
    step_s = (time.perf_counter() - start) / max(steps, 1)
    bar.close(loss=losses[-1])
    print(f"{name}: {params:,} parameters, first call (trace + compile + step) {compile_s:.2f}s, "
          f"{step_s * 1e3:.1f} ms/step, loss {losses[0]:.4f} -> {losses[-1]:.4f} "
          f"(traced {train_step.trace_count}x)")
    return {"model": name, "params": params, "compile_s": compile_s, "step_s": step_s, "losses": losses,
            "traces": train_step.trace_count}


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--model", default="all", choices=["all", *zoo.MODELS])
    p.add_argument("--small", action="store_true", help="narrow models on small inputs (kn.models.SMALL)")
    p.add_argument("--steps", type=int, default=5, help="training steps after the first (compiling) one")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--size", type=int, default=None, 
                   help="input height and width (default: d2l's or SMALL's)")
    p.add_argument("--width", type=float, default=None, help="channel multiplier (default: 1, or SMALL's)")
    p.add_argument("--lr", type=float, default=None, help="SGD learning rate (default: d2l's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    names = list(zoo.MODELS) if args.model == "all" else [args.model]
    results = [run(n, args.small, args.steps, args.batch, args.size, args.width, args.lr, args.quiet)
               for n in names]
    if len(results) > 1:
        print(f"\n{'model':<10} {'params':>12} {'first call':>11} {'step':>10}")
        for r in results:
            print(f"{r['model']:<10} {r['params']:>12,} {r['compile_s']:>10.2f}s {r['step_s'] * 1e3:>8.1f}ms")
    return results


if __name__ == "__main__":
    main()
