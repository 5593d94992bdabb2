"""Every case of tests/ops/cases.py against NumPy, eagerly and under `kn.jit`.

Environment knobs: KILN_OPS_SCALE multiplies every case's max_examples (default 1.0);
KILN_OPS_RANDOM=1 draws fresh examples instead of the fixed (derandomized) ones;
KILN_OPS_LAYOUTS=C,F,strided,reversed restricts the memory layouts inputs are passed in.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from .cases import CASES
from .harness import Case, Example, as_list, compare, kn, reference, upcast

DEFAULT_EXAMPLES = 20
SCALE = float(os.environ.get("KILN_OPS_SCALE", "1.0"))
RANDOM = os.environ.get("KILN_OPS_RANDOM", "0") == "1"


def _settings(case: Case) -> settings:
    n = max(1, round((case.examples or DEFAULT_EXAMPLES) * SCALE))
    return settings(max_examples=n, deadline=None, derandomize=not RANDOM, database=None,
                    suppress_health_check=list(HealthCheck), print_blob=RANDOM)


LAYOUTS = tuple(os.environ.get("KILN_OPS_LAYOUTS", "C,F,strided,reversed").split(","))


def relayout(x, layout: str):
    """The same values in another memory layout (kiln must honour NumPy strides or copy)."""
    if isinstance(x, list):
        return [relayout(v, layout) for v in x]
    if not isinstance(x, np.ndarray) or x.ndim == 0 or layout == "C":
        return x
    if layout == "F":
        return np.asfortranarray(x)
    if layout == "strided":  # every other element of a buffer twice as long in the last dim
        buf = np.zeros(x.shape[:-1] + (2 * x.shape[-1],), x.dtype)
        buf[..., ::2] = x
        return buf[..., ::2]
    return np.ascontiguousarray(x[::-1])[::-1]  # negative stride along axis 0


INPUT_KINDS = ("ndarray", "Array", "Variable")


def as_kiln(x, kind: str):
    """The same input as an ndarray, a kn.Array or a (non-trainable) kn.Variable, recursively."""
    if isinstance(x, list):
        return [as_kiln(v, kind) for v in x]
    if not isinstance(x, np.ndarray) or kind == "ndarray":
        return x
    return kn.asarray(x) if kind == "Array" else kn.Variable(x, trainable=False)


def _expected(case: Case, ex: Example):
    """(float64 refs, exact refs, dtypes, scales) per output, and whether the op is multi-output."""
    wide, exact = reference(case.ref, ex)
    wides, multi = as_list(wide)
    exacts, _ = as_list(exact)
    dt = case.dtype(ex) if case.dtype else None
    dtypes = [np.asarray(e).dtype for e in exacts] if dt is None else [np.dtype(dt)] * len(wides)
    scales = [None] * len(wides)
    if case.scale is not None:
        with np.errstate(all="ignore"):
            scales = [case.scale(*upcast(ex.args), **ex.static)]
    return wides, exacts, dtypes, scales, multi


def check_result(case: Case, ex: Example, got, mode: str) -> None:
    """The kiln result of one call vs the NumPy reference (or the case's own statistical check)."""
    outs, got_multi = as_list(got)
    for g in outs:
        assert isinstance(g, kn.Array), f"{mode}: result is a {type(g).__name__}, expected kn.Array"
    if case.check is not None:
        case.check(ex, got, mode)
        return
    wides, exacts, dtypes, scales, multi = _expected(case, ex)
    want = "a sequence" if multi else "one array"
    assert got_multi == multi, f"{mode}: got {type(got).__name__}, expected {want}"
    assert len(outs) == len(wides), f"{mode}: {len(outs)} outputs, expected {len(wides)}"
    for i, (g, w, e, d, s) in enumerate(zip(outs, wides, exacts, dtypes, scales)):
        where = f"{case.name} {mode}" + (f" output {i}" if multi else "")
        compare(g, w, e, d, case.tol, s, case.atol, where)


def run_eager(case: Case, ex: Example, input_kind: str) -> None:
    args = tuple(as_kiln(a, input_kind) for a in ex.args)
    if case.kind == "random":
        kn.random.seed(ex.static["seed"])
    got = case.call(*args, **ex.static)
    check_result(case, ex, got, "eager")


def run_jit(case: Case, ex: Example, input_kind: str) -> None:
    static = ex.static
    args = tuple(as_kiln(a, input_kind) for a in ex.args)

    def fn(*traced):
        return case.call(*traced, **static)

    f = kn.jit(fn)
    if case.data_dependent:
        with pytest.raises(kn.ShapeError) as info:
            f(*args)
        assert case.op in str(info.value), f"ShapeError does not name the op {case.op}: {info.value}"
        return
    if case.kind == "random":
        kn.random.seed(static["seed"])
    got = f(*args)
    first = [np.array(g, copy=True) for g in as_list(got)[0]]
    check_result(case, ex, got, "jit")
    again = f(*args)
    check_result(case, ex, again, "jit, cached second call")
    for g, snap in zip(as_list(got)[0], first):
        assert np.array_equal(np.asarray(g), snap, equal_nan=True), \
            "jit: the first call's result changed when the function was called again (shared buffer)"
    if case.kind == "random":
        a, b = np.asarray(got), np.asarray(again)
        p = static.get("p", 0.5)
        if a.size >= 64 and 0 < p < 1:
            assert not np.array_equal(a, b), "jit: a compiled random function drew the same numbers twice"


def _run(case: Case, mode: str) -> None:
    @_settings(case)
    @given(data=st.data())
    def inner(data):
        ex = case.draw(data)
        layout = data.draw(st.sampled_from(LAYOUTS), label="memory_layout")
        ex = Example(tuple(relayout(a, layout) for a in ex.args), ex.static)
        note(f"{case.name} [{mode}] {ex.describe()}")
        # operator/method cases wrap ndarrays themselves (NumPy's own operators would run otherwise)
        # jit arguments are arrays (Variables are captured state, not arguments)
        kinds = INPUT_KINDS[:1] if case.kind != "function" else INPUT_KINDS[:3 if mode == "eager" else 2]
        input_kind = data.draw(st.sampled_from(kinds), label="input_kind")
        if mode == "eager":
            run_eager(case, ex, input_kind)
        else:
            run_jit(case, ex, input_kind)

    inner()


@pytest.mark.parametrize("name", list(CASES))
def test_eager(name: str) -> None:
    _run(CASES[name], "eager")


@pytest.mark.parametrize("name", list(CASES))
def test_jit(name: str) -> None:
    _run(CASES[name], "jit")


# --- random streams ---------------------------------------------------------------------------

@pytest.mark.parametrize("dist", ["normal", "uniform", "truncated_normal"])
def test_random_same_seed_same_stream_eager_and_jit(dist: str) -> None:
    draw = getattr(kn.random, dist)
    kn.random.seed(1234)
    eager = np.asarray(draw((3, 5)))
    kn.random.seed(1234)
    compiled = np.asarray(kn.jit(lambda: draw((3, 5)))())
    np.testing.assert_array_equal(eager, compiled)
    kn.random.seed(1234)
    np.testing.assert_array_equal(np.asarray(draw((3, 5))), eager)  # reseeding restarts the stream
    assert not np.array_equal(np.asarray(draw((3, 5))), eager)  # ... and the stream moves on


# --- kn.Array / kn.Tensor protocol ------------------------------------------------------------

def test_array_protocol() -> None:
    a = kn.add(np.arange(6, dtype=np.float32).reshape(2, 3), 1.0)
    assert isinstance(a, kn.Array)
    assert a.shape == (2, 3) and a.ndim == 2 and a.dtype == kn.float32
    v = np.asarray(a)
    assert v.dtype == np.float32 and np.shares_memory(v, np.asarray(a)), "np.asarray(Array) is not zero-copy"
    assert isinstance(a.numpy(), np.ndarray)
    np.testing.assert_array_equal(a.numpy(), np.arange(1, 7, dtype=np.float32).reshape(2, 3))
    assert len(a) == 2
    rows = [np.asarray(r) for r in a]
    np.testing.assert_array_equal(rows[1], [4, 5, 6])
    assert float(kn.sum(a)) == 21.0
    assert "6" in str(a) and "6" in repr(a)


def test_tensor_attributes_under_jit() -> None:
    seen = {}

    @kn.jit
    def f(x, y):
        seen.update(shape=x.shape, ndim=x.ndim, dtype=x.dtype, tshape=x.T.shape, ydtype=y.dtype)
        return x.T

    out = f(np.zeros((2, 3, 4), np.float64), np.zeros((), np.int32))
    assert seen == {"shape": (2, 3, 4), "ndim": 3, "dtype": kn.float64, "tshape": (4, 3, 2),
                    "ydtype": kn.int32}
    assert isinstance(out, kn.Array) and out.shape == (4, 3, 2)


def test_jit_scalar_argument_does_not_retrace() -> None:
    """Python scalars are traced as weak scalars: a new value reuses the compiled code."""
    calls = []

    @kn.jit
    def f(x, s):
        calls.append(1)
        return x * s

    x = np.arange(4, dtype=np.float32)
    for s in (2.0, 3.5, -1.0):
        out = f(x, s)
        assert np.asarray(out).dtype == np.float32
        np.testing.assert_allclose(np.asarray(out), x * np.float32(s))
    assert len(calls) == 1, f"traced {len(calls)} times for three float scalars"
