"""Kernels split over the runtime's thread pool give the same bits with 1 and 2 threads
(each output point is computed by one thread, so no reduction is reordered)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = r'''
import sys, numpy as np, kiln as kn
from kiln.frontend import compile as kc
rng = np.random.default_rng(0)
x = rng.standard_normal((512, 300)).astype(np.float32)
w = kn.Variable(rng.standard_normal((300, 64)).astype(np.float32))

@kn.jit
def step(x):
    h = kn.tanh(x * 0.5 + 1) * kn.nn.sigmoid(x) + x * x
    p = kn.nn.softmax(h, axis=1)
    with kn.GradientTape() as tape:
        loss = (kn.nn.relu(x @ w) ** 2).mean()
    w.assign_sub(0.01 * tape.gradient(loss, w))
    return h, p, p.sum(axis=0), kn.cumsum(h, axis=0), loss

outs = [np.asarray(o) for _ in range(3) for o in step(x)]
assert "kiln_parallel_for" in step.lower(x).compile().as_llvm_ir() or kc._threads() == 1
np.savez(sys.argv[1], *outs, w.numpy(), threads=kc._threads())
'''


def _run(tmp: Path, threads: int) -> dict:
    out = tmp / f"t{threads}.npz"
    env = {"KILN_NUM_THREADS": str(threads), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def test_one_and_two_threads_agree(tmp_path: Path) -> None:
    one, two = _run(tmp_path, 1), _run(tmp_path, 2)
    assert int(one.pop("threads")) == 1 and int(two.pop("threads")) == 2
    for k in one:
        np.testing.assert_allclose(two[k], one[k], rtol=1e-5, atol=0, err_msg=k)


STRESS = r'''
import sys, numpy as np, kiln as kn
from kiln.frontend import compile as kc
v = kn.Variable(np.zeros((64, 1024), np.float32))
g = np.ones((64, 1024), np.float32)

@kn.jit
def step(g, k):
    v.assign_add(g * k)            # read and written in place: a chunk run twice would add twice
    return (v * 0.5).sum(axis=1)   # a second kernel right after: late workers meet a new generation

total = 0.0
for i in range(1, 1501):
    out = step(g, np.float32(i % 3))
    total += i % 3
assert kc._threads() == int(sys.argv[1])
np.testing.assert_array_equal(v.numpy(), np.full((64, 1024), total, np.float32))
np.testing.assert_allclose(np.asarray(out), np.full(64, total * 0.5 * 1024, np.float32), rtol=1e-6)
'''


def test_many_small_parallel_kernels_with_more_threads_than_cores() -> None:
    """1500 steps of two parallel kernels with 3 threads on (usually) fewer cores: workers are
    preempted and arrive late; every chunk still runs exactly once per kernel."""
    done = subprocess.run([sys.executable, "-c", STRESS, "3"], capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "KILN_NUM_THREADS": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
