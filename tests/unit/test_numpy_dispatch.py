"""NumPy's functions on kiln arrays: np.sum/mean/max/min/prod/argmax/argmin/std/var call the
kn.Array method of the same name with NumPy's keywords; the result is computed by kiln (a
kn.Array), equals NumPy's, and `out=` writes into the given array. Also the keywords inside
kn.jit (on traced tensors) and through kn.sum & co."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn

REDUCTIONS = [np.sum, np.mean, np.max, np.min, np.prod, np.argmax, np.argmin, np.std, np.var, np.amax,
              np.amin]
X = np.array([[3.0, -1.0, 4.0, 1.0], [-5.0, 9.0, 2.0, 6.0], [5.0, -3.0, 5.0, 8.0]])
MASK = X > 0
KEYWORDS = [{}, {"axis": 0}, {"axis": 1}, {"axis": -1, "keepdims": True}, {"axis": (0, 1)},
            {"keepdims": True}]


def _same(got, want) -> None:
    assert isinstance(got, kn.Array), type(got)
    assert np.shape(got) == np.shape(want)
    assert np.asarray(got).dtype == np.asarray(want).dtype, (np.asarray(got).dtype, np.asarray(want).dtype)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


@pytest.mark.parametrize("kw", KEYWORDS, ids=str)
@pytest.mark.parametrize("fn", REDUCTIONS, ids=lambda f: f.__name__)
def test_numpy_reduction_of_a_kiln_array_is_computed_by_kiln(fn, kw) -> None:
    if fn in (np.argmax, np.argmin) and isinstance(kw.get("axis"), tuple):
        pytest.skip("NumPy's argmax takes one axis")
    _same(fn(kn.asarray(X), **kw), fn(X, **kw))


@pytest.mark.parametrize("fn", [np.sum, np.mean, np.std, np.var, np.prod])
def test_dtype_keyword(fn) -> None:
    ints = np.arange(1, 7, dtype=np.int32).reshape(2, 3)
    for d in (np.float32, np.float64):
        got = fn(kn.asarray(ints), axis=0, dtype=d)
        _same(got, fn(ints, axis=0, dtype=d))


@pytest.mark.parametrize("fn", [np.sum, np.mean, np.std, np.var, np.prod])
@pytest.mark.parametrize("axis", [None, 0, 1])
def test_where_mask(fn, axis) -> None:
    _same(fn(kn.asarray(X), axis=axis, where=MASK), fn(X, axis=axis, where=MASK))


@pytest.mark.parametrize("fn", [np.max, np.min, np.sum, np.prod])
def test_initial_with_and_without_where(fn) -> None:
    a = kn.asarray(X)
    _same(fn(a, axis=1, initial=4.5), fn(X, axis=1, initial=4.5))
    _same(fn(a, axis=0, initial=4.5, where=MASK), fn(X, axis=0, initial=4.5, where=MASK))
    empty = np.zeros((0, 3))
    if fn in (np.max, np.min):
        _same(fn(kn.asarray(empty), axis=0, initial=-2.0), fn(empty, axis=0, initial=-2.0))


def test_where_without_initial_on_max_is_numpys_error() -> None:
    with pytest.raises(ValueError, match="initial"):
        np.max(kn.asarray(X), where=MASK)


def test_ddof_and_correction() -> None:
    a = kn.asarray(X)
    _same(np.std(a, axis=0, ddof=1), np.std(X, axis=0, ddof=1))
    _same(np.var(a, ddof=2), np.var(X, ddof=2))
    _same(np.var(a, axis=1, correction=1), np.var(X, axis=1, correction=1))
    with pytest.raises(TypeError, match="mean="):
        np.std(a, mean=np.zeros(()))


@pytest.mark.parametrize("fn", REDUCTIONS, ids=lambda f: f.__name__)
def test_out_writes_into_the_given_array(fn) -> None:
    want = fn(X, axis=0)
    out = np.full(np.shape(want), -7, dtype=np.asarray(want).dtype)
    got = fn(kn.asarray(X), axis=0, out=out)
    assert got is out
    np.testing.assert_allclose(out, want, rtol=1e-12)
    target = kn.asarray(np.zeros_like(out))
    assert fn(kn.asarray(X), axis=0, out=target) is target
    np.testing.assert_allclose(np.asarray(target), want, rtol=1e-12)


def test_out_errors_are_clear() -> None:
    a = kn.asarray(X)
    with pytest.raises(ValueError, match=r"sum: out= has shape \(3,\), but the result has shape \(4,\)"):
        np.sum(a, axis=0, out=np.zeros(3))
    with pytest.raises(TypeError, match="mean: cannot write a float64 result into out= of dtype int64"):
        np.mean(a, axis=0, out=np.zeros(4, np.int64))
    with pytest.raises(TypeError, match="out= must be a NumPy array"):
        a.max(out=[0.0])


def test_numpy_reductions_of_traced_tensors_inside_jit() -> None:
    @kn.jit
    def f(x):
        return (np.sum(x, axis=0) + np.std(x, axis=0, ddof=1) + np.max(x, axis=0, where=x > 0, initial=0.0)
                + np.mean(x, axis=0, where=x > 0) + np.argmax(x, axis=0))
    want = (X.sum(0) + X.std(0, ddof=1) + np.max(X, axis=0, where=MASK, initial=0.0) + X.mean(0, where=MASK)
            + X.argmax(0))
    np.testing.assert_allclose(np.asarray(f(X)), want, rtol=1e-12)
    with pytest.raises(kn.TraceError, match="out="):
        kn.jit(lambda x: np.sum(x, out=np.zeros(())))(X)


def test_kiln_functions_take_the_same_keywords() -> None:
    _same(kn.sum(X, axis=0, where=MASK, initial=1.0), np.sum(X, axis=0, where=MASK, initial=1.0))
    _same(kn.max(X, axis=1, initial=6.0), np.max(X, axis=1, initial=6.0))
    _same(kn.mean(X, where=MASK), np.mean(X, where=MASK))
    _same(kn.std(X, axis=1), np.std(X, axis=1))
    _same(kn.var(X.astype(np.int32)), np.var(X.astype(np.int32)))


def test_variables_answer_numpy_reductions_too() -> None:
    v = kn.Variable(X)
    _same(np.sum(v, axis=1), np.sum(X, axis=1))
    _same(np.std(v), np.std(X))


def test_asarray_stays_a_zero_copy_view() -> None:
    a = kn.asarray(X.copy())
    assert np.shares_memory(np.asarray(a), a.data)
