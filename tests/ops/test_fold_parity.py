"""Constant folding and compiled code agree for every registry op: the same values on valid
inputs, and the same kiln error (never a raw NumPy exception) on out-of-range indices.

Each op is called once with its inputs as arguments (compiled kernels) and once with the
same inputs closed over (constants, folded through the op's NumPy reference).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiln as kn
from kiln.frontend.core import apply, lift
from kiln.ir.opdef import REGISTRY

from grad.cases import CASES as GRAD_CASES  # tests/ is on sys.path (rootdir of the ops package)
from .cases import CASES as OP_CASES


def _check_index_case(data, rng):
    """One bound (labels, or a take's axis), or one per entry of index rows (gather_nd's)."""
    negative = data.draw(st.booleans())
    if negative and data.draw(st.booleans()):
        bound = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
        rows = data.draw(st.integers(0, 3))
        idx = np.stack([rng.integers(-n, n, size=rows) for n in bound], -1)
        return [idx.astype(np.int64)], {"bound": bound, "negative": True, "axis": None, "caller": "gather_nd"}
    bound = data.draw(st.integers(1, 5))
    idx = rng.integers(-bound if negative else 0, bound, size=data.draw(st.integers(0, 4)))
    attrs = {"bound": bound, "negative": negative, "axis": 0 if negative else None, "caller": "loss"}
    return [idx.astype(data.draw(st.sampled_from([np.int32, np.int64])))], attrs


def _skipped(name: str) -> bool:
    """Ops folding never sees: sources of values, random bits, effects."""
    op = REGISTRY[name]
    return op.ref is None or bool(op.traits & {"random", "effectful", "creation"}) or name == "assign"


def _direct(name: str):
    """A drawer of (inputs, attrs) for a direct call of registry op `name`, or None."""
    if name in GRAD_CASES:
        return lambda data, rng: (lambda d: (d.inputs, d.attrs))(GRAD_CASES[name](data, rng))
    return {"check_index": _check_index_case}.get(name)


def _public(name: str):
    return next((c for c in OP_CASES.values() if c.op == name and c.kind != "random" and not c.data_dependent),
                None)


FOLDABLE = sorted(n for n in REGISTRY if not _skipped(n))


def test_every_foldable_op_has_inputs() -> None:
    missing = [n for n in FOLDABLE if _direct(n) is None and _public(n) is None]
    assert not missing, f"registry ops without a fold-parity drawer: {missing}"


def _both(call, args: list) -> tuple:
    """(compiled, folded) results of call(*args): arguments vs closed-over constants."""
    compiled = kn.jit(lambda *xs: call(*xs))(*args)
    folded = kn.jit(lambda: call(*[kn.asarray(a) if isinstance(a, np.ndarray) else a for a in args]))()
    return compiled, folded


def _same(a, b, name: str) -> None:
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (name, a.shape, b.shape, a.dtype, b.dtype)
    if a.dtype.kind == "f":  # kiln's own exp/log/tanh vs NumPy's: a few ulps apart
        np.testing.assert_allclose(a, b, rtol=1e-5 if a.dtype == np.float32 else 1e-12, atol=1e-30,
                                   equal_nan=True, err_msg=name)
    else:
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize("name", FOLDABLE)
@settings(max_examples=3, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), seed=st.integers(0, 2**31 - 1))
def test_folded_equals_compiled(name: str, data, seed: int) -> None:
    rng = np.random.default_rng(seed)
    direct = _direct(name)
    if direct is not None:
        inputs, attrs = direct(data, rng)
        call = lambda *xs: apply(name, [lift(x) for x in xs], **attrs)  # noqa: E731
    else:
        case = _public(name)
        ex = case.draw(data)
        inputs = list(ex.args)
        if any(isinstance(a, list) for a in inputs):
            pytest.skip("list operands are not closed over as one constant")
        call = lambda *xs: case.call(*xs, **ex.static)  # noqa: E731
    compiled, folded = _both(call, [np.asarray(x) for x in inputs])
    for a, b in zip(*(x if isinstance(x, (list, tuple)) else [x] for x in (compiled, folded))):
        _same(a, b, name)


CHECKED = sorted(n for n, op in REGISTRY.items() if "mode" in op.attrs or n == "check_index")
BAD = {  # (inputs, attrs) with one index out of range
    "take": ([np.arange(6.).reshape(2, 3), np.array([[0, 1], [3, -1]])], {"axis": 1, "mode": "raise"}),
    "gather_nd": ([np.arange(6.).reshape(2, 3), np.array([[1, 2], [-3, 0]])], {"mode": "raise"}),
    "scatter_nd": ([np.array([[0], [-1], [2]]), np.ones(3)], {"shape": (2,), "mode": "raise"}),
    "check_index": ([np.array([0, 2, 1], np.int32)], {"bound": 2, "negative": False, "axis": None,
                                                      "caller": "loss"}),
}


def test_every_checked_op_has_a_bad_case() -> None:
    assert set(CHECKED) == set(BAD)


@pytest.mark.parametrize("name", CHECKED)
def test_folded_and_compiled_raise_the_same_error(name: str) -> None:
    inputs, attrs = BAD[name]
    call = lambda *xs: apply(name, [lift(x) for x in xs], **attrs)  # noqa: E731
    errors = []
    for run in (lambda: kn.jit(call)(*inputs), lambda: kn.jit(lambda: call(*map(kn.asarray, inputs)))(),
                lambda: call(*inputs)):
        with pytest.raises(IndexError) as e:
            run()
        assert isinstance(e.value, kn.KilnError), type(e.value)
        errors.append(str(e.value).split(" (at ")[0])
    assert errors[0] == errors[1] == errors[2], errors
    assert "out of" in errors[0] and name in errors[0] or "loss" in errors[0]
