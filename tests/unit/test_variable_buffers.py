"""A Variable's buffer replaced (`v.data = x`, PyTorch's idiom) or assigned a value of another
shape: compiled code that uses it (as an argument or captured) sees the new shape and dtype and
retraces, or a clear error names the Variable — never out-of-bounds access or misread data.
Cases that crashed (segfault) run in a subprocess that must exit normally."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import kiln as kn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(code: str) -> str:
    """Run `code` in a fresh interpreter; it must exit normally (no signal) and print its result."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("new", ["np.ones(3, np.float32) * 2", "np.ones(4000, np.float32) * 2",
                                 "np.ones((2, 3), np.float64) * 2", "(np.ones((6, 2)) * 2).T[:, ::2]"])
def test_captured_variable_replaced_then_compiled_step(new) -> None:
    """The crash of issue 15: a captured Variable's buffer swapped for a smaller one, then a compiled
    step that updates it in place. Any shape works; float64 and strided arrays are converted."""
    out = _run(f"""
        import numpy as np, kiln as kn
        v = kn.Variable(np.ones(1000, np.float32), name="w")

        @kn.jit
        def step(lr):
            v.assign_sub(lr * v)
            return v.sum()

        step(0.5)
        v.data = {new}
        expected = np.asarray({new}, np.float32) * 0.5
        total = step(0.5)
        assert v.dtype == kn.float32 and v.shape == expected.shape, (v.dtype, v.shape)
        np.testing.assert_array_equal(v.numpy(), expected)
        assert float(total) == float(expected.sum()), (float(total), expected.sum())
        print("ok")
    """)
    assert out.strip() == "ok"


def test_variable_argument_replaced_retraces() -> None:
    v = kn.Variable(np.arange(5, dtype=np.float32))
    f = kn.jit(lambda var: var * 2.0)
    np.testing.assert_array_equal(np.asarray(f(v)), np.arange(5) * 2)
    v.data = np.arange(3.0)
    np.testing.assert_array_equal(np.asarray(f(v)), np.arange(3) * 2)
    assert f.trace_count == 2


def test_same_shape_replacement_uses_the_new_buffer() -> None:
    """After `v.data = x`, compiled updates go to the Variable's new buffer; the old array and
    the caller's x are left alone (the Variable owns a copy)."""
    v = kn.Variable(np.zeros(4, np.float32))
    inc = kn.jit(lambda: v.assign_add(1.0))
    inc()
    old = v.data
    x = np.full(4, 10, np.float32)
    v.data = x
    inc()
    np.testing.assert_array_equal(v.numpy(), np.full(4, 11))
    np.testing.assert_array_equal(old, np.ones(4))
    np.testing.assert_array_equal(x, np.full(4, 10))


def test_retrace_says_which_variable_changed(caplog) -> None:
    w = kn.Variable(np.ones(3, np.float32), name="weights")
    f = kn.jit(lambda x: x * w)
    f(np.float32(2))
    w.data = np.ones(5)
    with caplog.at_level(logging.INFO, logger="kiln.jit"):
        np.testing.assert_array_equal(np.asarray(f(np.float32(2))), np.full(5, 2))
    assert "Variable 'weights': float32(3,) -> float32(5,)" in caplog.text


def test_compiled_stage_follows_replaced_variable() -> None:
    w = kn.Variable(np.ones(3, np.float32))
    f = kn.jit(lambda x: (x * w).sum())
    compiled = f.lower(np.float32(1)).compile()
    assert float(compiled(np.float32(1))) == 3
    w.data = np.ones(7, np.float32)
    assert float(compiled(np.float32(1))) == 7


def test_eager_ops_see_replaced_buffer() -> None:
    v = kn.Variable(np.ones(3, np.float32))
    assert float(kn.sum(v)) == 3
    v.data = np.ones((2, 5))
    assert float(kn.sum(v)) == 10
    v.assign(np.full((2, 5), 3.0))
    assert float(kn.sum(v)) == 30


def test_replacement_of_another_kind_is_rejected() -> None:
    v = kn.Variable(np.zeros(3, np.int32), name="counts")
    with pytest.raises(kn.DTypeError, match=r"counts.*float64.*int32"):
        v.data = np.ones(3)
    v.data = np.arange(4, dtype=np.int64)  # same kind: converted to the Variable's dtype
    assert v.dtype == kn.int32 and v.shape == (4,)


def test_data_set_while_tracing_is_an_error() -> None:
    v = kn.Variable(np.zeros(3, np.float32), name="state")

    @kn.jit
    def f(x):
        v.data = np.zeros(4, np.float32)
        return x

    with pytest.raises(kn.TraceError, match="state.data"):
        f(np.float32(1))
    assert v.shape == (3,)


@pytest.mark.parametrize("compiled", [False, True])
def test_assign_of_another_shape_names_the_variable(compiled) -> None:
    v = kn.Variable(np.zeros(3, np.float32), name="bias")

    def assign(x):
        v.assign(x)
        return x

    fn = kn.jit(assign) if compiled else assign
    with pytest.raises(kn.ShapeError, match=r"assign.*\(4,\).*'bias'.*\(3,\)"):
        fn(np.ones(4, np.float32))
    fn(np.ones((1, 3), np.float32)[0])  # broadcastable values are still accepted
    fn(np.float32(2))
    np.testing.assert_array_equal(v.numpy(), np.full(3, 2))
