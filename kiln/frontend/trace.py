"""Tracing: the active graph builder, binding ops to it, and eager single-op execution.

`bind(op, operands, attrs)` is the single point through which every kiln op passes. Inside
a trace it appends a node; outside, it runs the op through the compiler as a cached
single-op graph (and records it on active gradient tapes).
"""
from __future__ import annotations

import os
import sys
import threading
from typing import Any, Callable

import numpy as np

from .. import config as cfg
from ..errors import KilnError
from ..ir import dtypes as dt
from ..ir.graph import Graph, Loc, Value, make_node
from ..ir.opdef import get
from ..ir.types import TensorType
from ..runtime.cache import LRU

_KILN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__)) + os.sep  # np.sum(a) reaches kiln via NumPy


class _ThreadState(threading.local):
    """Trace state is per thread: one thread's trace or tape never sees another's ops."""

    def __init__(self) -> None:
        self.stack: list[TraceContext | None] = []  # the active builders, innermost last
        self.eager_hooks: list[Callable] = []  # called as hook(op, inputs, attrs, output) after eager ops
        self.creation_hooks: list[Callable] = []  # called with each new Variable (jit's retrace check)


_STATE = _ThreadState()
# threads with a trace or tape open; while it is 0 every thread is idle (one global read on the
# hot path). A thread's own count is in it before its own reads, so other threads' updates,
# made under _COUNT_LOCK, never change what this thread sees about itself.
_open = 0
_COUNT_LOCK = threading.Lock()


def _count(delta: int) -> None:
    global _open
    with _COUNT_LOCK:
        _open += delta


def start_recording(hook: Callable) -> None:
    """Make `hook` one of this thread's recording tapes."""
    _count(1)
    _STATE.eager_hooks.append(hook)


def stop_recording(hook: Callable) -> None:
    _STATE.eager_hooks.remove(hook)
    _count(-1)


def eager_hooks() -> list[Callable]:
    """This thread's recording tapes."""
    return _STATE.eager_hooks


def creation_hooks() -> list[Callable]:
    """This thread's checks on new Variables."""
    return _STATE.creation_hooks


def user_loc() -> Loc | None:
    """The innermost stack frame outside the kiln and NumPy packages: the user's file:line."""
    f = sys._getframe(1)
    while f is not None:
        fname = f.f_code.co_filename
        if not fname.startswith((_KILN_DIR, _NUMPY_DIR, "<frozen")):
            return Loc(os.path.basename(fname), f.f_lineno)
        f = f.f_back
    return None


class TraceContext:
    """A graph being built: its inputs, nodes, and the Variables it reads and writes."""

    def __init__(self, name: str):
        self.name = name
        self.inputs: list[Value] = []
        self.nodes = []
        self.state_in: dict[int, Value] = {}  # id(Variable) -> state input Value
        self.variables: list = []  # Variables in state-input order
        self.current: dict[int, Value] = {}  # id(Variable) -> its value now (after assigns)
        self.assign_loc: dict[int, Loc | None] = {}
        self.constants: dict[tuple, Value] = {}

    def arg(self, t: TensorType) -> Value:
        v = Value(t, role="arg")
        self.inputs.append(v)
        return v

    def read_variable(self, var) -> Value:
        key = id(var)
        if key not in self.state_in:
            v = Value(TensorType(var.shape, var.dtype), role="state", name=var.name)
            self.inputs.append(v)
            self.state_in[key] = v
            self.current[key] = v
            self.variables.append(var)
        return self.current[key]

    def write_variable(self, var, value: Value, loc: Loc | None) -> None:
        self.read_variable(var)
        self.current[id(var)] = value
        self.assign_loc[id(var)] = loc

    def add(self, op: str, inputs: list[Value], attrs: dict[str, Any], loc: Loc | None) -> list[Value]:
        opdef = get(op)
        try:
            types = opdef.infer([v.type for v in inputs], attrs)
        except KilnError as e:
            raise e.at(op, loc) from None
        node = make_node(op, tuple(inputs), attrs, types, loc)
        self.nodes.append(node)
        return list(node.outputs)

    def constant(self, value: np.ndarray, loc: Loc | None) -> Value:
        """A captured array or scalar, deduplicated by bytes for small values."""
        value = np.asarray(value)
        key = (value.dtype.str, value.shape, value.tobytes()) if value.size <= 64 else None
        if key is not None and key in self.constants:
            return self.constants[key]
        (v,) = self.add("constant", [], {"value": value}, loc)
        if key is not None:
            self.constants[key] = v
        return v

    def finish(self, outputs: list[Value]) -> Graph:
        """Close the graph: state writes become trailing assign nodes."""
        for var in self.variables:
            key = id(var)
            if self.current[key] is not self.state_in[key]:
                self.add("assign", [self.state_in[key], self.current[key]], {}, self.assign_loc.get(key))
        return Graph(self.name, self.inputs, self.nodes, outputs)


def current() -> TraceContext | None:
    if not _open:
        return None
    stack = _STATE.stack
    return stack[-1] if stack else None


def idle() -> bool:
    """No trace and no tape is recording on this thread: a compiled function may run its native
    code directly."""
    if not _open:
        return True
    state = _STATE
    return not state.stack and not state.eager_hooks


class tracing:
    """`with tracing(ctx):` makes ctx the active builder; `tracing(None)` suspends tracing."""

    def __init__(self, ctx: TraceContext | None):
        self.ctx = ctx

    def __enter__(self):
        _count(1)
        _STATE.stack.append(self.ctx)
        return self.ctx

    def __exit__(self, *exc):
        _STATE.stack.pop()
        _count(-1)


def eager_types_key(op: str, attrs: dict, inputs: list) -> tuple:
    return (op, tuple(sorted((k, _hashable(v)) for k, v in attrs.items())),
            tuple((type(x).__name__ == "Variable", tuple(x.shape), x.dtype.name) for x in inputs))


def _hashable(v):
    if isinstance(v, np.ndarray):
        return (v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, (list, tuple)):
        return tuple(_hashable(x) for x in v)
    return v


# compiled single-op programs by op, attributes, operand shapes and dtypes: the KILN_EAGER_CACHE used last
_EAGER: LRU[Any] = LRU(lambda: cfg.get().eager_cache)


def run_eager(op: str, inputs: list, attrs: dict[str, Any], loc: Loc | None):
    """Run one op on concrete operands (Arrays/Variables) through the compiler, cached."""
    from .compile import compile_graph
    from .variable import Variable

    key = eager_types_key(op, attrs, inputs)
    entry = _EAGER.get(key)
    if entry is None:
        ctx = TraceContext(op)
        vals = [ctx.read_variable(x) if isinstance(x, Variable) else ctx.arg(TensorType(x.shape, x.dtype))
                for x in inputs]
        outs = ctx.add(op, vals, attrs, None)  # NOTE: cached for every caller: errors take the caller's loc
        graph = Graph(op, ctx.inputs, ctx.nodes, outs)
        entry = compile_graph(graph).executable
        _EAGER.put(key, entry)
    # NOTE: kernels index buffers in C order; strided NumPy views are packed first (I/O, not compute)
    args = [x.data if x.data.flags.c_contiguous else np.asarray(x.data, order="C")
            for x in inputs if not isinstance(x, Variable)]
    states = [x.data for x in inputs if isinstance(x, Variable)]
    outs = entry(args, states)
    return outs[0] if outs else None


def default_dtype_of(x: Any) -> dt.DType:
    """dtype a Python scalar or nested list gets (float32 / int32 / bool, like JAX and TF)."""
    arr = np.asarray(x)
    if isinstance(x, (np.ndarray, np.generic)):
        return dt.as_dtype(arr.dtype)
    if arr.dtype.kind == "f":
        return dt.float32
    if arr.dtype.kind in "iu":
        return dt.int32
    if arr.dtype.kind == "b":
        return dt.bool_
    raise TypeError(f"kiln cannot make an array from {type(x).__name__}")
