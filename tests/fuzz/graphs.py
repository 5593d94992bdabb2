"""Random graphs over the op registry: a pool of values (graph inputs, then node results) that
each drawn op takes its operands from. Ops come from `kiln.ir.opdef.REGISTRY`; operands and
attributes are drawn by attribute name (attrs.py), with a maker for the ops whose operands must
fit each other (indices, windows, contractions). An op application the type rules refuse is
kept as a type-rule check: NumPy's reference must refuse the same shapes."""
from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kiln.errors import KilnError, ShapeError
from kiln.ir import dtypes as dt
from kiln.ir.graph import Graph, Value, make_node
from kiln.ir.opdef import REGISTRY, OpDef, get
from kiln.ir.parser import parse
from kiln.ir.printer import print_graph
from kiln.ir.types import TensorType

from . import values
from .known import known

# assign writes a Variable and returns nothing: there is no value to compare
SKIP_TRAITS = {"effectful": "writes state and has no result or NumPy reference"}
OPS = tuple(sorted(n for n, op in REGISTRY.items() if not op.traits & SKIP_TRAITS.keys()))
BIG_SIDE = (1 << 15) + 3  # a row long enough for kernels to be split over threads (codegen/cpu.py)


def arity(op: OpDef) -> int | None:
    """Operand count, read off the NumPy reference (None: variadic)."""
    if isinstance(op.ref, np.ufunc):
        return op.ref.nin
    params = inspect.signature(op.ref).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.name not in op.attrs and p.kind is not p.KEYWORD_ONLY for p in params)


@dataclass
class Case:
    """A graph, its argument arrays, and the refused applications seen while building it."""

    graph: Graph
    inputs: list[np.ndarray]
    refused: list[tuple[str, list[TensorType], dict, KilnError]] = field(default_factory=list)

    def _repr_pretty_(self, p, cycle) -> None:  # hypothesis prints a failing case this way
        p.text("\n" + self.text())

    def text(self) -> str:
        args = "\n".join(f"// %{i} = np.{a.dtype}({a.tolist()!r}).reshape({a.shape})" if a.size <= 64
                         else f"// %{i}: {a.dtype}{list(a.shape)} (large)" for i, a in enumerate(self.inputs))
        return print_graph(self.graph) + args + "\n"


class Builder:
    """Graph under construction; `draw` is hypothesis's."""

    def __init__(self, draw):
        self.draw = draw
        self.inputs: list[Value] = []
        self.arrays: list[np.ndarray] = []
        self.nodes = []
        self.pool: list[Value] = []
        self.refused: list = []

    def arg(self, d: dt.DType, shape: tuple[int, ...], elems: st.SearchStrategy | None = None) -> Value:
        """A fresh graph argument with drawn values (not put in the pool: makers use these)."""
        a = self.draw(values.array(d, tuple(shape), elems))
        v = Value(TensorType(tuple(shape), d), role="arg")
        self.inputs.append(v)
        self.arrays.append(a)
        return v

    def pick(self) -> Value:
        return self.draw(st.sampled_from(self.pool))

    def apply(self, op: str, inputs: list[Value], attrs: dict) -> Value | None:
        """Add the node if the type rules accept it; otherwise record the refusal."""
        if known(op, [v.type for v in inputs], attrs):
            return None
        try:
            types = get(op).infer([v.type for v in inputs], attrs)
        except KilnError as e:
            self.refused.append((op, [v.type for v in inputs], attrs, e))
            return None
        node = make_node(op, tuple(inputs), attrs, types)
        self.nodes.append(node)
        self.pool.append(node.out)
        return node.out

    def cast(self, v: Value, d: dt.DType) -> Value:
        return v if v.dtype == d else self.apply("astype", [v], {"dtype": d.name})


def input_shapes(draw, n: int) -> list[tuple[int, ...]]:
    """n mutually broadcastable shapes (size-1 dims broadcast); now and then a size-0 dim, or
    one long last axis (kernels split over threads)."""
    shapes = [tuple(s) for s in draw(hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=0, max_dims=4, min_side=1, max_side=5)).input_shapes]
    kind = draw(st.integers(0, 15))
    if kind < 2:  # one dim (counted from the end) of size 0 wherever it is not 1
        d = draw(st.integers(1, 4))
        shapes = [s[:-d] + (0,) + s[len(s) - d + 1:] if len(s) >= d and s[-d] != 1 else s for s in shapes]
    elif kind == 2:
        shapes = [s[:-1] + (BIG_SIDE,) if s and s[-1] != 1 else s for s in shapes]
    return shapes


@st.composite
def cases(draw, max_ops: int = 6) -> Case:
    from .makers import make  # the makers need Builder

    b = Builder(draw)
    for shape in input_shapes(draw, draw(st.integers(1, 3))):
        b.pool.append(b.arg(draw(values.DTYPES), shape))
    want = draw(st.integers(1, max_ops))
    for _ in range(3 * want):
        if len(b.nodes) >= want:
            break
        op = draw(st.sampled_from(OPS))
        make(b, op)
    if not b.nodes:
        b.apply("stop_gradient", [b.pool[0]], {})
    computed = [n.out for n in b.nodes]
    outs = [computed[-1]] + ([draw(st.sampled_from(computed))] if draw(st.booleans()) else [])
    graph = Graph("fuzz", list(b.inputs), list(b.nodes), list(dict.fromkeys(outs)))
    return Case(graph, b.arrays, b.refused)


_ARRAY = re.compile(r"^// %(\d+) = np\.(\w+)\((.*)\)\.reshape\((.*)\)$", re.M)
_NONFINITE = re.compile(r"-?\b(?:nan|inf)\b")


def load_case(text: str) -> Case:
    """A case from `Case.text()`: the graph, then one `// %k = np.<dtype>(<list>).reshape(...)`
    comment per argument (nan and inf written bare)."""
    arrays = {}
    for k, d, data, shape in _ARRAY.findall(text):
        values_ = ast.literal_eval(_NONFINITE.sub(lambda m: repr(m.group()), data))
        arrays[int(k)] = np.array(values_, dtype=d).reshape(ast.literal_eval(shape))
    return Case(parse(text), [arrays[k] for k in sorted(arrays)])


def refusal_is_shared(op: str, types: list[TensorType], attrs: dict, err: KilnError) -> str | None:
    """A shape error must be NumPy's too: None if the reference also refuses, else a message.
    (Dtype errors are IR rules — one dtype per elementwise op, float-only ops — not NumPy's.)"""
    if not isinstance(err, ShapeError):
        return None
    arrays = [np.zeros(t.shape, t.dtype.np) for t in types]
    try:
        with np.errstate(all="ignore"):
            get(op).ref(*arrays, **attrs)
    except Exception:  # noqa: BLE001 - any NumPy refusal agrees with kiln's
        return None
    return f"{op}{tuple(str(t) for t in types)} {attrs}: kiln refuses ({err}) but NumPy's reference accepts"
