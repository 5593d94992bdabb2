"""Shared pieces of the training examples: a progress bar, an epoch loop, accuracy, and an
optional loss/accuracy plot (matplotlib, from the `examples` extra).

Imports numpy and kiln's public API only; everything here runs outside compiled code.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import kiln as kn


class Progress:
    """A one-line text progress bar on stderr, redrawn in place: `epoch 3/10 [####  ] 12/22 loss 0.31`."""

    def __init__(self, total: int, label: str, quiet: bool = False, width: int = 24) -> None:
        self.total, self.label, self.quiet, self.width = total, label, quiet, width
        self.start = time.perf_counter()

    def update(self, done: int, **stats: float) -> None:
        if self.quiet:
            return
        filled = int(self.width * done / max(self.total, 1))
        text = " ".join(f"{k} {v:.4f}" for k, v in stats.items())
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} {text}")
        sys.stderr.flush()

    def close(self, **stats: float) -> None:
        if self.quiet:
            return
        self.update(self.total)
        text = " ".join(f"{k} {v:.4f}" for k, v in stats.items())
        sys.stderr.write(f"\r{self.label} done in {time.perf_counter() - self.start:.2f}s  {text}\x1b[K\n")


def fit(step: Callable[..., Any], loader: Iterable, epochs: int, evaluate: Callable[[], dict] | None = None,
        quiet: bool = False) -> list[dict]:
    """Run `step(*batch)` (returning the batch loss) over `loader` for `epochs` epochs; after each
    epoch record the mean loss and whatever `evaluate()` returns. Returns the history."""
    history = []
    for epoch in range(epochs):
        bar = Progress(len(loader), f"epoch {epoch + 1}/{epochs}", quiet)
        total = 0.0
        for i, batch in enumerate(loader, 1):
            total += float(step(*batch))
            bar.update(i, loss=total / i)
        record = {"epoch": epoch + 1, "loss": total / max(len(loader), 1)}
        record |= evaluate() if evaluate is not None else {}
        bar.close(**{k: v for k, v in record.items() if k != "epoch"})
        history.append(record)
    return history


def accuracy(predict: Callable[[np.ndarray], Any], x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of x whose predicted class (argmax of `predict`) equals y."""
    return float(np.mean(np.asarray(kn.argmax(predict(x), axis=-1)) == y))


def plot(history: list[dict], path: str | None, title: str) -> None:
    """Draw every recorded metric against the epoch into `path`, if matplotlib is installed."""
    if path is None:
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"(matplotlib is not installed: `pip install -e '.[examples]'` to draw {path})")
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = [h["epoch"] for h in history]
    for key in (k for k in history[0] if k != "epoch"):
        ax.plot(epochs, [h[key] for h in history], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    print(f"wrote {path}")


def arguments(doc: str, epochs: int, plot_default: str) -> Any:
    """The examples' shared command line: --epochs, --plot PATH (or --no-plot), --quiet."""
    import argparse
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--plot", default=plot_default, help="where to write the loss/accuracy plot")
    p.add_argument("--no-plot", dest="plot", action="store_const", const=None)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args()
