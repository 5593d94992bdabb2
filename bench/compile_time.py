"""First-call cost of the MLP 784-256-10 SGD train step: trace → optimised graph → kernels →
LLVM → native code, measured on a fresh function each repeat (kiln's code cache cleared),
with the model's layers already built (their initializers are not compile time)."""
from __future__ import annotations

import statistics
import time

import numpy as np

import kiln as kn
from kiln.frontend import compile as kcompile
from kiln.runtime.cache import CodeCache


def _step():
    net = kn.nn.Sequential([kn.nn.Dense(256, activation="relu"), kn.nn.Dense(10)])
    opt = kn.optim.SGD(0.1)
    x, y = np.zeros((256, 784), np.float32), np.zeros(256, np.int32)
    net(x)

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.sparse_softmax_cross_entropy(net(x, training=True), y)
        opt.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
        return loss
    return train_step, x, y


def run(repeat: int = 5) -> dict[str, float]:
    """Median seconds of the first call, and the fused/unfused kernel counts."""
    times = []
    for _ in range(repeat):
        kcompile.CACHE = CodeCache()
        step, x, y = _step()
        t0 = time.perf_counter()
        step(x, y)
        times.append(time.perf_counter() - t0)
    counts = step.lower(x, y).kernel_counts()
    return {"first_call_s": statistics.median(times), **counts}
