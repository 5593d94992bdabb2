"""W6: per-call overhead — 20 elementwise ops on a (16,) float32 array, so the time is the cost
of calling compiled code from Python (argument checks, dispatch, result wrapping)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from .common import Result, Settings, expect, fmt_ratio, measure_all
from .impls import function_impls


def twenty_ops(x, lib):
    """20 elementwise ops written once against a NumPy-like namespace."""
    y = x * 0.5 + 1.0
    y = lib.tanh(y) * x - 0.25
    y = lib.exp(-y * y) + x / 3.0
    y = lib.maximum(y, 0.1) * 2.0 - x
    y = lib.sqrt(lib.abs(y) + 1.0) + lib.sin(x)
    y = y * y - lib.cos(y) + 0.5
    return lib.minimum(y, 10.0)


def _torch_lib():
    """torch with NumPy's maximum/minimum(array, scalar) (torch's take tensors only: clamp)."""
    try:
        import torch
    except ImportError:
        return None
    return SimpleNamespace(**{n: getattr(torch, n) for n in ("tanh", "exp", "sqrt", "abs", "sin", "cos")},
                           maximum=lambda a, b: torch.clamp(a, min=b),
                           minimum=lambda a, b: torch.clamp(a, max=b))


def _fns() -> dict:
    torch_lib = _torch_lib()

    def torch_fn(x):
        return twenty_ops(x, torch_lib)

    def jax_fn(x):
        import jax.numpy as jnp
        return twenty_ops(x, jnp)

    def kiln_fn(x):
        import kiln as kn
        return twenty_ops(x, kn)

    return {"numpy": lambda x: twenty_ops(x, np), "torch": torch_fn, "jax": jax_fn, "kiln": kiln_fn}


def run(settings: Settings) -> list[Result]:
    x = np.linspace(-1, 1, 16).astype(np.float32)
    ref = twenty_ops(x.astype(np.float64), np)
    rows = measure_all(function_impls(_fns(), (x,)), expect(ref, rtol=1e-4), settings)
    res = Result("W6", "20 elementwise ops on (16,) float32, per call", rows,
                 short="20 tiny ops", goal="<= 0.5x jax.jit")
    res.judge(0.5, "jax.jit")
    if res.ratio_to("jax.jit") is not None:
        res.notes.append(f"kiln / jax.jit: {fmt_ratio(res.ratio_to('jax.jit'))}")
    return [res]
