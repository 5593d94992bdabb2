"""kn.jit: signature caching and retracing, argument checks, tracing errors, Variables in place,
one native call per invocation, random streams, KILN_DUMP, the AOT stages, and pytrees."""
from __future__ import annotations

import logging
import operator
import os
import re
import sys

import numpy as np
import pytest

import kiln as kn
import kiln.config as kconfig
from kiln.frontend import compile as kcompile
from kiln.runtime import executable as kexecutable
from kiln.runtime.cache import CodeCache

THIS_FILE = os.path.basename(__file__)
KILN_DIR = os.path.dirname(os.path.abspath(kn.__file__))


def f32(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def body_line(fn, offset: int = 1) -> int:
    """Line number of the `offset`-th line after `def` of a plain (undecorated) function."""
    return fn.__code__.co_firstlineno + offset


# --- (a) caching and retracing ---------------------------------------------------------------

def test_same_signature_does_not_retrace():
    @kn.jit
    def f(x, y):
        return x * 2 + y
    x, y = f32(2, 3), f32(3)
    r1 = f(x, y)
    r2 = f(x + 1, y)
    assert f.trace_count == 1
    np.testing.assert_allclose(np.asarray(r1), x * 2 + y, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(r2), (x + 1) * 2 + y, rtol=1e-6)
    assert len(f.cache) == 1


def test_new_shape_retraces():
    @kn.jit
    def f(x):
        return x.sum(axis=0)
    f(f32(2, 3))
    assert f.trace_count == 1
    out = f(f32(4, 3))
    assert f.trace_count == 2
    assert out.shape == (3,)
    f(f32(2, 3))  # both signatures stay cached
    f(f32(4, 3))
    assert f.trace_count == 2


def test_new_dtype_retraces_and_is_not_silently_reused():
    @kn.jit
    def f(x):
        return x * 2
    a = f(np.arange(3, dtype=np.float32))
    b = f(np.arange(3, dtype=np.float64))
    c = f(np.arange(3, dtype=np.int32))
    assert f.trace_count == 3
    assert (a.dtype, b.dtype, c.dtype) == (kn.float32, kn.float64, kn.int32)
    np.testing.assert_array_equal(np.asarray(c), [0, 2, 4])


def test_python_scalar_value_does_not_retrace():
    @kn.jit
    def f(x, s):
        return x * s
    x = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(f(x, 2.0)), x * 2)
    np.testing.assert_array_equal(np.asarray(f(x, 3.5)), x * 3.5)
    np.testing.assert_array_equal(np.asarray(f(x, -1.0)), -x)
    assert f.trace_count == 1
    assert f(x, 2.0).dtype == kn.float32  # weakly typed: stays float32


def test_static_arg_value_retraces():
    def scale(x, n):
        return kn.tile(x, (n,))
    f = kn.jit(scale, static_argnums=1)
    assert f(np.ones(2, np.float32), 2).shape == (4,)
    assert f(np.ones(2, np.float32), 2).shape == (4,)
    assert f.trace_count == 1
    assert f(np.ones(2, np.float32), 3).shape == (6,)
    assert f.trace_count == 2

    g = kn.jit(scale, static_argnames="n")
    assert g(np.ones(2, np.float32), n=2).shape == (4,)
    assert g(np.ones(2, np.float32), n=5).shape == (10,)
    assert g.trace_count == 2


def test_retrace_logs_the_difference(caplog):
    @kn.jit
    def f(x):
        return x + 1
    with caplog.at_level(logging.INFO, logger="kiln.jit"):
        f(np.zeros((2, 3), np.float32))
        assert not [r for r in caplog.records if r.name == "kiln.jit" and "retrac" in r.getMessage()]
        f(np.zeros((4, 3), np.float32))
    msgs = [r.getMessage() for r in caplog.records if r.name == "kiln.jit" and r.levelno >= logging.INFO]
    assert any("shape (2, 3) -> (4, 3)" in m for m in msgs), msgs
    assert any("arg 0" in m for m in msgs), msgs


def test_retrace_log_names_static_and_dtype_changes(caplog):
    f = kn.jit(lambda x, n: x * n, static_argnums=1)
    with caplog.at_level(logging.INFO, logger="kiln.jit"):
        f(np.ones(2, np.float32), 2)
        f(np.ones(2, np.float32), 3)
        f(np.ones(2, np.float64), 3)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "kiln.jit")
    assert "'n': 2 -> 3" in text
    assert "float32" in text and "float64" in text


def test_excessive_retracing_warns():
    @kn.jit
    def f(x):
        return x + 1
    with kconfig.override(retrace_warn=3), pytest.warns(UserWarning, match="traced 3 times"):
        for n in range(1, 4):
            f(np.zeros(n, np.float32))


def test_arguments_are_checked_on_every_call():
    """A call must never reuse code compiled for other shapes/dtypes/layouts (fast path included)."""
    @kn.jit
    def f(x):
        return x[::-1] + 0
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(f(base)), base[::-1])
    strided = np.arange(24, dtype=np.float32).reshape(3, 8)[:, ::2]  # same shape, not contiguous
    np.testing.assert_array_equal(np.asarray(f(strided)), strided[::-1])
    fortran = np.asfortranarray(base * 3)
    np.testing.assert_array_equal(np.asarray(f(fortran)), (base * 3)[::-1])
    swapped = (base * 5).astype(">f4")  # non-native byte order
    np.testing.assert_array_equal(np.asarray(f(swapped)), (base * 5)[::-1])
    np.testing.assert_array_equal(np.asarray(f(kn.asarray(base * 7))), (base * 7)[::-1])
    assert f.trace_count == 1
    out = f(base.astype(np.int64))
    assert out.dtype == kn.int64 and f.trace_count == 2


def test_scalar_type_change_retraces():
    @kn.jit
    def f(x, s):
        return x * s
    x = np.arange(3, dtype=np.int32)
    assert f(x, 2).dtype == kn.int32
    assert f(x, 2.5).dtype == kn.float32
    np.testing.assert_array_equal(np.asarray(f(x, 2.5)), x * 2.5)
    assert f.trace_count == 2


def test_keyword_and_default_arguments_share_the_signature():
    """Positional and keyword spellings share a trace; a parameter left to its default stays a
    Python value (as in JAX, so library functions with int options can be jitted), and passing
    it traces it once, as a weak scalar."""
    @kn.jit
    def f(x, y, scale=2.0):
        return (x - y) * scale

    one, zero = np.ones(2, np.float32), np.zeros(2, np.float32)
    np.testing.assert_array_equal(np.asarray(f(one, zero)), [2, 2])
    np.testing.assert_array_equal(np.asarray(f(y=zero, x=one)), [2, 2])
    assert f.trace_count == 1
    np.testing.assert_array_equal(np.asarray(f(one, zero, 5.0)), [5, 5])
    np.testing.assert_array_equal(np.asarray(f(one, y=zero, scale=-1.0)), [-1, -1])
    assert f.trace_count == 2


def test_defaults_stay_python_values():
    @kn.jit
    def f(x, axis=0, square=False):
        y = x.sum(axis=axis)  # a traced axis or flag could not steer Python here
        return y * y if square else y

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(np.asarray(f(x)), [3, 5, 7])


def test_out_of_range_python_int_is_not_silently_wrapped():
    @kn.jit
    def f(x, s):
        return x + s
    x = np.zeros(2, np.int32)
    np.testing.assert_array_equal(np.asarray(f(x, 7)), [7, 7])
    with pytest.raises((OverflowError, TypeError, ValueError)):
        f(x, 2**40)


# --- (b) argument count --------------------------------------------------------------------------

@pytest.mark.parametrize("args", [(), (1.0,), (1.0, 2.0, 3.0)])
def test_wrong_number_of_arguments_raises_type_error(args):
    @kn.jit
    def pair(x, y):
        return x + y
    pair(np.ones(2, np.float32), np.ones(2, np.float32))
    with pytest.raises(TypeError, match=re.escape("pair(x, y)")):
        pair(*args)


def test_unknown_keyword_raises_type_error():
    @kn.jit
    def pair(x, y):
        return x + y
    with pytest.raises(TypeError, match=re.escape("pair(x, y)")):
        pair(np.ones(2), z=np.ones(2))


def test_non_array_argument_raises_type_error():
    @kn.jit
    def f(x):
        return x
    with pytest.raises(TypeError, match="static"):
        f("a string")


# --- (c) Python control flow on traced values ------------------------------------------------

def _branchy(x):
    if x.sum() > 0:
        return x
    return -x


def test_python_if_on_traced_value_raises_trace_error():
    f = kn.jit(_branchy)
    with pytest.raises(kn.TraceError) as info:
        f(np.ones(3, np.float32))
    msg = str(info.value)
    assert "kn.cond" in msg
    assert f"{THIS_FILE}:{body_line(_branchy)}" in msg, msg


def test_python_float_on_traced_value_raises_trace_error():
    @kn.jit
    def f(x):
        return x * float(x[0])
    with pytest.raises(kn.TraceError, match=THIS_FILE):
        f(np.ones(3, np.float32))


# --- (d) Variables in place, zero-copy results ---------------------------------------------

def test_variable_assign_add_is_in_place():
    v = kn.Variable(np.zeros(4, np.float32))
    buf = v.data
    addr = v.data.ctypes.data

    @kn.jit
    def step(x):
        v.assign_add(x)
        return v.value * 2

    x = np.array([1, 2, 3, 4], np.float32)
    for i in range(1, 6):
        out = step(x)
        assert v.data.ctypes.data == addr
        assert v.data is buf
        np.testing.assert_array_equal(v.numpy(), x * i)
        np.testing.assert_array_equal(np.asarray(out), x * i * 2)
    assert step.trace_count == 1


def test_variable_updates_are_seen_by_views_and_eager_code():
    v = kn.Variable(np.ones((2, 2), np.float32))
    view = v.data  # an alias held by the user keeps seeing the Variable

    @kn.jit
    def step(scale):
        v.assign(v * scale)
        return v.sum()

    step(2.0)
    step(3.0)
    np.testing.assert_array_equal(view, np.full((2, 2), 6.0, np.float32))
    v.assign_sub(np.ones((2, 2), np.float32))  # eager assignment: also in place
    assert v.data is view
    np.testing.assert_array_equal(view, np.full((2, 2), 5.0, np.float32))
    assert float(step(1.0)) == 20.0


def test_variable_passed_as_argument_is_updated_in_place():
    v = kn.Variable(np.zeros(3, np.float32))
    addr = v.data.ctypes.data

    @kn.jit
    def step(var, x):
        var.assign_add(x)
        return var.value

    step(v, np.ones(3, np.float32))
    step(v, np.ones(3, np.float32))
    assert v.data.ctypes.data == addr
    np.testing.assert_array_equal(v.numpy(), [2, 2, 2])
    w = kn.Variable(np.full(3, 10, np.float32))
    step(w, np.ones(3, np.float32))  # another Variable of the same type: its own buffer
    np.testing.assert_array_equal(w.numpy(), [11, 11, 11])
    np.testing.assert_array_equal(v.numpy(), [2, 2, 2])


def test_returned_variable_value_is_a_snapshot():
    v = kn.Variable(np.zeros(2, np.float32))

    @kn.jit
    def step(x):
        v.assign_add(x)
        return v.value

    r1 = step(np.ones(2, np.float32))
    r2 = step(np.ones(2, np.float32))
    np.testing.assert_array_equal(np.asarray(r1), [1, 1])  # not an alias of the Variable's buffer
    np.testing.assert_array_equal(np.asarray(r2), [2, 2])
    assert not np.shares_memory(np.asarray(r2), v.data)


def test_read_after_assign_sees_the_new_value():
    v = kn.Variable(np.ones(3, np.float32))

    @kn.jit
    def step(x):
        old = v.value
        v.assign(x)
        v.assign(v * 3)
        return old, v.value + 0

    old, new = step(np.full(3, 2.0, np.float32))
    np.testing.assert_array_equal(np.asarray(old), [1, 1, 1])
    np.testing.assert_array_equal(np.asarray(new), [6, 6, 6])
    np.testing.assert_array_equal(v.numpy(), [6, 6, 6])


def test_result_does_not_alias_the_input():
    @kn.jit
    def ident(x):
        return x

    a = np.ones(3, np.float32)
    r = ident(a)
    a[0] = 5
    np.testing.assert_array_equal(np.asarray(r), [1, 1, 1])


def test_compiled_result_is_zero_copy():
    @kn.jit
    def f(x):
        return x * 2, x.sum()
    a, s = f(np.arange(6, dtype=np.float32).reshape(2, 3))
    for r in (a, s):
        view = np.asarray(r)
        assert np.shares_memory(view, r.data)
        assert view.ctypes.data == r.data.ctypes.data
    np.testing.assert_array_equal(np.asarray(a), np.arange(6).reshape(2, 3) * 2)
    assert isinstance(a, kn.Array) and float(s) == 15.0
    copy = a.numpy()
    copy[0, 0] = 99
    assert np.asarray(a)[0, 0] == 0  # .numpy() is a copy


# --- (e) one native call per invocation, no Python between kernels --------------------------

class _NativeEntry:
    """Wraps an Executable's ctypes entry: counts calls and makes the native call visible to
    sys.setprofile as ONE 'c_call' of the builtin operator.call."""

    calls = 0

    def __init__(self, cfunc):
        self.cfunc = cfunc

    def __call__(self, *args):
        type(self).calls += 1
        return operator.call(self.cfunc, *args)


def test_one_native_call_per_invocation_and_no_python_between_kernels(monkeypatch):
    assert hasattr(kexecutable, "_ENTRY"), "Executable no longer builds its entry through _ENTRY"
    orig = kexecutable._ENTRY
    monkeypatch.setattr(kexecutable, "_ENTRY", lambda address: _NativeEntry(orig(address)))
    monkeypatch.setattr(kcompile, "CACHE", CodeCache())  # build fresh Executables through _ENTRY
    monkeypatch.setattr(_NativeEntry, "calls", 0)

    @kn.jit
    def f(x, w):
        h = kn.tanh(x @ w)
        return kn.exp(h - h.max(axis=1, keepdims=True)).sum(axis=1), (h * h).mean()

    x, w = f32(8, 16), f32(16, 4, seed=1)
    kernels = f.lower(x, w).as_kernels()
    assert len(re.findall(r"^\s*kernel @", kernels, re.M)) >= 2, kernels
    f(x, w)  # compile
    calls_before = _NativeEntry.calls

    events = []

    def profiler(frame, event, arg):
        events.append((event, frame.f_code.co_filename, frame.f_code.co_name, arg))

    sys.setprofile(profiler)
    try:
        out = f(x, w)
    finally:
        sys.setprofile(None)

    assert _NativeEntry.calls - calls_before == 1
    starts = [i for i, e in enumerate(events) if e[0] == "c_call" and e[3] is operator.call]
    ends = [i for i, e in enumerate(events) if e[0] in ("c_return", "c_exception") and e[3] is operator.call]
    assert len(starts) == len(ends) == 1, events
    during = events[starts[0] + 1:ends[0]]
    assert during == [], f"Python ran inside the native call: {during}"
    kiln_calls = [e for e in events if e[0] == "call" and e[1].startswith(KILN_DIR)]
    assert kiln_calls, "the profiler did not see the kiln frontend at all"
    h = np.tanh(x @ w)
    np.testing.assert_allclose(np.asarray(out[0]), np.exp(h - h.max(1, keepdims=True)).sum(1), rtol=1e-5)


def test_many_kernels_still_one_native_call(monkeypatch):
    orig = kexecutable._ENTRY
    monkeypatch.setattr(kexecutable, "_ENTRY", lambda address: _NativeEntry(orig(address)))
    monkeypatch.setattr(kcompile, "CACHE", CodeCache())
    monkeypatch.setattr(_NativeEntry, "calls", 0)
    v = kn.Variable(np.zeros(3, np.float32))

    @kn.jit
    def step(x):
        v.assign_add(x.sum(axis=0))
        return kn.concatenate([x.max(axis=0), x.min(axis=0)]), kn.random.uniform((3,)) + x[0]

    x = f32(5, 3)
    assert len(re.findall(r"^\s*kernel @", step.lower(x).as_kernels(), re.M)) >= 2
    step(x)
    before = _NativeEntry.calls
    for _ in range(3):
        step(x)
    assert _NativeEntry.calls - before == 3
    np.testing.assert_allclose(v.numpy(), 4 * x.sum(0), rtol=1e-5)


# --- (f) random numbers ----------------------------------------------------------------------

def test_random_same_seed_same_stream_eager_and_compiled():
    kn.random.seed(3)
    eager = np.asarray(kn.random.uniform((5,))).copy()
    eager2 = np.asarray(kn.random.uniform((5,))).copy()

    @kn.jit
    def draw():
        return kn.random.uniform((5,))

    kn.random.seed(3)
    a = np.asarray(draw()).copy()
    b = np.asarray(draw()).copy()
    np.testing.assert_array_equal(a, eager)
    np.testing.assert_array_equal(b, eager2)
    assert not np.array_equal(a, b)
    assert a.dtype == np.float32 and np.all((a >= 0) & (a < 1))
    assert draw.trace_count == 1


def test_random_reseed_restarts_compiled_stream_and_seeds_differ():
    @kn.jit
    def draw(x):
        return kn.random.normal((4,)) + x

    zero = np.zeros(4, np.float32)
    kn.random.seed(7)
    first = np.asarray(draw(zero)).copy()
    kn.random.seed(7)
    again = np.asarray(draw(zero)).copy()
    kn.random.seed(8)
    other = np.asarray(draw(zero)).copy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


# --- (g) KILN_DUMP ---------------------------------------------------------------------------

def _dumped(root) -> dict[str, str]:
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(d, name)) as fh:
                out[os.path.relpath(os.path.join(d, name), root)] = fh.read()
    return out


def test_dump_writes_every_stage(tmp_path):
    def dumped_fn(x, y):
        return kn.exp(x) @ y + 1.0

    with kconfig.override(dump=str(tmp_path)):
        kn.jit(dumped_fn)(f32(2, 3), f32(3, 4))
    files = _dumped(tmp_path)
    names = list(files)
    kir = [n for n in names if n.endswith(".kir")]
    assert kir, names
    assert any("func @dumped_fn(" in files[n] and "exp" in files[n] for n in kir)
    assert any("trace" in n for n in kir), names
    assert any("kernel @" in text for text in files.values()), names
    ll = [n for n in names if n.endswith(".ll")]
    assert ll and any("define" in files[n] for n in ll), names
    s = [n for n in names if n.endswith(".s")]
    assert s and all(files[n].strip() for n in s), names


def test_dump_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with kconfig.override(dump=""):
        kn.jit(lambda x: x + 2)(np.ones(2, np.float32))
    assert os.listdir(tmp_path) == []


def _dump_twice(x):
    return kn.sin(x) * 3


def test_dump_writes_llvm_even_when_code_is_cached(tmp_path):
    x = np.ones(3, np.float32)
    kn.jit(_dump_twice)(x)  # compiled once without dumping: the code is now cached
    with kconfig.override(dump=str(tmp_path)):
        kn.jit(_dump_twice)(x)  # a new jitted function: must dump every stage
    names = list(_dumped(tmp_path))
    assert any(n.endswith(".kir") for n in names), names
    assert any(n.endswith(".ll") for n in names), names
    assert any(n.endswith(".s") for n in names), names


def test_dump_keeps_every_signature(tmp_path):
    @kn.jit
    def sig_fn(x):
        return x * 2

    with kconfig.override(dump=str(tmp_path)):
        sig_fn(np.ones(2, np.float32))
        sig_fn(np.ones(5, np.float32))
    heads = [t.splitlines()[0] for n, t in _dumped(tmp_path).items() if n.endswith(".kir")]
    assert any("f32[2]" in h for h in heads) and any("f32[5]" in h for h in heads), heads


# --- (h) stages ------------------------------------------------------------------------------

def test_stages():
    @kn.jit
    def staged(x, w):
        return kn.tanh(x @ w).sum(axis=0)

    x, w = f32(4, 3), f32(3, 2, seed=2)
    traced = staged.trace(x, w)
    assert traced.as_text().startswith("func @staged(")
    assert "matmul" in traced.as_text() and traced.graph.outputs
    lowered = staged.lower(x, w)
    assert lowered.as_text().startswith("func @staged(")
    assert lowered.to_dot().lstrip().startswith("digraph")
    assert "kernel @" in lowered.as_kernels()
    mem = lowered.memory()
    assert isinstance(mem, dict) and mem["arena_bytes"] >= 0
    compiled = lowered.compile()
    assert "define" in compiled.as_llvm_ir()
    assert compiled.as_asm().strip()
    out = compiled(x, w)
    np.testing.assert_allclose(np.asarray(out), np.tanh(x @ w).sum(0), rtol=1e-5)
    with pytest.raises(TypeError):
        compiled(f32(5, 3), w)  # compiled for another signature


# --- (i) errors name the op, the shapes and the user's line ---------------------------------

def _bad_add(x, y):
    return x + y


def test_broadcast_error_names_op_shapes_and_line():
    f = kn.jit(_bad_add)
    with pytest.raises(kn.ShapeError) as info:
        f(np.ones((2, 3), np.float32), np.ones(4, np.float32))
    msg = str(info.value)
    assert "add" in msg and "(2, 3)" in msg and "(4,)" in msg, msg
    assert f"{THIS_FILE}:{body_line(_bad_add)}" in msg, msg


def _bad_matmul(a, b):
    return kn.matmul(a, b)


def test_matmul_inner_dim_mismatch_raises_shape_error():
    f = kn.jit(_bad_matmul)
    with pytest.raises(kn.ShapeError) as info:
        f(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))
    msg = str(info.value)
    assert "matmul" in msg and "(2, 3)" in msg and "(4, 5)" in msg, msg
    assert f"{THIS_FILE}:{body_line(_bad_matmul)}" in msg, msg


def test_eager_shape_error_names_line():
    with pytest.raises(kn.ShapeError, match=THIS_FILE):
        kn.add(np.ones((2, 3), np.float32), np.ones(4, np.float32))


def test_variable_created_on_retrace_raises_trace_error():
    created = []

    @kn.jit
    def f(x):
        v = kn.Variable(np.zeros(x.shape, np.float32))
        created.append(v)
        return x + v

    np.testing.assert_array_equal(np.asarray(f(np.ones(2, np.float32))), [1, 1])
    with pytest.raises(kn.TraceError):
        f(np.ones(3, np.float32))


def _make_variable_each_trace(x):
    v = kn.Variable(np.zeros(x.shape, np.float32))
    return x + v


def test_variable_created_on_retrace_error_names_the_line():
    f = kn.jit(_make_variable_each_trace)
    f(np.ones(2, np.float32))
    with pytest.raises(kn.TraceError) as info:
        f(np.ones(3, np.float32))
    assert f"{THIS_FILE}:{body_line(_make_variable_each_trace)}" in str(info.value)


def _loop_on_tensor(x):
    while x.sum() > 0:
        x = x - 1
    return x


def test_python_while_on_traced_value_raises_trace_error():
    with pytest.raises(kn.TraceError) as info:
        kn.jit(_loop_on_tensor)(np.ones(2, np.float32))
    assert "kn.while_loop" in str(info.value)
    assert f"{THIS_FILE}:{body_line(_loop_on_tensor)}" in str(info.value)


def _float_bitwise(x, y):
    return x & y


def test_dtype_error_names_op_and_line():
    with pytest.raises(kn.DTypeError) as info:
        kn.jit(_float_bitwise)(np.ones(2, np.float32), np.ones(2, np.float32))
    msg = str(info.value)
    assert "bitwise_and" in msg and "float32" in msg
    assert f"{THIS_FILE}:{body_line(_float_bitwise)}" in msg


def _data_dependent(x):
    return kn.boolean_mask(x, x > 0)


def test_data_dependent_shape_raises_shape_error_inside_jit():
    with pytest.raises(kn.ShapeError) as info:
        kn.jit(_data_dependent)(np.ones(2, np.float32))
    assert "boolean_mask" in str(info.value)
    assert f"{THIS_FILE}:{body_line(_data_dependent)}" in str(info.value)


def test_variable_from_traced_value_raises_trace_error():
    @kn.jit
    def f(x):
        return kn.Variable(x)
    with pytest.raises(kn.TraceError):
        f(np.ones(2, np.float32))


def test_leaked_tracer_raises_trace_error():
    leaked = []

    @kn.jit
    def f(x):
        leaked.append(x)
        return x + 1

    f(np.ones(2, np.float32))
    with pytest.raises(kn.TraceError):
        kn.add(leaked[0], 1.0)


# --- (j) pytrees -----------------------------------------------------------------------------

def test_pytree_arguments_and_results():
    @kn.jit
    def f(pair, items, d):
        a, b = pair
        return {"s": a + b, "p": [items[0] * items[1], (d["k"] - 1,)]}, d["z"]

    a, b, c, k = f32(3), f32(3, seed=1), f32(3, seed=2), f32(2, 2, seed=3)
    out, z = f((a, b), [c, c], {"k": k, "z": np.int64(4)})
    assert set(out) == {"s", "p"}
    assert isinstance(out["p"], list) and isinstance(out["p"][1], tuple)
    np.testing.assert_allclose(np.asarray(out["s"]), a + b, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out["p"][0]), c * c, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out["p"][1][0]), k - 1, rtol=1e-6)
    assert int(z) == 4
    assert f.trace_count == 1
    f((b, a), [c, a], {"k": k * 2, "z": np.int64(5)})
    assert f.trace_count == 1


def test_pytree_structure_change_retraces(caplog):
    @kn.jit
    def total(xs):
        out = 0.0
        for x in (xs.values() if isinstance(xs, dict) else xs):
            out = out + x.sum()
        return out

    one = np.ones(2, np.float32)
    with caplog.at_level(logging.INFO, logger="kiln.jit"):
        assert float(total((one, one))) == 4
        assert float(total((one, one, one))) == 6
        assert total.trace_count == 2
        assert float(total([one, one])) == 4  # list vs tuple: another structure
        assert total.trace_count == 3
        assert float(total({"a": one, "b": one})) == 4
        assert total.trace_count == 4
        assert float(total((one, one))) == 4  # cached
        assert total.trace_count == 4
    assert any("structure" in r.getMessage() for r in caplog.records if r.name == "kiln.jit")


def test_dict_key_change_retraces():
    @kn.jit
    def f(d):
        return d["a"] * 2 + d.get("b", 0)

    one = np.ones(2, np.float32)
    np.testing.assert_array_equal(np.asarray(f({"a": one})), [2, 2])
    np.testing.assert_array_equal(np.asarray(f({"a": one, "b": one})), [3, 3])
    assert f.trace_count == 2


def test_none_leaves_and_nested_outputs():
    @kn.jit
    def f(x, maybe):
        return (x if maybe is None else x + maybe), None

    one = np.ones(2, np.float32)
    out, nothing = f(one, None)
    assert nothing is None
    np.testing.assert_array_equal(np.asarray(out), [1, 1])
    out, _ = f(one, one)
    np.testing.assert_array_equal(np.asarray(out), [2, 2])
    assert f.trace_count == 2


def test_strided_and_converted_arguments_after_a_contiguous_one():
    """The call path accepts an array object as is once it has checked it; another object of
    the same shape and dtype is checked again (a strided view is copied, its values used)."""
    f = kn.jit(lambda x: x * 2.0 + 1.0)
    base = np.arange(32, dtype=np.float32)
    a = base[:16].copy()
    np.testing.assert_array_equal(np.asarray(f(a)), a * 2 + 1)
    strided = base[::2]
    assert not strided.flags.c_contiguous
    np.testing.assert_array_equal(np.asarray(f(strided)), strided * 2 + 1)
    a[:] = 7.0  # the same object with new values
    np.testing.assert_array_equal(np.asarray(f(a)), np.full(16, 15.0, np.float32))
    np.testing.assert_array_equal(np.asarray(f(kn.asarray(strided))), strided * 2 + 1)
