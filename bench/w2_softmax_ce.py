"""W2: mean softmax cross-entropy of (4096, 1000) float32 logits with int labels, forward and
backward: the loss and its gradient w.r.t. the logits (two passes over rows, fused reductions)."""
from __future__ import annotations

import numpy as np

from .common import Result, Settings, expect, measure_all, rng
from .impls import function_impls, softmax_ce_jax, softmax_ce_numpy, softmax_ce_torch

SHAPE = (4096, 1000)


def _fns() -> dict:
    def torch_fn(logits, labels):
        import torch
        grad, loss = torch.func.grad_and_value(softmax_ce_torch)(logits, labels)
        return loss, grad

    def jax_fn(logits, labels):
        import jax
        return jax.value_and_grad(softmax_ce_jax)(logits, labels)

    def kiln_fn(logits, labels):
        import kiln as kn
        return kn.value_and_grad(kn.nn.sparse_softmax_cross_entropy)(logits, labels)

    return {"numpy": softmax_ce_numpy, "torch": torch_fn, "jax": jax_fn, "kiln": kiln_fn}


def run(settings: Settings) -> list[Result]:
    r = rng()
    logits = r.standard_normal(SHAPE, dtype=np.float32) * 2
    labels = r.integers(0, SHAPE[1], SHAPE[0]).astype(np.int32)
    ref = softmax_ce_numpy(logits.astype(np.float64), labels)
    rows = measure_all(function_impls(_fns(), (logits, labels)),
                       expect(ref, rtol=1e-4, names=("loss", "gradient")), settings)
    res = Result("W2", "softmax-CE fwd+bwd, (4096, 1000) float32", rows,
                 short="softmax-CE fwd+bwd", goal="<= 0.8x best")
    res.judge(0.8)
    return [res]
