"""Textual IR round trip: for many traced graphs, `print(parse(text)) == text`, and the parsed
graph compiles to code that computes exactly what the original graph's code computes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

import kiln as kn
from kiln.errors import KilnError
from kiln.frontend import compile as kcompile
from kiln.frontend import random as krandom
from kiln.ir.parser import parse
from kiln.ir.printer import print_graph
from kiln.ir.verify import verify
from kiln.runtime.cache import CodeCache

RNG = np.random.default_rng(1234)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def f64(*shape):
    return RNG.standard_normal(shape)


def i32(*shape, lo=-5, hi=6):
    return RNG.integers(lo, hi, size=shape).astype(np.int32)


def i64(*shape, lo=-5, hi=6):
    return RNG.integers(lo, hi, size=shape).astype(np.int64)


@dataclass
class Case:
    """One traced function: `make()` returns (jitted fn, args, Variables it captures)."""

    name: str
    make: Callable[[], tuple[Any, tuple, list]]
    ref: Callable[..., Any] | None = None  # NumPy reference of the outputs (flattened list)
    rtol: float = 1e-5


CASES: list[Case] = []


def case(name: str, ref: Callable | None = None, rtol: float = 1e-5):
    def deco(make):
        CASES.append(Case(name, make, ref, rtol))
        return make
    return deco


# --- elementwise, broadcasting, Python scalars ----------------------------------------------

@case("broadcast_arith", ref=lambda x, y: [x * 2.0 + y - 1.5, (x / (y + 10.0)) ** 2])
def _():
    @kn.jit
    def f(x, y):
        return x * 2.0 + y - 1.5, (x / (y + 10.0)) ** 2
    return f, (f32(2, 3), f32(3)), []


@case("broadcast_3d_both_sides", ref=lambda x, y: [np.maximum(x, y) - np.minimum(x, y)])
def _():
    @kn.jit
    def f(x, y):
        return kn.maximum(x, y) - kn.minimum(x, y)
    return f, (f32(4, 1, 3), f32(2, 1)), []


@case("python_scalar_arg_weak", ref=lambda x, s: [x * np.float32(s) + 1])
def _():
    @kn.jit
    def f(x, s):
        return x * s + 1
    return f, (f32(5), 2.5), []


@case("int_arith_floor_mod", ref=lambda a, b: [a // b, a % b, -a, np.abs(a) * 3])
def _():
    @kn.jit
    def f(a, b):
        return a // b, a % b, -a, abs(a) * 3
    return f, (i32(3, 4), i32(4, lo=1, hi=5)), []


@case("transcendental", ref=lambda x: [np.exp(x) + np.sin(x) * np.cos(x) - np.tanh(x),
                                       np.log1p(np.abs(x)) + np.sqrt(np.abs(x))], rtol=1e-4)
def _():
    @kn.jit
    def f(x):
        return kn.exp(x) + kn.sin(x) * kn.cos(x) - kn.tanh(x), kn.log1p(kn.abs(x)) + kn.sqrt(kn.abs(x))
    return f, (f32(3, 5),), []


@case("compare_logical", ref=lambda x, y: [np.logical_and(x > y, ~(x == 0)) | (x <= -1.0),
                                           np.logical_not(x != y)])
def _():
    @kn.jit
    def f(x, y):
        return kn.logical_and(x > y, ~(x == 0)) | (x <= -1.0), kn.logical_not(x != y)
    return f, (f32(2, 4), f32(4)), []


@case("floor_ceil_sign_square", ref=lambda x: [np.floor(x) + np.ceil(x), np.sign(x) * np.square(x)])
def _():
    @kn.jit
    def f(x):
        return kn.floor(x) + kn.ceil(x), kn.sign(x) * kn.square(x)
    return f, (f64(7) * 3,), []


# --- reductions -------------------------------------------------------------------------------

@case("reductions_axes_keepdims",
      ref=lambda x: [x.sum(axis=1), x.max(axis=(0, 2), keepdims=True), x.min(),
                     x.mean(axis=-1, keepdims=True),
                     x.prod(axis=0)], rtol=1e-5)
def _():
    @kn.jit
    def f(x):
        return x.sum(axis=1), x.max(axis=(0, 2), keepdims=True), x.min(), x.mean(axis=-1, keepdims=True), \
            kn.prod(x, axis=0)
    return f, (f32(2, 3, 4),), []


@case("int_and_bool_sum", ref=lambda x: [x.sum(axis=0), (x > 0).sum(), x.sum(keepdims=True)])
def _():
    @kn.jit
    def f(x):
        return x.sum(axis=0), (x > 0).sum(), x.sum(keepdims=True)
    return f, (i32(4, 3),), []


@case("argmax_argmin", ref=lambda x: [np.argmax(x, axis=1), np.argmin(x), np.argmax(x, axis=0)])
def _():
    @kn.jit
    def f(x):
        return kn.argmax(x, axis=1), kn.argmin(x), x.argmax(axis=0)
    return f, (f32(4, 6),), []


@case("logsumexp", ref=lambda x: [np.log(np.exp(x).sum(axis=-1))], rtol=1e-4)
def _():
    @kn.jit
    def f(x):
        return kn.logsumexp(x, axis=-1)
    return f, (f32(3, 8),), []


# --- linear algebra ---------------------------------------------------------------------------

@case("matmul_2d_and_vector", ref=lambda a, b, v: [a @ b, a @ v, v @ a.T], rtol=1e-4)
def _():
    @kn.jit
    def f(a, b, v):
        return a @ b, kn.matmul(a, v), v @ a.T
    return f, (f32(3, 4), f32(4, 5), f32(4)), []


@case("matmul_batched_broadcast", ref=lambda a, b: [np.matmul(a, b)], rtol=1e-4)
def _():
    @kn.jit
    def f(a, b):
        return kn.matmul(a, b)
    return f, (f32(2, 1, 3, 4), f32(5, 4, 2)), []


# --- shape manipulation -----------------------------------------------------------------------

@case("reshape_transpose_expand_squeeze",
      ref=lambda x: [x.reshape(3, -1).T, np.expand_dims(x, 1).squeeze(), np.transpose(x, (2, 0, 1))])
def _():
    @kn.jit
    def f(x):
        return x.reshape(3, -1).T, kn.squeeze(kn.expand_dims(x, 1)), kn.transpose(x, (2, 0, 1))
    return f, (f32(3, 2, 4),), []


@case("basic_indexing", ref=lambda x: [x[1], x[-1, ::-2], x[None, ..., 1:3], x[:, 1::2, None], x[0, 2, -1]])
def _():
    @kn.jit
    def f(x):
        return x[1], x[-1, ::-2], x[None, ..., 1:3], x[:, 1::2, None], x[0, 2, -1]
    return f, (f32(3, 5, 4),), []


@case("concatenate_stack",
      ref=lambda a, b: [np.concatenate([a, b, a], axis=1), np.stack([a, a * 2], axis=-1)])
def _():
    @kn.jit
    def f(a, b):
        return kn.concatenate([a, b, a], axis=1), kn.stack([a, a * 2], axis=-1)
    return f, (f32(2, 3), f32(2, 1)), []


@case("split_unstack", ref=lambda x: [*np.split(x, 2, axis=1), *np.split(x, [1, 3], axis=0), x[:, 0]])
def _():
    @kn.jit
    def f(x):
        a, b = kn.split(x, 2, axis=1)
        c, d, e = kn.split(x, [1, 2, 1], axis=0)
        return a, b, c, d, e, kn.unstack(x, axis=1)[0]
    return f, (f32(4, 6),), []


@case("pad_tile_broadcast_to",
      ref=lambda x: [np.pad(x, ((1, 2), (0, 1)), constant_values=-3.0), np.tile(x, (2, 3)),
                     np.broadcast_to(x, (4, 2, 3))])
def _():
    @kn.jit
    def f(x):
        return (kn.pad(x, ((1, 2), (0, 1)), constant_values=-3.0), kn.tile(x, (2, 3)),
                kn.broadcast_to(x, (4, 2, 3)))
    return f, (f32(2, 3),), []


# --- gather / scatter -------------------------------------------------------------------------

@case("take_axis_and_flat", ref=lambda x, i: [np.take(x, i, axis=1), np.take(x, i), x[i]])
def _():
    @kn.jit
    def f(x, i):
        return kn.take(x, i, axis=1), kn.take(x, i), x[i]
    return f, (f32(3, 4), np.array([2, 0, 2], np.int64)), []


@case("gather_nd_scatter_nd",
      ref=lambda p, idx, upd: [p[idx[:, 0], idx[:, 1]], _scatter_ref(idx, upd, (3, 4))])
def _():
    @kn.jit
    def f(p, idx, upd):
        return kn.gather_nd(p, idx), kn.scatter_nd(idx, upd, (3, 4))
    return f, (f32(3, 4), np.array([[0, 1], [2, 3], [1, 0]], np.int64), f32(3)), []


def _scatter_ref(idx, upd, shape):
    out = np.zeros(shape, upd.dtype)
    for (a, b), u in zip(idx, upd):
        out[a, b] += u
    return out


@case("one_hot", ref=lambda lab: [np.eye(5, dtype=np.float32)[lab], np.eye(5, dtype=np.int32)[lab].sum(0)])
def _():
    @kn.jit
    def f(lab):
        h = kn.one_hot(lab, 5)
        return h, kn.one_hot(lab, 5, dtype=kn.int32).sum(axis=0).astype(kn.int32)
    return f, (np.array([0, 4, 2, 2], np.int32),), []


# --- select / clip / casts --------------------------------------------------------------------

@case("where_clip",
      ref=lambda x, y: [np.where(x > y, x, y * 2), np.clip(x, -0.5, 0.5), np.where(x > 0, 1.0, x)])
def _():
    @kn.jit
    def f(x, y):
        return kn.where(x > y, x, y * 2), kn.clip(x, -0.5, 0.5), kn.where(x > 0, 1.0, x)
    return f, (f32(3, 4), f32(4)), []


@case("astype_across_dtypes",
      ref=lambda x: [x.astype(np.int32), x.astype(np.float64) * 2, (x > 0).astype(np.int64),
                     x.astype(np.int64).astype(np.float32), (x != 0).astype(np.float32)])
def _():
    @kn.jit
    def f(x):
        return x.astype(kn.int32), x.astype("float64") * 2, (x > 0).astype(np.int64), \
            kn.astype(kn.astype(x, kn.int64), kn.float32), (x != 0).astype(kn.float32)
    return f, (f32(6) * 10,), []


@case("float64_and_int64_args", ref=lambda x, n: [x * n, n * 3 - 1, (x + 0.25).astype(np.float32)])
def _():
    @kn.jit
    def f(x, n):
        return x * n, n * 3 - 1, (x + 0.25).astype(kn.float32)
    return f, (f64(4), i64(4)), []


# --- captured constants -----------------------------------------------------------------------

_C_F32 = np.array([[0.1, -2.5e-8, 3e38], [-0.0, 1.0, 7.25]], np.float32)
_C_F64 = np.array([np.pi, -1e-300, 1e300, 0.1], np.float64)
_C_NANINF = np.array([np.nan, np.inf, -np.inf, 1.0], np.float32)
_C_I64 = np.array([2**62, -(2**63), 7, -1], np.int64)
_C_BOOL = np.array([True, False, False, True])


@case("captured_float_constants", ref=lambda x: [x + _C_F32, _C_F64 * 2.0])
def _():
    @kn.jit
    def f(x):
        return x + _C_F32, kn.asarray(_C_F64) * 2.0
    return f, (f32(2, 3),), []


@case("captured_nan_inf", ref=lambda x: [x * _C_NANINF, np.maximum(x, _C_NANINF)])
def _():
    @kn.jit
    def f(x):
        return x * _C_NANINF, kn.maximum(x, _C_NANINF)
    return f, (np.ones(4, np.float32),), []


@case("captured_int64_bool", ref=lambda x: [_C_I64 + x, np.where(_C_BOOL, x, -x), _C_BOOL & (x > 0)])
def _():
    @kn.jit
    def f(x):
        return _C_I64 + x, kn.where(_C_BOOL, x, -x), kn.logical_and(_C_BOOL, x > 0)
    return f, (i64(4),), []


@case("captured_kn_array", ref=lambda x: [x - np.arange(6, dtype=np.float32).reshape(2, 3)])
def _():
    c = kn.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))

    @kn.jit
    def f(x):
        return x - c
    return f, (f32(2, 3),), []


# --- creation ---------------------------------------------------------------------------------

@case("arange_linspace_eye",
      ref=lambda x: [x + np.arange(4, dtype=np.float32), np.linspace(0.0, 1.0, 5, dtype=np.float32),
                     np.eye(3, 4, k=1, dtype=np.float32), np.arange(2, 11, 3), np.eye(2, dtype=np.int32)])
def _():
    @kn.jit
    def f(x):
        return x + kn.arange(4, dtype=kn.float32), kn.linspace(0.0, 1.0, 5), kn.eye(3, 4, k=1), \
            kn.arange(2, 11, 3), kn.eye(2, dtype=kn.int32)
    return f, (f32(4),), []


@case("zeros_ones_full_like",
      ref=lambda x: [np.zeros((2, 2), np.float32), np.ones_like(x) + x, np.full((3,), 7, np.int64),
                     np.full_like(x, 0.5)])
def _():
    @kn.jit
    def f(x):
        return kn.zeros((2, 2)), kn.ones_like(x) + x, kn.full((3,), 7, dtype=kn.int64), kn.full_like(x, 0.5)
    return f, (f32(2, 3),), []


# --- state: random numbers and Variables ------------------------------------------------------

@case("random_uniform_state")
def _():
    @kn.jit
    def f(x):
        return kn.random.uniform((2, 3)) + x, kn.random.normal((4,))
    return f, (f32(2, 3),), []


@case("variable_assign_add", ref=None)
def _():
    v = kn.Variable(np.arange(4, dtype=np.float32), name="acc")
    w = kn.Variable(np.ones((4, 2), np.float32), name="w")

    @kn.jit
    def f(x):
        v.assign_add(x[0])
        w.assign_sub(0.5 * w)
        return x @ w + v.sum()
    return f, (f32(3, 4),), [v, w]


@case("variable_read_only_and_int_counter")
def _():
    step = kn.Variable(np.int64(0), trainable=False, name="step \"quoted\" name")
    b = kn.Variable(np.full(3, 2.0, np.float64), name="bias")

    @kn.jit
    def f(x):
        step.assign_add(1)
        return x + b, step.value * 2
    return f, (f64(3),), [step, b]


@case("random_bernoulli_truncated_odd_variable_name")
def _():
    v = kn.Variable(np.zeros(2, np.float32), name='back\\slash "and" quotes')

    @kn.jit
    def f(x):
        v.assign(x)
        return kn.random.bernoulli(0.3, (4,)), kn.random.truncated_normal((3,))
    return f, (f32(2),), [v]


# --- edge values and sizes --------------------------------------------------------------------

_EMPTY = np.zeros((0, 3), np.float32)
_BIG = np.linspace(-1, 1, 100).astype(np.float32)  # > 64 elements: not deduplicated by bytes


@case("empty_and_big_constants", ref=lambda x, y: [x + _EMPTY.sum(0), y * _BIG, x[:0] * 2])
def _():
    @kn.jit
    def f(x, y):
        return x + _EMPTY.sum(0), y * _BIG, x[:0] * 2
    return f, (f32(3), f32(100)), []


@pytest.mark.parametrize("shape", [(0,), (0, 3)])
def test_size_zero_constant_compiles(shape):
    empty = np.zeros(shape, np.float32)

    @kn.jit
    def f(x):
        return x + 1, kn.asarray(empty)
    g2 = parse(f.trace(np.ones(2, np.float32)).as_text())
    assert print_graph(g2) == f.trace(np.ones(2, np.float32)).as_text()
    a, e = f(np.ones(2, np.float32))
    np.testing.assert_array_equal(np.asarray(e), empty)
    np.testing.assert_array_equal(np.asarray(a), [2, 2])


@case("size_zero_argument", ref=lambda x: [x.sum(0), x * 2, x.max(axis=1)])
def _():
    @kn.jit
    def f(x):
        return x.sum(0), x * 2, x.max(axis=1)
    return f, (np.zeros((0, 4), np.float32),), []


@case("subnormal_and_huge_scalars",
      ref=lambda x: [np.where(True, x, np.float32(1e-45)), x * np.float32(1.1754942e-38) / 3,
                     x * np.float32(1e16)])
def _():
    @kn.jit
    def f(x):
        return kn.where(np.array(True), x, 1e-45), x * np.float32(1.1754942e-38) / 3, x * 1e16
    return f, (f32(2),), []


@case("meshgrid_cumsum_stop_gradient",
      ref=lambda x: [np.meshgrid(x, x[:2])[0], np.cumsum(x), x])
def _():
    @kn.jit
    def f(x):
        return kn.meshgrid(x, x[:2])[0], kn.cumsum(x), kn.stop_gradient(x)
    return f, (f32(3),), []


# --- structure: multiple outputs, pytrees -----------------------------------------------------

@case("pytree_args_and_outputs",
      ref=lambda a, b, c, s: [a + b, c * s, (a * b).sum()])  # leaves in the dict's key order
def _():
    @kn.jit
    def f(pair, d):
        a, b = pair
        return {"sum": a + b, "nested": [d["c"] * d["s"], ((a * b).sum(),)]}
    return _Flat(f, lambda a, b, c, s: (((a, b), {"c": c, "s": s}))), (f32(3), f32(3), f32(2, 2), 3.0), []


@case("duplicate_and_input_outputs", ref=lambda x: [x, x * 2, x * 2, x])
def _():
    @kn.jit
    def f(x):
        y = x * 2
        return x, y, y, x
    return f, (f32(3),), []


@case("no_args_constant_only", ref=lambda: [np.arange(5, dtype=np.int32) * 2])
def _():
    @kn.jit
    def f():
        return kn.arange(5) * 2
    return f, (), []


@case("static_arg_and_composites",
      ref=lambda x: [np.linalg.norm(x, axis=1), np.dot(x, x.T), np.sqrt((x * x).sum())], rtol=1e-4)
def _():
    @kn.jit
    def f(x):
        return kn.norm(x, axis=1), kn.dot(x, x.T), kn.norm(x)
    return f, (f32(3, 4),), []


class _Flat:
    """Calls a jitted function of pytree arguments from flat leaves (so the harness stays flat)."""

    def __init__(self, fn, build):
        self.fn, self.build = fn, build

    def trace(self, *leaves):
        return self.fn.trace(*self.build(*leaves))


# --- the harness ------------------------------------------------------------------------------

def _state_arrays(graph, variables) -> list[np.ndarray]:
    by_name = {v.name: v for v in variables}
    by_name.setdefault("rng_state", krandom._default.state)
    out = []
    for s in graph.states:
        assert s.name in by_name, f"state input {s.name!r} is not a Variable this case declared"
        out.append(by_name[s.name].data.copy())
    return out


def _leaves(fn, args) -> list:
    """The argument leaves in the order the graph's args were created (the jit's flattening)."""
    if isinstance(fn, _Flat):
        return _leaves(fn.fn, fn.build(*args))
    key, leaves = fn._signature(args, {})
    return [x for x, spec in zip(leaves, key[1]) if spec[0] != "var"]


def _flat_args(graph, fn, args) -> list[np.ndarray]:
    leaves = _leaves(fn, args)
    assert len(leaves) == len(graph.args)
    return [np.ascontiguousarray(np.asarray(a), dtype=v.type.dtype.np) for a, v in zip(leaves, graph.args)]


def _run(graph, args, states):
    return kcompile.compile_graph(graph).executable([a.copy() for a in args], states)


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_roundtrip(c: Case, monkeypatch):
    fn, args, variables = c.make()
    graph = fn.trace(*args).graph
    text = print_graph(graph)
    assert text == fn.trace(*args).as_text()
    g2 = parse(text)
    assert print_graph(g2) == text
    verify(graph)
    verify(g2)
    assert [v.type for v in g2.inputs] == [v.type for v in graph.inputs]
    assert [v.role for v in g2.inputs] == [v.role for v in graph.inputs]

    states = _state_arrays(graph, variables)
    args_np = _flat_args(graph, fn, args)
    s1 = [s.copy() for s in states]
    out1 = _run(graph, args_np, s1)
    # compile the parsed graph with an empty code cache, so it is really built again
    monkeypatch.setattr(kcompile, "CACHE", CodeCache())
    s2 = [s.copy() for s in states]
    out2 = _run(g2, args_np, s2)
    assert len(out1) == len(out2) == len(graph.outputs)
    for a, b in zip(out1, out2):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    for a, b in zip(s1, s2):
        np.testing.assert_array_equal(a, b)
    if c.ref is not None:
        want = c.ref(*args)
        assert len(want) == len(out1)
        for got, w in zip(out1, want):
            w = np.asarray(w)
            assert got.shape == w.shape, (got.shape, w.shape)
            if got.dtype.kind in "fc":
                np.testing.assert_allclose(got, w, rtol=c.rtol, atol=c.rtol)
            else:
                np.testing.assert_array_equal(got, w)


def test_enough_cases():
    assert len(CASES) >= 30


def test_state_update_matches_jit_call():
    """The compiled parsed graph updates state exactly like calling the jitted function."""
    v = kn.Variable(np.arange(3, dtype=np.float32), name="roundtrip_v")

    @kn.jit
    def f(x):
        v.assign_add(x * 2)
        return v.value + 1
    x = np.array([1, 2, 3], np.float32)
    g2 = parse(f.trace(x).as_text())
    state = [v.data.copy()]
    (out,) = kcompile.compile_graph(g2).executable([x], state)
    result = f(x)
    np.testing.assert_array_equal(state[0], v.data)
    np.testing.assert_array_equal(out, np.asarray(result))
    np.testing.assert_array_equal(v.data, [2, 5, 8])


# --- parser errors ----------------------------------------------------------------------------

GOOD = """func @g(%0: f32[4], %1: f32[4]) {
  %2 = add %0, %1 : f32[4]
  return %2
}
"""


def test_good_text_parses():
    assert print_graph(parse(GOOD)) == GOOD


@pytest.mark.parametrize("bad, where, words", [
    (GOOD.replace("%1: f32[4]", "%1: q32[4]"), "line 1:", ["q32"]),
    (GOOD.replace("%2 = add %0, %1 : f32[4]", "%2 = frobnicate %0, %1 : f32[4]"), "line 2:", ["frobnicate"]),
    (GOOD.replace("%2 = add %0, %1", "%2 = add %0, %7"), "line 2:", ["%7", "undefined"]),
    (GOOD.replace("return %2", "return %9"), "line 3:", ["%9", "undefined"]),
    (GOOD.replace("%2 = add %0, %1 : f32[4]", "%2 = add %0, %1 : f32[5]"), "line 2:", ["f32[5]", "f32[4]"]),
    (GOOD.replace("%2 = add %0, %1 : f32[4]", "%2 = add %0, %1 : i32[4]"), "line 2:", ["i32[4]"]),
    (GOOD.replace("%2 = add %0, %1 : f32[4]", "%2 = add %0, %1 : f32[4"), "line 2:", []),
])
def test_parse_errors_have_line_and_column(bad, where, words):
    with pytest.raises(KilnError) as info:
        parse(bad)
    msg = str(info.value)
    assert where in msg
    col = msg.split(where, 1)[1].split(":", 1)[0]
    assert col.isdigit() and int(col) >= 1, msg
    for w in words:
        assert w in msg, msg


def test_parse_error_column_points_at_the_problem():
    bad = GOOD.replace("%2 = add %0, %1", "%2 = add %0, %7")
    with pytest.raises(KilnError, match=r"line 2:(\d+)") as info:
        parse(bad)
    col = int(str(info.value).split("line 2:", 1)[1].split(":", 1)[0])
    line = bad.splitlines()[1]
    # the cursor is just past the bad token
    assert line.index("%7") < col <= line.index("%7") + len("%7") + 1


def test_lambda_graph_roundtrips():
    f = kn.jit(lambda x: x * 2)
    text = f.trace(np.ones(2, np.float32)).as_text()
    assert print_graph(parse(text)) == text


def test_state_name_with_newline_roundtrips():
    v = kn.Variable(np.zeros(2, np.float32), name="two\nlines")

    @kn.jit
    def f(x):
        v.assign_add(x)
        return x * 1
    text = f.trace(np.ones(2, np.float32)).as_text()
    g2 = parse(text)
    assert print_graph(g2) == text
    assert g2.states[0].name == "two\nlines"


@pytest.mark.parametrize("name", ["ünï cødé", "tab\there", "x) {", "  # x", "a, %9: f32[2]", 'q"uo\\te'])
def test_odd_state_names_roundtrip(name):
    v = kn.Variable(np.zeros(2, np.float32), name=name)

    @kn.jit
    def f(x):
        v.assign_add(x)
        return x * 1
    text = f.trace(np.ones(2, np.float32)).as_text()
    g2 = parse(text)
    assert print_graph(g2) == text
    assert g2.states[0].name == name
