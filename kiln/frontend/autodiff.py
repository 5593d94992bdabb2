"""kn.grad / kn.value_and_grad and kn.GradientTape: reverse mode as a graph transformation.

Gradients are ordinary traced ops (passes.autodiff.backward emits each op's registry VJP into
the active trace), so they compose to any order and compile like any other code. Inside a
trace the differentiated function is traced in place; eagerly, kn.grad traces a whole graph
and compiles it, and a tape differentiates the eager ops it recorded (trace.eager_hooks(), per thread).
"""
from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import TraceError
from ..ir.builder import Emitter, node_adder
from ..ir.graph import Graph, Node, Value
from ..ir.types import TensorType
from ..passes.autodiff import backward, depends_on
from . import pytree, trace
from .compile import compile_graph
from .core import apply, is_weak, lift
from .ops import stop_gradient
from .tensor import Array, Tensor
from .trace import TraceContext, current, tracing, user_loc
from .variable import Variable

__all__ = ["grad", "value_and_grad", "GradientTape", "stop_gradient"]
log = logging.getLogger("kiln.autodiff")


def _is_leaf(x: Any) -> bool:
    return isinstance(x, (Variable, Array, Tensor, np.ndarray, np.generic, bool, int, float))


def _emit_into(ctx: TraceContext, loc) -> Callable[[str, list, dict], list]:
    return lambda op, inputs, attrs: ctx.add(op, inputs, attrs, loc)


# kn.grad / kn.value_and_grad --------------------------------------------------------------

def grad(f: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """The gradient of scalar-valued `f` with respect to the arguments `argnums` (JAX semantics).

    Integer and bool leaves get None as their gradient; unconnected float leaves get zeros.
    """
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        value, grads = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return grad_f


def value_and_grad(f: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Callable:
    """`f`'s value (with aux when has_aux) and its gradient, computed in one graph."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        for i in nums:
            if not -len(args) <= i < len(args):
                name = getattr(f, "__name__", "f")
                raise TypeError(f"differentiating with respect to argnums={argnums}, but {name} was called "
                                f"with {len(args)} positional arguments")
        spec = ([i % len(args) for i in nums], isinstance(argnums, int), has_aux)
        if current() is not None:
            return _vg_traced(f, list(args), kwargs, *spec)
        return _vg_eager(f, list(args), kwargs, *spec)
    return value_and_grad_f


def _vg_traced(f, args: list, kwargs: dict, nums: list[int], single: bool, has_aux: bool):
    """Trace `f` into the active context and differentiate the nodes it added."""
    ctx, loc = current(), user_loc()
    start = len(ctx.nodes)
    groups = []
    for i in nums:
        leaves, td = pytree.flatten(args[i], _is_leaf)
        new, srcs = [], []
        for leaf in leaves:
            t = lift(leaf)
            if t.dtype.is_float:  # a fresh alias, so the same value passed twice differentiates apart
                (v,) = ctx.add("reshape", [t.value], {"shape": t.shape}, loc)
                new.append(Tensor(v, is_weak(leaf)))
                srcs.append(v)
            else:
                new.append(leaf)
                srcs.append(None)
        args[i] = pytree.unflatten(td, new)
        groups.append((td, srcs))
    out = f(*args, **kwargs)
    if has_aux:
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("has_aux=True needs the function to return a pair (output, aux)")
        out, aux = out
    y = lift(out)
    if y.shape != () or not y.dtype.is_float:
        raise TypeError(f"grad needs a function returning a float scalar, got {y.dtype.name}{tuple(y.shape)} "
                        "(use kn.GradientTape, or reduce with kn.sum)")
    flat = [s for _, srcs in groups for s in srcs if s is not None]
    emit = _emit_into(ctx, loc)
    found = iter(backward(ctx.nodes[start:], y.value, flat, emit))
    e = Emitter(emit)
    grads = []
    for td, srcs in groups:
        leaves = []
        for s in srcs:
            d = None if s is None else next(found)
            leaves.append(None if s is None else Tensor(d if d is not None else e.zeros_like(s)))
        grads.append(pytree.unflatten(td, leaves))
    return ((y, aux) if has_aux else y), (grads[0] if single else tuple(grads))


def _vg_eager(f, args: list, kwargs: dict, nums: list[int], single: bool, has_aux: bool):
    """Trace the whole value-and-gradient computation as one graph, compile it, run it."""
    name = re.sub(r"\W", "_", getattr(f, "__name__", "f"))
    ctx = TraceContext(f"grad_{name}")
    feeds: list[np.ndarray] = []

    def as_arg(leaf):
        if isinstance(leaf, Tensor):
            raise TraceError("a kn.Tensor escaped the compiled function that traced it", loc=user_loc())
        data = leaf.data if isinstance(leaf, (Array, Variable)) else leaf
        weak = is_weak(leaf)
        d = trace.default_dtype_of(data)
        v = ctx.arg(TensorType(np.shape(data), d))
        feeds.append(np.array(data, dtype=d.np, order="C"))
        return Tensor(v, weak)

    def arrays_as_args(tree):
        leaves, td = pytree.flatten(tree, _is_leaf)
        return pytree.unflatten(td, [as_arg(x) if isinstance(x, (Array, np.ndarray)) else x for x in leaves])

    for i, a in enumerate(args):
        if i in nums:
            leaves, td = pytree.flatten(a, _is_leaf)
            args[i] = pytree.unflatten(td, [as_arg(x) for x in leaves])
        else:
            args[i] = arrays_as_args(a)
    kwargs = {k: arrays_as_args(v) for k, v in kwargs.items()}
    with tracing(ctx):
        result = _vg_traced(f, args, kwargs, nums, single, has_aux)
        leaves, td = pytree.flatten(result, _is_leaf)
        traced = [i for i, x in enumerate(leaves) if isinstance(x, Tensor)]
        values = [leaves[i].value for i in traced]
    graph = ctx.finish(values)
    outs = compile_graph(graph).executable(feeds, [v.data for v in ctx.variables])
    for i, o in zip(traced, outs):
        leaves[i] = Array(o)
    return pytree.unflatten(td, leaves)


# GradientTape ---------------------------------------------------------------------------

@dataclass(eq=False)
class _Rec:
    """One eager op seen by a tape: the shape of a graph Node over concrete arrays."""

    op: str
    inputs: tuple
    attrs: dict
    outputs: tuple

    @property
    def out(self):
        return self.outputs[0]


class GradientTape:
    """Records kiln ops while active; `gradient(target, sources)` differentiates them.

    TensorFlow semantics: trainable Variables are watched when read (unless
    watch_accessed_variables=False), other arrays only after `watch`; a non-persistent tape
    answers one `gradient` call; an unconnected source gets None. Inside a compiled function
    the tape differentiates the traced nodes made while it was active; eagerly it records
    every op of its thread through trace.eager_hooks().
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._used = self._active = False
        self._ctx: TraceContext | None = None
        self._span = [0, None]  # traced nodes recorded: ctx.nodes[start:end]
        self._at_enter: dict[int, Value] = {}  # traced: each Variable's value when recording began
        self._watched: dict[int, Any] = {}  # id -> watched Value (traced) or Array (eager)
        self._watched_vars: dict[int, Variable] = {}
        self._records: list[_Rec] = []
        self._reads: dict[int, list[Array]] = {}  # eager: id(var) -> snapshots, one per version
        self._vars: dict[int, Variable] = {}
        self._assigned: set[int] = set()

    # recording ----------------------------------------------------------------------------
    def __enter__(self) -> "GradientTape":
        if self._active:
            raise RuntimeError("this GradientTape is already recording")
        ctx = current()
        if ctx is not None:
            self._ctx, self._span = ctx, [len(ctx.nodes), None]
            self._at_enter = dict(ctx.current)
        else:
            trace.start_recording(self._record)
        self._active = True
        return self

    def __exit__(self, *exc) -> None:
        self._active = False
        if self._ctx is not None:
            self._span[1] = len(self._ctx.nodes)
        else:
            trace.stop_recording(self._record)

    def _record(self, op: str, operands: list, attrs: dict, result: Any) -> None:
        if op == "assign":
            self._assigned.add(id(operands[0]))
            reads = self._reads.get(id(operands[0]))
            if reads and reads[-1] is not None:
                reads.append(None)  # the next read takes a new snapshot
            return
        if result is not None:
            ins = tuple(self._read(x) if isinstance(x, Variable) else x for x in operands)
            self._records.append(_Rec(op, ins, dict(attrs), (result,)))

    def _read(self, var: Variable) -> Array:
        reads = self._reads.setdefault(id(var), [])
        if not reads or reads[-1] is None:
            if reads:
                reads.pop()
            reads.append(Array(var.data.copy()))  # NOTE: assign writes in place; keep the value read
            self._vars[id(var)] = var
        return reads[-1]

    def watch(self, x: Any) -> None:
        """Record gradients with respect to `x` (an Array, traced Tensor, Variable or pytree)."""
        for leaf in pytree.flatten(x, _is_leaf)[0]:
            if isinstance(leaf, Variable):
                self._watched_vars[id(leaf)] = leaf
            elif isinstance(leaf, Tensor):
                self._watched[id(leaf.value)] = leaf.value
            elif isinstance(leaf, Array):
                self._watched[id(leaf)] = leaf
            else:
                raise TypeError(f"GradientTape.watch needs kn.Arrays, Tensors or Variables, got "
                                f"{type(leaf).__name__} (convert it with kn.asarray and use that array)")

    def watched_variables(self) -> tuple[Variable, ...]:
        seen = dict(self._watched_vars)
        if self.watch_accessed_variables:
            seen.update((k, v) for k, v in self._vars.items() if v.trainable)
            if self._ctx is not None:
                seen.update((id(v), v) for v in self._ctx.variables if v.trainable)
        return tuple(seen.values())

    def _watches(self, var: Variable) -> bool:
        return id(var) in self._watched_vars or (self.watch_accessed_variables and var.trainable)

    # gradients ----------------------------------------------------------------------------
    def gradient(self, target: Any, sources: Any, output_gradients: Any = None,
                 unconnected_gradients: str = "none") -> Any:
        """d(sum of targets)/d(source) for each source, in the structure of `sources`."""
        if self._used and not self.persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of "
                               "gradients; use GradientTape(persistent=True)")
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError("unconnected_gradients must be 'none' or 'zero'")
        self._used = True
        src_leaves, src_tree = pytree.flatten(sources, _is_leaf)
        targets = pytree.flatten(target, _is_leaf)[0]
        seeds = [None] * len(targets) if output_gradients is None else \
            pytree.flatten(output_gradients, _is_leaf)[0]
        if len(seeds) != len(targets):
            raise ValueError(f"output_gradients has {len(seeds)} arrays for {len(targets)} targets")
        if self._ctx is not None:
            grads = self._gradient_traced(targets, src_leaves, seeds)
        else:
            grads = self._gradient_eager(targets, src_leaves, seeds)
        if unconnected_gradients == "zero":
            from .shape_ops import zeros_like
            grads = [zeros_like(s) if d is None else d for s, d in zip(src_leaves, grads)]
        return pytree.unflatten(src_tree, grads)

    def _gradient_traced(self, targets: list, sources: list, seeds: list) -> list:
        ctx, loc = self._ctx, user_loc()
        if current() is not ctx:
            raise TraceError("this GradientTape recorded inside a compiled function; ask it for gradients "
                             "there, not outside", loc=loc)
        start, end = self._span
        nodes = ctx.nodes[start:len(ctx.nodes) if end is None else end]

        def var_value(var):
            return self._at_enter.get(id(var), ctx.state_in.get(id(var)))
        watched = list(self._watched.values()) + [var_value(v) for v in ctx.variables if self._watches(v)]
        reach = depends_on(nodes, [v for v in watched if v is not None])
        srcs = []
        for s in sources:
            if isinstance(s, Variable):
                v = var_value(s)
            elif isinstance(s, Tensor):
                v = s.value
            else:
                raise TypeError(f"gradient sources are Variables or traced tensors, not {type(s).__name__}")
            srcs.append(v if v is not None and id(v) in reach else None)
        tvals = [lift(t).value for t in targets]
        svals = [None if s is None else lift(s, t.dtype).value for s, t in zip(seeds, tvals)]
        found = backward(nodes, tvals, srcs, _emit_into(ctx, loc), svals)
        return [None if d is None else Tensor(d) for d in found]

    def _gradient_eager(self, targets: list, sources: list, seeds: list) -> list:
        records = list(self._records)
        watched = list(self._watched.values())
        for key, reads in self._reads.items():
            var = self._vars.get(key)
            if var is not None and self._watches(var):
                watched += [r for r in reads if r is not None]
        reach = depends_on(records, watched)
        records = [r for r in records if id(r.out) in reach]
        groups = []  # per source: the arrays whose gradients add up to its gradient
        for s in sources:
            if isinstance(s, Variable):
                group = [r for r in self._reads.get(id(s), []) if r is not None]
            elif isinstance(s, (Array, Tensor)):
                group = [s]
            else:
                raise TypeError(f"gradient sources must be Variables or kn.Arrays, got {type(s).__name__}")
            groups.append([x for x in group if id(x) in reach])
        tgts = [self._reads[id(t)][-1] if isinstance(t, Variable) and self._reads.get(id(t)) else t
                for t in targets]
        made = {id(r.out) for r in self._records} | set(self._watched)
        if any(isinstance(t, Array) and id(t) not in made for t in tgts):
            log.warning("GradientTape.gradient: the target was not computed by kiln ops this tape recorded "
                        "(was it computed before the tape started, or converted to NumPy?), so its "
                        "gradients are None")
        seeds = [None if s is None else lift(s, t.dtype) for s, t in zip(seeds, tgts)]
        flat = [x for g in groups for x in g]
        if trace.eager_hooks():  # another tape is recording: run op by op so it sees the gradient ops
            return self._op_by_op(records, tgts, flat, seeds, groups)
        return self._compiled(records, tgts, flat, seeds, groups)

    def _op_by_op(self, records, tgts, flat, seeds, groups) -> list:
        # use the Variable itself where its value has not changed, so outer tapes connect to it
        live = {id(r): self._vars[k] for k, reads in self._reads.items()
                if k not in self._assigned and k in self._vars for r in reads if r is not None}

        def sub(x):
            return live.get(id(x), x)
        nodes = [_Rec(r.op, tuple(sub(x) for x in r.inputs), r.attrs, r.outputs) for r in records]

        def emit(op, inputs, attrs):
            return [apply(op, list(inputs), **attrs)]
        found = backward(nodes, [sub(t) for t in tgts], [sub(x) for x in flat], emit, seeds)
        return _regroup(Emitter(emit), groups, found)

    def _compiled(self, records, tgts, flat, seeds, groups) -> list:
        vals: dict[int, Value] = {}
        data: dict[int, np.ndarray] = {}

        def val(x):
            if id(x) not in vals:
                vals[id(x)] = Value(TensorType(tuple(x.shape), x.dtype), role="arg")
                data[id(x)] = x.data
            return vals[id(x)]
        nodes = [Node(r.op, tuple(val(x) for x in r.inputs), r.attrs, (val(r.out),)) for r in records]
        built: list[Node] = []
        add = node_adder(built)
        found = backward(nodes, [val(t) for t in tgts], [val(x) for x in flat], add,
                         [None if s is None else val(s) for s in seeds])
        grads = _regroup(Emitter(add), groups, found)
        outs = [d for d in grads if d is not None]
        if not outs:
            return grads
        used = {id(v) for n in built for v in n.inputs} | {id(v) for v in outs}
        by_id = {id(v): k for k, v in vals.items()}
        inputs = [v for v in vals.values() if id(v) in used]
        graph = Graph("tape_gradient", inputs, built, outs)
        feeds = [np.ascontiguousarray(data[by_id[id(v)]]) for v in inputs]
        it = iter(compile_graph(graph).executable(feeds, []))
        return [None if d is None else Array(next(it)) for d in grads]


def _regroup(e: Emitter, groups: list[list], found: list) -> list:
    """One gradient per source: the sum over its arrays (a Variable's reads), None if none."""
    it = iter(found)
    out = []
    for group in groups:
        total = None
        for d in (next(it) for _ in group):
            if d is not None:
                total = d if total is None else e.add(total, d)
        out.append(total)
    return out
