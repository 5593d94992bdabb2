"""Each graph pass, alone and as the DEFAULT pipeline, keeps what random well-typed graphs compute.

Graphs come from a hypothesis strategy over registry ops (arithmetic, guarded transcendentals,
where, casts, scalar and dense constants, movement chains, reductions, matmul, duplicated and dead
nodes). Reference: `lower_graph(g)` with `kiln.frontend.compile.DEFAULT` patched to [] (asserted
to run no pass; patching `pipelines.DEFAULT` would not reach compile.py's own reference), so it
gets the very lowering the transformed graphs get. Each pass runs alone (`PASSES[name](g)`, then
verified, input unmutated) and is compiled that way; real `lower_graph(g)` (verify on) covers the
pipeline. Outputs agree to rtol 1e-5 / atol 1e-6 with the same NaN/±inf positions (ints exactly)
and, for EXACT passes, zeros' signs (see _signed_zeros). Every pass must change some graphs. Found
cases are pinned at the end as regression tests.
"""
from __future__ import annotations

from collections import Counter
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiln import config as cfg
from kiln.errors import ShapeError
from kiln.frontend import compile as kc
from kiln.ir import dtypes as dt
from kiln.ir.builder import Emitter, node_adder
from kiln.ir.graph import Graph, Value
from kiln.ir.opdef import broadcast_shapes
from kiln.ir.printer import print_graph
from kiln.ir.types import TensorType
from kiln.ir.verify import verify
from kiln.passes import PASSES
from kiln.runtime import blas

PASSES_UNDER_TEST = ["simplify", "fold", "cse", "dce"]
EXACT = {"simplify", "cse", "dce"}  # no rounding changes (bar re-associated sums): zeros' signs too
MAX_SIZE = 96  # elements per value: keeps compile and run cheap
F32 = dt.float32
SCALARS = [0.0, 1.0, -1.0, 2.0, 0.5, -0.0, -3.0, 0.25]
BINARY = ["add", "subtract", "multiply", "divide", "maximum", "minimum"]
COMPARE = ["greater", "less", "greater_equal", "less_equal", "equal", "not_equal"]


# --- the graph generator --------------------------------------------------------------------
def _bshape(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    """The broadcast shape, or None when the shapes clash or the result is too big."""
    try:
        out = broadcast_shapes(*shapes)
    except ShapeError:
        return None
    return out if int(np.prod(out)) <= MAX_SIZE else None


class Case:
    """A graph and its inputs; a plain class so hypothesis reports it through __repr__ (IR text)."""

    def __init__(self, graph: Graph, inputs: list[np.ndarray]):
        self.graph, self.inputs = graph, inputs

    def __repr__(self) -> str:
        arrays = "".join(f"  arg {i}: {a.dtype} = {a.tolist()}\n" for i, a in enumerate(self.inputs))
        return f"Case(\n{print_graph(self.graph)}{arrays})"


class _Gen:
    """Draws one graph step by step; each step method returns a new f32 value for `floats`."""

    def __init__(self, draw):
        self.draw, self.nodes = draw, []
        self.add = node_adder(self.nodes)
        self.e = Emitter(self.add)
        self.rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        self.floats: list[Value] = []
        self.ints: list[Value] = []

    def pick(self, pool: list[Value]) -> Value:
        """Often the newest value, so ops compose (neg∘neg, transpose∘transpose, ...)."""
        return pool[-1] if self.draw(st.booleans()) else self.draw(st.sampled_from(pool))

    def scalar(self, dtype=F32) -> Value:
        return self.e.const(self.draw(st.sampled_from(SCALARS)), dtype)

    def sub_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A shape that broadcasts to `shape`: a suffix of it with some dims set to 1."""
        k = self.draw(st.integers(0, len(shape)))
        return tuple(n if self.draw(st.booleans()) else 1 for n in shape[len(shape) - k:])

    def dense(self, shape: tuple[int, ...]) -> Value:
        """A multi-element constant: random, or a splat of a special value (x*ones, x+zeros)."""
        if self.draw(st.booleans()):
            data = np.full(shape, self.draw(st.sampled_from(SCALARS)))
        else:
            data = np.round(self.rng.standard_normal(shape) * 2, 2)
            if self.draw(st.integers(0, 5)) == 0:  # fold must treat NaN and inf as the code does
                data.flat[0] = self.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return self.e.const(data.astype(np.float32), F32)

    def partner(self, a: Value) -> Value:
        """Something that broadcasts with `a`: a pool value, a scalar or a dense constant."""
        kind = self.draw(st.sampled_from(["pool", "pool", "scalar", "scalar", "dense", "self"]))
        if kind == "pool":
            return self.pick([v for v in self.floats if _bshape(a.shape, v.shape) is not None])
        if kind == "scalar":
            return self.scalar()
        return self.dense(self.sub_shape(a.shape) or a.shape or (1,)) if kind == "dense" else a

    def clip(self, x: Value, lo: float, hi: float) -> Value:
        return self.e.minimum(self.e.maximum(x, self.e.const(lo, F32)), self.e.const(hi, F32))

    def binary(self) -> Value:
        op, a = self.draw(st.sampled_from(BINARY)), self.pick(self.floats)
        b = self.partner(a)
        return getattr(self.e, op)(*((b, a) if self.draw(st.booleans()) else (a, b)))

    def unary(self) -> Value:
        e, x = self.e, self.pick(self.floats)
        guarded = {"exp": lambda: e.exp(self.clip(x, -10.0, 10.0)), "sqrt": lambda: e.sqrt(e.abs(x)),
                   "log": lambda: e.log(e.add(e.abs(x), e.const(1.0, F32)))}
        kind = self.draw(st.sampled_from(["negative", "abs", "tanh", "sigmoid", *guarded]))
        return guarded[kind]() if kind in guarded else getattr(e, kind)(x)

    def fold_bait(self) -> Value:
        """An op on constants only, so fold has something to do."""
        e = self.e
        c = self.dense(self.draw(st.sampled_from([(2,), (3,), (2, 3), (1, 4)])))
        self.floats.append(self.draw(st.sampled_from([
            lambda: getattr(e, self.draw(st.sampled_from(BINARY)))(c, self.scalar()),
            lambda: getattr(e, self.draw(st.sampled_from(["negative", "abs", "tanh", "sigmoid"])))(c),
            lambda: e.sum(c, axes=(c.ndim - 1,), keepdims=True),
            lambda: e.reshape(c, shape=(c.type.size,))]))())
        return self.binary()

    def where(self) -> Value:
        e, a = self.e, self.pick(self.floats)
        cond = getattr(e, self.draw(st.sampled_from(COMPARE)))(a, self.partner(a))
        if self.draw(st.booleans()):  # bool -> f32 -> bool round trip (exact, simplify drops it)
            cond = e.astype(e.astype(cond, dtype="float32"), dtype="bool")
        x = self.pick([v for v in self.floats if _bshape(cond.shape, v.shape)] + [self.scalar()])
        same = self.draw(st.booleans())  # where(c, x, x): simplify drops it
        y = x if same else self.pick([v for v in self.floats if _bshape(cond.shape, x.shape, v.shape)] + [x])
        return e.where(cond, x, y)

    def cast(self) -> Value:
        e, x = self.e, self.pick(self.floats)
        kind = self.draw(st.sampled_from(["f64", "i32", "bool"] + (["int"] * 2 if self.ints else [])))
        if kind in ("f64", "bool"):  # f32 -> f64 -> f32 is exact (simplify drops it), via bool is not
            return e.astype(e.astype(x, dtype="float64" if kind == "f64" else "bool"), dtype="float32")
        if kind == "i32":  # NOTE: kept in range (fold-astype-nan pins NaN and out-of-range casts)
            x = self.clip(e.where(e.equal(x, x), x, e.const(0.0, F32)), -1e4, 1e4)
            self.ints.append(e.astype(x, dtype="int32"))
            return e.astype(self.ints[-1], dtype="float32")
        via = self.draw(st.sampled_from(["float32", "float64"]))
        return e.astype(e.astype(self.int_step(), dtype=via), dtype="float32")

    def int_step(self) -> Value:
        """Integer arithmetic and exact int round trips (i32 -> i64 or f64 -> i32)."""
        e, i = self.e, self.pick(self.ints)
        kind = self.draw(st.sampled_from(["add", "multiply", "subtract", "maximum", "negative", "cast"]))
        other = self.pick(self.ints) if self.draw(st.booleans()) else self.scalar(dt.int32)
        if kind == "cast":
            out = e.astype(e.astype(i, dtype=self.draw(st.sampled_from(["int64", "float64"]))), dtype="int32")
        else:
            ok = kind != "negative" and _bshape(i.shape, other.shape)
            out = getattr(e, kind)(i, other) if ok else e.negative(i)
        self.ints.append(out)
        return out

    def move(self) -> Value:
        """A chain of 1-3 movement ops, often of one kind (so reshape∘reshape etc. fire)."""
        x = self.pick(self.floats) if self.draw(st.integers(0, 3)) else self.scalar()
        kinds = st.sampled_from(["reshape", "transpose", "broadcast"])
        kind = self.draw(kinds)
        for _ in range(self.draw(st.integers(1, 3))):
            if kind == "transpose":
                x = self.e.transpose(x, perm=tuple(self.draw(st.permutations(range(x.ndim)))))
            else:
                x = getattr(self, "move_" + kind)(x)
            kind = kind if self.draw(st.booleans()) else self.draw(kinds)
        return x

    def move_reshape(self, x: Value) -> Value:
        s = x.shape
        options = [(x.type.size,), s]
        options += [s[:k] + (1,) + s[k:] for k in range(len(s) + 1) if len(s) < 4]
        options += [s[:k] + s[k + 1:] for k in range(len(s)) if s[k] == 1]
        options += [s[:k] + (s[k] * s[k + 1],) + s[k + 2:] for k in range(len(s) - 1)]
        options += [s[:k] + (p, n // p) + s[k + 1:] for k, n in enumerate(s) for p in (2, 3)
                    if n % p == 0 and n > p and len(s) < 4]
        return self.e.reshape(x, shape=self.draw(st.sampled_from(options)))

    def move_broadcast(self, x: Value) -> Value:
        shape = tuple(self.draw(st.sampled_from([n, 2, 3])) if n == 1 else n for n in x.shape)
        if len(shape) < 4 and self.draw(st.booleans()):
            shape = (self.draw(st.integers(1, 3)),) + shape
        return self.e.broadcast_to(x, shape=shape if np.prod(shape) <= MAX_SIZE else x.shape)

    def reduce(self) -> Value:
        x, op = self.pick(self.floats), self.draw(st.sampled_from(["sum", "max", "min"]))
        axes = tuple(d for d in range(x.ndim) if self.draw(st.booleans()))
        return getattr(self.e, op)(x, axes=axes, keepdims=self.draw(st.booleans()))

    def matmul(self) -> Value:
        e, a = self.e, self.pick(self.floats)
        a = a if a.ndim >= 2 else e.reshape(a, shape=(1,) * (2 - a.ndim) + a.shape)
        k, swap = a.shape[-1], tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2)
        options = [v for v in self.floats if v.ndim >= 2 and v.shape[-2] == k
                   and _bshape(a.shape[:-2] + (a.shape[-2], v.shape[-1]), v.shape[:-2] + (1, 1))]
        kind = self.draw(st.sampled_from(["self", "dense"] + (["pool"] if options else [])))
        if kind == "self" and a.type.size // k * a.shape[-2] <= MAX_SIZE:  # a @ a^T
            return e.matmul(a, e.transpose(a, perm=swap))
        b = self.pick(options) if kind == "pool" else self.dense((k, self.draw(st.integers(1, 3))))
        return e.matmul(a, b)

    def duplicate(self) -> Value:
        """Re-emit an existing node: the same op, inputs and attributes (cse merges them)."""
        if not self.nodes:
            return self.binary()
        n = self.draw(st.sampled_from(self.nodes))
        out = self.add(n.op, list(n.inputs), dict(n.attrs))[0]
        return out if out.dtype == F32 else self.binary()


STEPS = ["binary"] * 4 + ["unary"] * 3 + ["where", "cast", "move", "move", "reduce", "duplicate",
                                          "duplicate", "fold_bait", "matmul"]


@st.composite
def cases(draw) -> Case:
    """1-3 f32 args (sometimes an i32 one) of broadcast-compatible shapes, 3-12 steps."""
    g = _Gen(draw)
    rank = draw(st.sampled_from([0, 1, 2, 2, 3, 3]))  # mostly 2-3 dims: transposes that matter
    base = tuple(draw(st.sampled_from([1, 2, 3, 4])) for _ in range(rank))
    args = [Value(TensorType(g.sub_shape(base) if i else base, F32), role="arg")
            for i in range(draw(st.integers(1, 3)))]
    g.floats += args
    if draw(st.integers(0, 3)) == 0:
        g.ints.append(Value(TensorType(g.sub_shape(base), dt.int32), role="arg"))
        args.append(g.ints[-1])
    for _ in range(draw(st.integers(3, 12))):
        g.floats.append(getattr(g, draw(st.sampled_from(STEPS)))())
    made = [v for v in g.floats + g.ints if v.role != "arg"]
    used = {v for n in g.nodes for v in n.inputs}
    # most unused values become outputs (so a wrong rewrite shows); the rest is dead code
    outputs = [made[-1]] + [v for v in made[:-1] if v not in used and draw(st.integers(0, 3))]
    graph = verify(Graph("prop", args, g.nodes, outputs))
    return Case(graph, [_input(g.rng, v.type) for v in args])


def _input(rng: np.random.Generator, t: TensorType) -> np.ndarray:
    """Normal values, sometimes with exact 0, -0, ±1, 2 sprinkled in (identities' edge cases)."""
    if t.dtype == dt.int32:
        return rng.integers(-5, 6, size=t.shape).astype(np.int32)
    x = rng.standard_normal(t.shape) * rng.choice([1.0, 4.0])
    special = rng.random(t.shape) < rng.choice([0.0, 0.3])
    chosen = rng.choice([0.0, -0.0, -0.0, 1.0, -1.0, 2.0], size=t.shape)
    return np.where(special, chosen, x).astype(np.float32)


# --- compile, run, compare ------------------------------------------------------------------
def _run(g: Graph, inputs: list[np.ndarray], compiled=None) -> list[np.ndarray]:
    """Run `compiled`; by default g lowered as lower_graph does it, minus every pass."""
    if compiled is None:
        with mock.patch.object(kc, "DEFAULT", []):
            lowered = kc.lower_graph(g)
        assert lowered.graph is g, "lower_graph ran passes with compile.DEFAULT = []"
        compiled = lowered.compile()
    return compiled.executable([a.copy() for a in inputs], [])


def _signed_zeros(g: Graph) -> list[bool]:
    """Per output: is the sign of a zero defined? Not downstream of a sum or matmul (nsz flags)."""
    loose: set[Value] = set()
    for n in g.nodes:
        if n.op in ("sum", "prod", "matmul", "cumsum") or any(v in loose for v in n.inputs):
            loose.update(n.outputs)
    return [v not in loose for v in g.outputs]


def _assert_same(got: list[np.ndarray], want: list[np.ndarray], what: str, zeros: list[bool]) -> None:
    """Same dtypes, shapes, NaN/±inf positions; finite values close; signs of zeros where `zeros`."""
    assert len(got) == len(want), what
    for k, (a, b) in enumerate(zip(got, want)):
        msg = f"{what}: output {k}\n got {a!r}\nwant {b!r}"
        assert a.dtype == b.dtype and a.shape == b.shape, msg
        if a.dtype.kind != "f":
            np.testing.assert_array_equal(a, b, err_msg=msg)
            continue
        for special in (np.isnan, np.isposinf, np.isneginf):
            np.testing.assert_array_equal(special(a), special(b), err_msg=msg)
        if zeros and zeros[k]:  # the sign of a zero shows up later as ±inf (1/x), so it must match
            np.testing.assert_array_equal(np.signbit(a) & (a == 0), np.signbit(b) & (b == 0), err_msg=msg)
        np.testing.assert_allclose(a[np.isfinite(b)], b[np.isfinite(b)], rtol=1e-5, atol=1e-6, err_msg=msg)


def _check(case: Case, changed: Counter) -> None:
    g, text, zeros = case.graph, print_graph(case.graph), _signed_zeros(case.graph)
    want = _run(g, case.inputs)
    for name in PASSES_UNDER_TEST:
        out = PASSES[name](g)
        assert print_graph(g) == text, f"{name} mutated its input graph"
        if out is g:
            continue
        changed[name] += 1
        verify(out)
        _assert_same(_run(out, case.inputs), want,
                     f"pass {name}\n--- before\n{text}--- after\n{print_graph(out)}", zeros * (name in EXACT))
    with cfg.override(verify=True):
        lowered = kc.lower_graph(g)
    changed["pipeline"] += lowered.graph is not g
    _assert_same(_run(g, case.inputs, lowered.compile()), want,
                 f"DEFAULT pipeline\n--- before\n{text}--- after\n{print_graph(lowered.graph)}", [])


def test_passes_preserve_semantics():
    changed: Counter = Counter()

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=cases())
    def check(case: Case) -> None:
        changed["examples"] += 1
        _check(case, changed)

    check()
    for name in PASSES_UNDER_TEST + ["pipeline"]:
        assert changed[name] >= 10, f"{name} changed too few graphs: {changed}"


# --- cases the property found, minimised: fixed ones as regressions, open ones as strict xfails ----

def _graph(arg_types: list[tuple[tuple[int, ...], dt.DType]], body) -> Graph:
    nodes: list = []
    args = [Value(TensorType(s, d), role="arg") for s, d in arg_types]
    return verify(Graph("regress", args, nodes, list(body(Emitter(node_adder(nodes)), *args))))


def _inv(e: Emitter, x: Value) -> Value:
    """1/x: turns the sign of a zero into the sign of an infinity."""
    return e.divide(e.const(1.0, F32), x)


@pytest.mark.parametrize("name, types, body, inputs", [
    # x + 0.0 -> x is wrong for x = -0.0 (-0.0 + 0.0 is +0.0): 1/(-x + 0) at x = 0 must be +inf
    pytest.param("simplify", [((2,), F32)], lambda e, x: [_inv(e, e.add(e.negative(x), e.const(0.0, F32)))],
                 [np.float32([0.0, 2.0])], id="simplify-add_zero"),
    # x - (-0.0) -> x is wrong for x = -0.0: 1/(x - -0.0) at x = -0.0 must be +inf
    pytest.param("simplify", [((2,), F32)], lambda e, x: [_inv(e, e.subtract(x, e.const(-0.0, F32)))],
                 [np.float32([-0.0, 2.0])], id="simplify-subtract_zero"),
    # log(exp x) -> x: as written exp overflows/underflows (inf at 100, -inf at -110, -99.98 at -100)
    pytest.param("simplify", [((4,), F32)], lambda e, x: [e.log(e.exp(x))],
                 [np.float32([100.0, -100.0, -110.0, 1.5])], id="simplify-log_exp"),
    # fold used NumPy's cast (NaN, out of range -> INT_MIN); compiled casts saturate and send NaN to 0
    pytest.param("fold", [((), dt.int32)],
                 lambda e, i: [e.add(i, e.astype(e.const(np.float32([np.nan, 3e9, -3e9, 1.5]), F32),
                                                 dtype="int32"))],
                 [np.array(0, np.int32)], id="fold-astype-nan"),
    # cse keyed attributes by Python equality (0.0 == -0.0): pad {value=0.0} and {value=-0.0} merged
    pytest.param("cse", [((1,), F32)],
                 lambda e, x: [_inv(e, e.pad(x, pads=((1, 0),), value=v)) for v in (0.0, -0.0)],
                 [np.float32([1.0])], id="cse-pad-signed-zero"),
])
def test_found_cases(name, types, body, inputs):
    g = _graph(types, body)
    out = verify(PASSES[name](g))
    _assert_same(_run(out, inputs), _run(g, inputs),
                 f"pass {name}\n--- before\n{print_graph(g)}--- after\n{print_graph(out)}", _signed_zeros(g))


_GEMM = [pytest.mark.skipif(not blas.available(), reason="matmuls become BLAS calls only with BLAS")]
# both once lost the store of a value only a BLAS call read (dead-store removal saw loads only)
_C = np.float32([[0.25, -0.25]])


@pytest.mark.parametrize("body, ref", [  # lowering and codegen, not passes: as-is code against NumPy
    pytest.param(lambda e, x: [_inv(e, e.add(e.multiply(x, e.const(-0.0, F32)), e.const(0.0, F32)))],
                 lambda x: [1 / (x * -0.0 + 0.0)], id="kernel-ir-keeps-signed-zero-constants-apart"),
    pytest.param(lambda e, x: (lambda y: [e.negative(x), y])(  # k0_matmul_add_negative: add store lost
        e.matmul(e.add(e.matmul(x, x), e.const(1.0, F32)), e.const(_C, F32))),
        lambda x: [-x, (x @ x + 1) @ _C], id="gemm-epilogue-with-sibling", marks=_GEMM),
    pytest.param(lambda e, x: (lambda s: [e.sum(x, axes=(), keepdims=True), s])(  # k0_sum: acc 0 not stored
        e.sigmoid(e.matmul(*[e.sum(x, axes=(), keepdims=True)] * 2))),
        lambda x: [x, 1 / (1 + np.exp(-(x @ x)))], id="gemm-operand-of-2-reductions", marks=_GEMM),
])
def test_found_lowering_cases(body, ref):
    x = np.float32([[1.5]])
    with np.errstate(divide="ignore"):
        g = _graph([((1, 1), F32)], body)
        _assert_same(_run(g, [x]), ref(x), "as-is vs NumPy", _signed_zeros(g))
