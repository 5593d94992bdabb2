"""Fusion acceptance (issue 4): kernel counts of the d2l building blocks, what each kernel
reads, and that fused programs compute what NumPy does."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kiln as kn
from kiln.ir.kernel import loads

RNG = np.random.default_rng(0)


def _kernels(lowered) -> list:
    return lowered.lowered.program.kernels


def _w1(x):
    return kn.tanh(x * 0.5 + 1) * kn.nn.sigmoid(x) + x * x


def test_w1_is_one_kernel_reading_x_once() -> None:
    f = kn.jit(_w1)
    x = np.zeros(4 * 1024 * 1024, np.float32)
    (k,) = _kernels(f.lower(x))
    assert [e.attr for e in loads(k)] == [0]  # one load, of the argument
    small = RNG.standard_normal(1000).astype(np.float32)
    want = np.tanh(small * 0.5 + 1) / (1 + np.exp(-small)) + small * small
    np.testing.assert_allclose(np.asarray(f(small)), want, rtol=2e-6, atol=1e-6)


def _softmax_ce(logits, labels):
    return kn.value_and_grad(lambda z: kn.nn.sparse_softmax_cross_entropy(z, labels))(logits)


def test_softmax_cross_entropy_forward_backward_in_at_most_4_kernels() -> None:
    f = kn.jit(_softmax_ce)
    n = len(_kernels(f.lower(np.zeros((4096, 1000), np.float32), np.zeros(4096, np.int32))))
    print(f"softmax-CE fwd+bwd (4096, 1000): {n} kernels")
    assert n <= 4
    z = RNG.standard_normal((64, 10)).astype(np.float32) * 5
    y = RNG.integers(0, 10, 64).astype(np.int32)
    loss, grad = f(z, y)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(float(loss), -np.log(p[np.arange(64), y]).mean(), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(grad), (p - np.eye(10)[y]) / 64, rtol=1e-4, atol=1e-7)


W = np.ones((32, 16), np.float32) / 8
B = np.arange(16.0, dtype=np.float32) - 8


def _np_softmax(a):
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


BLOCKS = {  # name: (kiln function, NumPy reference, most kernels)
    "softmax": (lambda x: kn.nn.softmax(x), _np_softmax, 1),
    "log_softmax": (lambda x: kn.nn.log_softmax(x), lambda a: np.log(_np_softmax(a)), 1),
    "batch statistics": (lambda x: (x.mean(axis=0), ((x - x.mean(axis=0)) ** 2).mean(axis=0)),
                         lambda a: (a.mean(0), a.var(0)), 2),
    "dense + bias + relu": (lambda x: kn.nn.relu(x @ W + B), lambda a: np.maximum(a @ W + B, 0), 1),
}


@pytest.mark.parametrize("name", list(BLOCKS))
def test_building_blocks_fuse(name: str) -> None:
    fn, ref, limit = BLOCKS[name]
    f = kn.jit(fn)
    x = RNG.standard_normal((64, 32)).astype(np.float32)
    assert len(_kernels(f.lower(x))) <= limit, f.lower(x).as_kernels()
    got, want = f(x), ref(x.astype(np.float64))
    for g, r in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(np.asarray(g), r, rtol=1e-5, atol=1e-5)


def _mlp_step():
    kn.random.seed(0)
    net = kn.nn.Sequential([kn.nn.Dense(256, activation="relu"), kn.nn.Dense(10)])
    opt = kn.optim.SGD(0.1)

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.sparse_softmax_cross_entropy(net(x, training=True), y)
        opt.apply_gradients(zip(tape.gradient(loss, net.trainable_variables), net.trainable_variables))
        return loss
    return train_step


def test_mlp_train_step_fuses_to_half_the_kernels_and_60_percent_memory() -> None:
    lowered = _mlp_step().lower(np.zeros((256, 784), np.float32), np.zeros(256, np.int32))
    counts, mem = lowered.kernel_counts(), lowered.memory()
    print(f"MLP 784-256-10 step: {counts['fused']} kernels (unfused {counts['unfused']}); arena "
          f"{mem['arena_bytes']} B = {mem['arena_bytes'] / mem['intermediate_bytes']:.0%} of the "
          f"{mem['intermediate_bytes']} B of intermediate values")
    assert counts["fused"] * 2 <= counts["unfused"]
    assert mem["arena_bytes"] <= 0.6 * mem["intermediate_bytes"]
    assert mem["peak_live_bytes"] <= mem["arena_bytes"]


def test_dump_prints_kernel_counts(tmp_path: Path) -> None:
    script = tmp_path / "step.py"
    script.write_text("import kiln as kn\n\ndef f(x, w):\n    return kn.nn.relu(x @ w).sum()\n")
    out = subprocess.run([sys.executable, "-m", "kiln", "dump", f"{script}:f", "--args", "f32[8,4],f32[4,3]"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert re.search(r"== kernels: \d+ \(unfused: \d+\) ==", out.stdout)
    assert "== compile time:" in out.stdout


def test_dot_export_draws_kernels_as_clusters_with_source_lines() -> None:
    f = kn.jit(lambda x, w: kn.nn.softmax(x @ w))
    dot = f.lower(np.ones((4, 3), np.float32), np.ones((3, 5), np.float32)).to_dot()
    clusters = re.findall(r"subgraph cluster_\d+ \{ label=\"(k\d+_\w+)\"", dot)
    assert len(clusters) == 2, dot
    inside = dot[dot.index("subgraph cluster_1"):]
    assert re.search(r'n\d+ \[label="exp\\nf32\[4,5\]\\ntest_fusion.py:\d+"\]', inside)


def test_value_read_through_a_broadcast_by_a_reduction_is_materialized() -> None:
    """dz feeds a reshape -> broadcast (25x) -> multiply -> sum (a convolution's weight gradient):
    inlined, its three ops would be recomputed 25 times per element, so it gets a buffer; the
    reads are counted through the movement ops, not just at dz's direct users."""
    def f(a, b, x):
        dz = a * b * (1 - b)
        wide = kn.broadcast_to(kn.reshape(dz, (8, 1, 12, 12)), (8, 25, 12, 12))
        return (wide * x).sum(axis=(0, 2, 3))
    args = [RNG.standard_normal(s).astype(np.float32) for s in ((8, 12, 12), (8, 12, 12), (8, 25, 12, 12))]
    kernels = _kernels(kn.jit(f).lower(*args))
    assert len(kernels) == 2, [k.name for k in kernels]
    a, b, x = (v.astype(np.float64) for v in args)
    want = ((a * b * (1 - b))[:, None] * x).sum(axis=(0, 2, 3))
    np.testing.assert_allclose(np.asarray(kn.jit(f)(*args)), want, rtol=1e-5)
