"""Threads: compiled functions and eager ops called from 8 threads at once give exact results
(per-call contexts, a pool that serves concurrent callers), trace state is per thread, and
Variables updated from several threads never crash. Each case runs in a subprocess: a race
here can abort or segfault, and the test must see a signal as a failure, not die with it."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

RACE = r'''
import sys, threading, numpy as np, kiln as kn
from kiln.codegen.cpu import parallel
THREADS, CALLS = 8, int(sys.argv[2])
rng = np.random.default_rng(0)
X = [rng.standard_normal((256, 256)).astype(np.float32) for _ in range(THREADS)]
W = rng.standard_normal((256, 128)).astype(np.float32)

@kn.jit
def f(x):  # a parallel elementwise kernel, a row reduction and a GEMM split in bands
    h = kn.tanh(x * 0.5) + x
    return h.sum(axis=1), h @ W

@kn.jit
def g(x):  # another function, other shapes: rows of f in g's results would show
    return kn.exp(-x * x).max(axis=0), (x * 2.0).sum()

def eager(x):
    h = kn.tanh(kn.asarray(x) * 0.5) + x
    return h.sum(axis=1), kn.matmul(h, W), h.max()

fns = {"one": [f] * THREADS, "two": [f, g] * (THREADS // 2), "eager": [eager] * THREADS}[sys.argv[1]]
assert any(parallel(k) for k in f.lower(X[0]).lowered.program.kernels)
refs = [[np.asarray(o).copy() for o in fn(x)] for fn, x in zip(fns, X)]
bad, gate = [0] * THREADS, threading.Barrier(THREADS)

def work(i):
    gate.wait()
    for _ in range(CALLS):
        outs = fns[i](X[i])
        bad[i] += not all(np.array_equal(np.asarray(o), r) for o, r in zip(outs, refs[i]))
ts = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
[t.start() for t in ts]
[t.join() for t in ts]
assert bad == [0] * THREADS, f"wrong results per thread: {bad}"
print("ok")
'''

ISOLATION = r'''
import threading, numpy as np, kiln as kn
from kiln.frontend import trace
v = kn.Variable(np.zeros(4, np.float32))
inside, resume = threading.Event(), threading.Event()

@kn.jit
def traced(x):
    if x.shape == (5,):  # the retrace, on the other thread: this one works while it is open
        inside.set()
        assert resume.wait(60)
    return x + 1

traced(np.zeros(3, np.float32))  # the next call retraces: no new Variables allowed in it
a = threading.Thread(target=traced, args=(np.zeros(5, np.float32),))
a.start()
assert inside.wait(60)
y = kn.asarray(np.arange(3, dtype=np.float32)) * 2  # eager here, not a tracer of the other thread
assert type(y) is kn.Array and y.tolist() == [0, 2, 4]
v.assign(42)
assert v.numpy().tolist() == [42] * 4
w = kn.Variable(np.ones(2, np.float32))  # allowed here while the other thread retraces
assert trace.idle() and trace.current() is None
resume.set()
a.join()
v.assign(0)
traced(np.zeros(5, np.float32))
assert v.numpy().tolist() == [0] * 4, "the other thread's assign was compiled into this trace"

recording, done = threading.Event(), threading.Event()
def taped():
    x = kn.asarray(np.float32(3))
    with kn.GradientTape() as tape:
        tape.watch(x)
        recording.set()
        assert done.wait(60)
        y = x * x
    out["grad"] = float(tape.gradient(y, x))
out = {}
t = threading.Thread(target=taped)
t.start()
assert recording.wait(60)
assert trace.idle()  # another thread's tape does not send this thread's calls op by op
(kn.asarray(np.ones(3, np.float32)) * 5).sum()
done.set()
t.join()
assert out["grad"] == 6.0, out
print("ok")
'''

SHARED = r'''
import threading, numpy as np, kiln as kn
THREADS, CALLS = 8, 300
counter = kn.Variable(np.zeros(1024, np.float32))
lock = threading.Lock()

@kn.jit
def step(k):
    counter.assign_add(k)
    return counter * 1.0

def locked():
    for _ in range(CALLS):
        with lock:
            step(np.float32(1))

def racing(i):
    for _ in range(CALLS):
        out = step(np.float32(0))  # reads race with other threads' writes of whole values
        assert np.all(np.isin(np.asarray(out), [THREADS * CALLS, 7.0])), "a torn or out-of-range value"

ts = [threading.Thread(target=locked) for _ in range(THREADS)]
[t.start() for t in ts]
[t.join() for t in ts]
assert np.all(counter.numpy() == THREADS * CALLS), counter.numpy()  # serialized by the user's lock: exact

def writer(i):
    for _ in range(CALLS):
        counter.assign(np.full(1024, 7.0 if i % 2 else THREADS * CALLS, np.float32))
ts = [threading.Thread(target=racing, args=(i,)) for i in range(THREADS // 2)] + \
     [threading.Thread(target=writer, args=(i,)) for i in range(THREADS // 2)]
[t.start() for t in ts]
[t.join() for t in ts]
assert np.all(np.isin(counter.numpy(), [THREADS * CALLS, 7.0]))
print("ok")
'''


def _run(script: str, *args: str) -> None:
    env = {**os.environ, "KILN_NUM_THREADS": "2"}
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300, check=False,
                          env=env)
    assert done.returncode == 0, f"exit {done.returncode} (negative: a signal)\n{done.stderr[-3000:]}"
    assert done.stdout.strip().endswith("ok")


@pytest.mark.parametrize("mode", ["one", "two", "eager"])
def test_eight_threads_exact(mode: str) -> None:
    """8 threads x CALLS calls: one compiled function, two different ones, and eager ops."""
    _run(RACE, mode, os.environ.get("KILN_TEST_THREAD_CALLS", "100"))


def test_trace_state_is_per_thread() -> None:
    _run(ISOLATION)


def test_shared_variables_never_crash_and_a_lock_serializes() -> None:
    _run(SHARED)
