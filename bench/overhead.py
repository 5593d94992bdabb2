"""W6: per-call overhead of a 20-op function on a (16,) array, kiln jit next to NumPy
(and PyTorch / JAX when installed). Prints medians and ratios."""
from __future__ import annotations

import numpy as np

import kiln as kn

from .common import median_time, table


def twenty_ops(x, lib):
    """20 elementwise ops written once against a NumPy-like namespace."""
    y = x * 0.5 + 1.0
    y = lib.tanh(y) * x - 0.25
    y = lib.exp(-y * y) + x / 3.0
    y = lib.maximum(y, 0.1) * 2.0 - x
    y = lib.sqrt(lib.abs(y) + 1.0) + lib.sin(x)
    y = y * y - lib.cos(y) + 0.5
    return lib.minimum(y, 10.0)


def run() -> list[tuple[str, float]]:
    x = np.linspace(-1, 1, 16).astype(np.float32)
    f = kn.jit(lambda x: twenty_ops(x, kn))
    np.testing.assert_allclose(np.asarray(f(x)), twenty_ops(x.astype(np.float64), np), rtol=1e-4)
    rows = [("numpy", median_time(lambda: twenty_ops(x, np))), ("kiln.jit", median_time(lambda: f(x)))]
    try:
        import torch
        tx = torch.from_numpy(x)
        rows.append(("torch eager", median_time(lambda: twenty_ops(tx, torch))))
    except ImportError:
        pass
    try:
        import jax
        import jax.numpy as jnp
        jf = jax.jit(lambda x: twenty_ops(x, jnp))
        jx = jnp.asarray(x)
        rows.append(("jax.jit", median_time(lambda: jf(jx).block_until_ready())))
    except ImportError:
        pass
    return rows


if __name__ == "__main__":
    print("W6: 20 elementwise ops on a (16,) float32 array, median per call")
    print(table(run(), "numpy"))
