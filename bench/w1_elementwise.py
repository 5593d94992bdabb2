"""W1: tanh(x*.5+1)*sigmoid(x)+x*x on 4M float32 — one memory-bound fused loop. Reports the
achieved bandwidth (4 bytes read + 4 written per element) next to the machine's copy bandwidth."""
from __future__ import annotations

import numpy as np

from .common import Result, Settings, copy_bandwidth, expect, measure_all, rng
from .impls import function_impls

N = 4 << 20


def expr(x, tanh, sigmoid):
    return tanh(x * 0.5 + 1.0) * sigmoid(x) + x * x


def np_sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _fns() -> dict:
    def torch_fn(x):
        import torch
        return expr(x, torch.tanh, torch.sigmoid)

    def jax_fn(x):
        import jax
        return expr(x, jax.numpy.tanh, jax.nn.sigmoid)

    def kiln_fn(x):
        import kiln as kn
        return expr(x, kn.tanh, kn.nn.sigmoid)

    return {"numpy": lambda x: expr(x, np.tanh, np_sigmoid),
            "torch": torch_fn, "jax": jax_fn, "kiln": kiln_fn}


def run(settings: Settings) -> list[Result]:
    x = rng().standard_normal(N, dtype=np.float32) * 3
    ref = expr(x.astype(np.float64), np.tanh, np_sigmoid)
    copy = copy_bandwidth(settings)
    rows = measure_all(function_impls(_fns(), (x,)), expect(ref, rtol=1e-5), settings)
    for r in rows:
        if r.seconds is not None:
            gbs = 2 * x.nbytes / r.seconds / 1e9
            r.metrics = {"GB/s": gbs, "% copy bw": 100 * gbs / copy}
    res = Result("W1", "tanh(x*.5+1)*sigmoid(x)+x*x, 4M float32", rows,
                 {"GB/s": "{:.1f}", "% copy bw": "{:.0f}%"},
                 short="elementwise 4M", goal="<= 0.8x best, >= 50% copy bw",
                 notes=[f"memory copy bandwidth (np.copyto, 64 MB, read+write): {copy:.1f} GB/s"])
    kiln = res.row("kiln")
    res.judge(0.8, also=kiln is not None and kiln.metrics["% copy bw"] >= 50)
    return [res]
