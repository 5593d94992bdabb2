"""W5: float32 matmul at 1024x1024x1024 and 256x784x256 (M x K x N): GFLOP/s, and kiln's
share of NumPy's (OpenBLAS) GFLOP/s."""
from __future__ import annotations

import numpy as np

from .common import Result, Settings, expect, measure_all, rng
from .impls import function_impls

SHAPES = ((1024, 1024, 1024), (256, 784, 256))


def _matmul(a, b):
    return a @ b


def run(settings: Settings) -> list[Result]:
    results = []
    fns = dict.fromkeys(("numpy", "torch", "jax", "kiln"), _matmul)
    for m, k, n in SHAPES:
        r = rng()
        a = r.standard_normal((m, k), dtype=np.float32)
        b = r.standard_normal((k, n), dtype=np.float32)
        ref = a.astype(np.float64) @ b.astype(np.float64)
        rows = measure_all(function_impls(fns, (a, b)), expect(ref, rtol=1e-4), settings)
        for row in rows:
            if row.seconds is not None:
                row.metrics["GFLOP/s"] = 2 * m * k * n / row.seconds / 1e9
        res = Result("W5", f"matmul {m}x{k}x{n} float32", rows, {"GFLOP/s": "{:.1f}", "% numpy": "{:.0f}%"},
                     short=f"matmul {m}x{k}x{n}", goal=">= 85% of NumPy's GFLOP/s")
        base = res.row("numpy")
        for row in rows:
            if row.seconds is not None and base:
                row.metrics["% numpy"] = 100 * base.seconds / row.seconds
        res.judge(1 / 0.85, "numpy")
        results.append(res)
    return results
