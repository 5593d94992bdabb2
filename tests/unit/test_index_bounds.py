"""Indices checked like NumPy: IndexError naming op, index, bound and line, eagerly and
compiled (at trace time when the indices are constants); JAX's clip/fill modes; invalid
index types refused; Variables untouched by a call that fails; eager indexing compiles one
graph for every index value."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import kiln as kn
from kiln.frontend import trace

X = np.arange(12.0).reshape(4, 3)


def _line() -> int:
    return sys._getframe(1).f_lineno


@pytest.mark.parametrize("call", [
    lambda x, i: kn.take(x, i, axis=0),
    lambda x, i: x[i],
    lambda x, i: kn.gather_nd(x, kn.reshape(i, (-1, 1))),
])
@pytest.mark.parametrize("bad", [4, -5, 10**12])
def test_out_of_range_raises_eagerly_and_compiled(call, bad: int) -> None:
    idx = np.array([0, bad, 1])
    for run in (lambda: call(kn.asarray(X), idx), lambda: kn.jit(call)(X, idx),
                lambda: kn.jit(lambda: call(kn.asarray(X), kn.asarray(idx)))()):
        with pytest.raises(IndexError, match=rf"index {bad} is out of bounds for axis 0 with size 4 \(at "):
            run()
    for ok in (call(kn.asarray(X), np.array([-4, 3])), kn.jit(call)(X, np.array([-4, 3]))):
        np.testing.assert_array_equal(np.asarray(ok).reshape(2, 3), X[[-4, 3]])


def test_error_names_the_users_line() -> None:
    f = kn.jit(lambda x, i: x[i])
    with pytest.raises(IndexError) as e:
        f(X, np.int32(9))
    assert str(e.value).startswith("take: index 9 is out of bounds for axis 0 with size 4")
    assert "test_index_bounds.py:" in str(e.value)
    line = _line() + 2
    with pytest.raises(IndexError, match=rf"test_index_bounds.py:{line}\)"):
        kn.take(X, [7], axis=1)


def test_scatter_nd_raises_and_drops_on_request() -> None:
    idx, upd = np.array([[0], [-1], [5]]), np.ones(3)
    with pytest.raises(IndexError, match="scatter_nd: index 5 is out of bounds for axis 0 with size 3"):
        kn.scatter_nd(idx, upd, (3,))
    with pytest.raises(IndexError, match="index 5"):
        kn.jit(lambda i, u: kn.scatter_nd(i, u, (3,)))(idx, upd)
    np.testing.assert_array_equal(kn.scatter_nd(idx, upd, (3,), mode="drop"), [1, 0, 1])
    np.testing.assert_array_equal(kn.scatter_nd(idx[:2], upd[:2], (3,)), [1, 0, 1])  # -1 is the last


@pytest.mark.parametrize("mode", ["clip", "wrap"])
def test_numpy_modes(mode: str) -> None:
    idx = np.array([[0, -1], [7, -9]])
    want = np.take(X, idx, axis=1, mode=mode)
    np.testing.assert_array_equal(kn.take(X, idx, axis=1, mode=mode), want)
    np.testing.assert_array_equal(kn.jit(lambda x, i: kn.take(x, i, axis=1, mode=mode))(X, idx), want)


def test_fill_mode_follows_jax() -> None:
    idx = np.array([0, -1, 3, -4])
    np.testing.assert_array_equal(kn.take(np.arange(3.0), idx, mode="fill"), [0, 2, np.nan, np.nan])
    ints = kn.jit(lambda i: kn.take(np.arange(3, dtype=np.int32), i, mode="fill"))(idx)
    np.testing.assert_array_equal(ints, [0, 2, np.iinfo(np.int32).min, np.iinfo(np.int32).min])
    np.testing.assert_array_equal(kn.take(np.arange(3.0), idx, mode="fill", fill_value=-1), [0, 2, -1, -1])
    np.testing.assert_array_equal(kn.gather_nd(X, np.array([[1, 1], [4, 0]]), mode="fill"), [4, np.nan])


def test_sparse_ce_labels_checked_in_a_training_step() -> None:
    w = kn.Variable(np.ones((3, 4), np.float32))

    @kn.jit
    def step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.sparse_softmax_cross_entropy(x @ w, y)
        w.assign(w - 0.1 * tape.gradient(loss, [w])[0])
        return loss
    x = np.ones((2, 3), np.float32)
    step(x, np.array([0, 3]))
    before = w.numpy().copy()
    with pytest.raises(IndexError, match="label -7 is out of range"):
        step(x, np.array([0, -7]))
    np.testing.assert_array_equal(w.numpy(), before)  # the failed call wrote no Variable


def test_variables_left_as_found_when_a_call_fails() -> None:
    v = kn.Variable(np.zeros(3))
    table = kn.Variable(np.arange(5.0))

    @kn.jit
    def f(i):
        v.assign(v + 1.0)
        table.assign(table + kn.take(table, i))
        return v
    f(np.array([0, 1, 2, 3, 4]))
    v0, t0 = v.numpy().copy(), table.numpy().copy()
    with pytest.raises(IndexError, match="index 5 is out of bounds"):
        f(np.array([0, 1, 5, 3, 4]))
    np.testing.assert_array_equal(v.numpy(), v0)
    np.testing.assert_array_equal(table.numpy(), t0)


@pytest.mark.parametrize("key, error", [
    (1.5, IndexError), ((0, 1.0), IndexError), (np.float32(2), IndexError), (True, IndexError),
    (np.array([1.0]), IndexError), ([0.5, 1], IndexError), (slice(0.5, 2), TypeError),
])
def test_invalid_index_types(key, error) -> None:
    for x in (kn.asarray(X), None):
        with pytest.raises(error):
            if x is None:
                kn.jit(lambda a: a[key])(X)
            else:
                x[key]
    with pytest.raises(TypeError):
        kn.take(X, [1.5])


def test_boolean_mask_index() -> None:
    np.testing.assert_array_equal(kn.asarray(X)[X[:, 0] > 3], X[X[:, 0] > 3])


def test_eager_rows_share_one_graph() -> None:
    a = kn.asarray(np.arange(3000.0).reshape(1000, 3))
    before = len(trace._EAGER)
    t0 = time.perf_counter()
    rows = [r for r in a]
    np.testing.assert_array_equal(np.stack([np.asarray(r) for r in rows]), a.data)
    for i in range(0, 990, 7):  # slices with moving starts, steps, and negative ints
        np.testing.assert_array_equal(a[i:i + 10:3, ::-1], a.data[i:i + 10:3, ::-1])
        np.testing.assert_array_equal(a[-i - 1, 1], a.data[-i - 1, 1])
    assert len(trace._EAGER) - before <= 8
    assert time.perf_counter() - t0 < 10


def test_bad_index_in_threaded_kernel_never_crashes() -> None:
    """A large gather split over threads, every index bad and far out: an IndexError, no signal."""
    code = textwrap.dedent("""
        import numpy as np, kiln as kn
        x = np.ones((1 << 12, 64), np.float32)
        idx = np.full(1 << 12, 1 << 40)
        f = kn.jit(lambda x, i: kn.take(x, i, axis=0) * 2)
        for _ in range(3):
            try:
                f(x, idx)
            except IndexError as e:
                assert "index 1099511627776 is out of bounds for axis 0 with size 4096" in str(e), e
            else:
                raise SystemExit("no error")
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "KILN_NUM_THREADS": "4"})
    assert out.returncode == 0 and "ok" in out.stdout, (out.returncode, out.stderr[-2000:])


@pytest.mark.parametrize("bad, axis, size", [([[0, 1], [2, 4]], 1, 4), ([[3, 0]], 0, 3), ([[0, -5], [-4, 0]], 1, 4)])
def test_index_rows_checked_per_axis(bad, axis: int, size: int) -> None:
    """gather_nd/scatter_nd rows: entry d of an index row is checked against axis d."""
    p = np.arange(60.0).reshape(3, 4, 5)
    good = np.array([[0, 1], [-3, 3], [2, -4]])
    np.testing.assert_array_equal(kn.jit(kn.gather_nd)(p, good), p[tuple(good.T)])
    value = next(v for row in bad for d, v in enumerate(row) if d == axis and not -size <= v < size)
    want = rf"index {value} is out of bounds for axis {axis} with size {size}"
    for run in (lambda i: kn.gather_nd(p, i), lambda i: kn.jit(kn.gather_nd)(p, i),
                lambda i: kn.jit(lambda: kn.gather_nd(kn.asarray(p), kn.asarray(i)))(),
                lambda i: kn.jit(lambda i: kn.scatter_nd(i, np.ones((len(i), 5)), (3, 4, 5)))(i)):
        with pytest.raises(IndexError, match=want):
            run(np.array(bad))


def test_eager_indexing_is_differentiable_on_a_tape() -> None:
    v = kn.Variable(np.arange(12.0).reshape(4, 3))
    with kn.GradientTape() as tape:
        y = kn.sum(v[1:4:2, ::-1] * 2.0) + v[-1, 0] * 10
    want = np.zeros((4, 3))
    want[1:4:2] = 2.0
    want[-1, 0] += 10
    np.testing.assert_array_equal(tape.gradient(y, [v])[0], want)
