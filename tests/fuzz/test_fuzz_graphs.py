"""Differential fuzzing of whole graphs (issue 15 point 9): random graphs over the op registry,
compiled under every pipeline, against NumPy's evaluation through each op's `ref`.

CI mode: 500 graphs (KILN_FUZZ_EXAMPLES overrides: 10000 is the long mode). The loop runs in a
child process so that a crash of compiled code fails this test with the graph that caused it.
"""
from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln.codegen.scalar import ScalarEmitter

from .check import Mismatch, check
from .graphs import OPS, Builder, cases, load_case
from .known import KNOWN
from .makers import make
from .oracle import mismatch
from .pipelines import pipelines

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = int(os.environ.get("KILN_FUZZ_EXAMPLES", "500"))
CHUNK = 500
REGRESSIONS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "regressions", "*.kir")))


def test_fuzz_graphs(tmp_path) -> None:
    """EXAMPLES graphs in chunks of CHUNK, each chunk a fresh child process with its own seed."""
    done, failures = 0, []
    for chunk in range(-(-EXAMPLES // CHUNK)):
        n = min(CHUNK, EXAMPLES - done)
        case_file = tmp_path / f"case{chunk}.kir"
        proc = subprocess.run([sys.executable, "-m", "tests.fuzz.worker", str(n), str(chunk), str(case_file)],
                              cwd=ROOT, capture_output=True, text=True, timeout=max(900, 2 * n))
        done += n
        print(f"chunk {chunk} (seed {chunk}), {done} graphs so far: {proc.stdout}", flush=True)
        if proc.returncode < 0:
            failures.append(f"chunk {chunk}: the fuzz worker died by {signal.Signals(-proc.returncode).name} "
                            f"on this graph:\n{case_file.read_text()}\n{proc.stderr[-3000:]}")
        elif proc.returncode != 0 or not proc.stdout.startswith(f"fuzz: {n} graphs"):
            failures.append(f"chunk {chunk}: {proc.stdout[-2000:]}{proc.stderr[-6000:]}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("path", REGRESSIONS, ids=[os.path.basename(p) for p in REGRESSIONS])
def test_regression(path: str) -> None:
    """Graphs the fuzzer once failed on, each with a comment saying what was wrong."""
    with open(path) as f:
        check(load_case(f.read()), pipelines())


def test_every_op_is_drawn() -> None:
    """The strategy reaches every registry op (a new op needs no edit here unless its operands
    must fit each other: then makers.py needs a maker, and this test says so)."""
    seen: set[str] = set()

    @settings(max_examples=20 * len(OPS), derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data) -> None:
        b = Builder(data.draw)
        b.pool.append(b.arg(data.draw(st.sampled_from([np.float32, np.int32, np.bool_]).map(_kiln_dtype)),
                            data.draw(st.lists(st.integers(1, 3), max_size=4).map(tuple))))
        op = data.draw(st.sampled_from(OPS))
        make(b, op)
        seen.update(n.op for n in b.nodes)

    draw()
    assert set(OPS) <= seen, f"never built: {sorted(set(OPS) - seen)}"


def _kiln_dtype(t):
    from kiln.ir import dtypes as dt
    return dt.as_dtype(t)


def test_bound_zero_means_bitwise() -> None:
    z = np.zeros(3)
    assert mismatch(np.float32([0.0, np.nan, 1.0]), np.float32([0.0, np.nan, 1.0]), z) is None
    assert mismatch(np.float32([0.0, 1.0, 1.0]), np.float32([-0.0, 1.0, 1.0]), z)
    assert mismatch(np.float32([1.0, 1.0, 1.0]), np.float32([1.0, 1.0, np.nextafter(np.float32(1), 2)]), z)
    assert mismatch(np.float32([1.0, 1.0, np.inf]), np.float32([1.0, 1.0, 3e38]), np.full(3, 1e30))
    assert mismatch(np.int32([1, 2, 3]), np.int32([1, 2, 4]), np.array([0, 0, np.inf])) is None


def test_fuzzer_finds_a_wrong_lowering(monkeypatch) -> None:
    """The harness can fail: with `minimum` lowered as `maximum`, it reports a mismatch."""
    monkeypatch.setattr(ScalarEmitter, "op_min", ScalarEmitter.op_max)
    pipes = pipelines()[:1]

    @settings(max_examples=300, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(cases(max_ops=3))
    def fuzz(case) -> None:
        check(case, pipes)

    with pytest.raises(Mismatch):
        fuzz()


def test_known_issues_name_their_owner() -> None:
    assert all(owner and callable(pred) for owner, pred in KNOWN.values())
