"""kn.jit: trace on the first call per signature, compile, cache, and call native code.

A signature is the pytree structure of the arguments, each array leaf's shape and dtype,
each Python scalar's type (its value is traced, weakly typed), and the static arguments'
values. Every call is checked against it; a retrace logs what changed. A function keeps the
KILN_TRACE_CACHE signatures it used last (traced and compiled); an evicted signature's
native code is freed, like a dropped function's. Variables it captures are checked too: one
whose buffer was replaced by another shape retraces the signature.
"""
from __future__ import annotations

import functools
import inspect
import re
import logging
import threading
import warnings
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .. import config as cfg
from ..errors import TraceError
from ..ir import dtypes as dt
from ..ir.graph import Graph
from ..ir.printer import print_graph
from ..ir.types import TensorType
from ..runtime.cache import LRU
from . import pytree, trace
from .compile import Compiled, Lowered, compile_graph, lower_graph
from .core import lift
from .tensor import Array, Tensor
from .trace import TraceContext, current, tracing, user_loc
from .variable import Variable

log = logging.getLogger("kiln.jit")


def _is_leaf(x: Any) -> bool:
    return isinstance(x, (Variable, Array, Tensor, np.ndarray, np.generic, bool, int, float))


def _spec(x: Any) -> tuple:
    if isinstance(x, Variable):
        return ("var", x.shape, x.dtype.name)
    if isinstance(x, Array):
        return ("arr", x.shape, x.dtype.name)
    if isinstance(x, (np.ndarray, np.generic)):
        return ("arr", np.shape(x), dt.as_dtype(np.asarray(x).dtype).name)
    if isinstance(x, (bool, int, float)):
        return ("py", dt.as_dtype(type(x)).name)
    if isinstance(x, Tensor):
        raise x.leaked("as an argument of a compiled function")
    raise TypeError(f"a compiled function's arguments must be arrays, Variables, Python numbers or pytrees "
                    f"of them; got {type(x).__name__} (mark it static with static_argnums/static_argnames)")


def _describe(spec: tuple) -> str:
    if spec[0] == "py":
        return f"Python {spec[1]} scalar"
    return f"{'Variable ' if spec[0] == 'var' else ''}{spec[2]}{tuple(spec[1])}"


def _fast_key(args: tuple) -> tuple | None:
    """A cheap exact key for calls whose arguments are all plain arrays or Python scalars."""
    key = []
    for x in args:
        t = type(x)
        if t is np.ndarray:
            key.append((x.shape, x.dtype))
        elif t is Array:
            key.append((x.data.shape, x.data.dtype))
        elif t is float or t is int or t is bool:
            key.append(t)
        else:
            return None
    return tuple(key)


@dataclass
class _Entry:
    """One compiled signature: the executable and how leaves map onto its buffers."""

    compiled: Compiled
    arg_leaves: list[int]  # leaf index of each graph arg
    arg_dtypes: list[np.dtype]
    state_sources: list  # ("leaf", i) or ("captured", Variable)
    out_tree: Any
    key: tuple  # the signature
    owner: weakref.ref  # the JitFunction, which retraces the signature when a Variable changed shape

    def __post_init__(self) -> None:
        self._args = list(zip(self.arg_leaves, self.arg_dtypes))
        self._checked: list = [None] * len(self._args)  # the last array accepted for each argument as is
        self._single = self.out_tree == ("*",)
        states = [v.type for v in self.compiled.graph.inputs if v.role == "state"]
        self._states = [(t.shape, t.dtype.np) for t in states]
        self._replaced = -1  # Variable.replaced when the Variables' buffers were last checked

    def run(self, leaves: list) -> Any:
        if self._replaced != Variable.replaced:  # some Variable's buffer was replaced since the last call
            changed = self._changed_variable(leaves)
            if changed:
                return self.owner()._retrace_stale(self, leaves, changed)
            self._replaced = Variable.replaced
        args = []
        for n, (i, d) in enumerate(self._args):
            x = leaves[i]
            if type(x) is Array:
                x = x.data
            if x is not self._checked[n]:  # NOTE: an array's dtype and layout never change
                if isinstance(x, np.ndarray) and x.dtype == d and x.flags.c_contiguous:
                    self._checked[n] = x
                else:
                    x = np.asarray(x, dtype=d, order="C")
            args.append(x)
        states = [leaves[s].data if kind == "leaf" else s.data for kind, s in self.state_sources]
        outs = self.compiled.executable(args, states)
        if self._single:
            return Array(outs[0])
        return pytree.unflatten(self.out_tree, [Array(o) for o in outs])

    def _changed_variable(self, leaves: list) -> str:
        """What differs between the Variables' buffers now and the compiled state types ('' if nothing)."""
        for (kind, s), (shape, dtype) in zip(self.state_sources, self._states):
            var = leaves[s] if kind == "leaf" else s
            if var.data.shape != shape or var.data.dtype != dtype:
                was, now = f"{np.dtype(dtype).name}{tuple(shape)}", f"{var.data.dtype.name}{var.shape}"
                return f"Variable {var.name!r}: {was} -> {now}"
        return ""


class CompiledFunction:
    """The `.compile()` stage: a native callable for one signature, with its LLVM IR and asm."""

    def __init__(self, jitted: "JitFunction", key: tuple, entry: _Entry):
        self._jitted, self._key, self._entry = jitted, key, entry

    def __call__(self, *args, **kwargs):
        key, leaves = self._jitted._signature(args, kwargs)
        if key != self._key:
            raise TypeError(f"{self._jitted.__name__}: compiled for another signature: "
                            + self._jitted._diff(self._key, key))
        return self._entry.run(leaves)

    def as_llvm_ir(self) -> str:
        return self._entry.compiled.as_llvm_ir()

    def as_asm(self) -> str:
        return self._entry.compiled.as_asm()

    def as_kernels(self) -> str:
        return self._entry.compiled.as_kernels()


@dataclass
class Traced:
    """The `.trace()` stage: the graph exactly as traced."""

    graph: Graph

    def as_text(self) -> str:
        return print_graph(self.graph)


class LoweredFunction:
    """The `.lower()` stage: the optimised graph and its kernels."""

    def __init__(self, jitted: "JitFunction", key: tuple, lowered: Lowered, traced: tuple):
        self._jitted, self._key, self.lowered = jitted, key, lowered
        self._traced = traced  # kept here: the function's bounded trace cache may have dropped it
        self.graph = lowered.graph

    def as_text(self) -> str:
        return self.lowered.as_text()

    def to_dot(self) -> str:
        return self.lowered.to_dot()

    def render(self, path: str, fmt: str = "svg") -> str:
        return self.lowered.render(path, fmt)

    def as_kernels(self) -> str:
        return self.lowered.as_kernels()

    def memory(self) -> dict:
        return self.lowered.memory()

    def kernel_counts(self) -> dict[str, int]:
        return self.lowered.kernel_counts()

    def compile(self) -> CompiledFunction:
        with self._jitted._lock:
            return CompiledFunction(self._jitted, self._key, self._jitted._entry(self._key, traced=self._traced))


class JitFunction:
    def __init__(self, fn: Callable, static_argnums=(), static_argnames=(), device: str = "cpu"):
        if device != "cpu":
            raise NotImplementedError(f"device {device!r}: this build of kiln compiles for the CPU")
        functools.update_wrapper(self, fn)
        if not hasattr(self, "__name__"):  # a callable object, e.g. a kn.nn.Module
            self.__name__ = type(fn).__name__
        self.fn = fn
        self.sig = inspect.signature(fn)
        params = list(self.sig.parameters)
        nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
        names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames)
        self.static = set(names) | {params[i] for i in nums if i < len(params)}
        self.cache: LRU[_Entry] = LRU(lambda: cfg.get().trace_cache)  # signature -> compiled code
        # traced, not compiled yet (`.trace()`, `.lower()`)
        self.traces: LRU[tuple[Graph, list, Any]] = LRU(lambda: cfg.get().trace_cache)
        self.trace_count = 0
        self._last_key: tuple | None = None
        kinds = {p.kind for p in self.sig.parameters.values()}
        # NOTE: the fast path keys on positional arrays/scalars alone; it is sound only when
        # every parameter is positional, dynamic and has no default.
        self._fast_ok = not self.static and kinds <= {inspect.Parameter.POSITIONAL_ONLY,
                                                      inspect.Parameter.POSITIONAL_OR_KEYWORD} and \
            all(p.default is inspect.Parameter.empty for p in self.sig.parameters.values())
        self._fast: dict[tuple, _Entry] = {}
        # NOTE: tracing and compiling hold this lock (one trace per function at a time: a first
        # trace that creates Variables runs once); calls of compiled entries never take it.
        self._lock = threading.RLock()

    # signature -------------------------------------------------------------------------------
    def _signature(self, args, kwargs) -> tuple[tuple, list]:
        try:
            bound = self.sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{self.__name__}{self.sig}: {e}") from None
        statics, dynamic = [], []  # NOTE: parameters left to their defaults stay Python values (as in JAX)
        for name, value in bound.arguments.items():
            if name in self.static:
                try:
                    hash(value)
                except TypeError:
                    raise TypeError(f"{self.__name__}: static argument {name!r} must be hashable, "
                                    f"got {type(value).__name__}") from None
                statics.append((name, value))
            else:
                dynamic.append((name, value))
        leaves, treedef = pytree.flatten(tuple(v for _, v in dynamic), _is_leaf)
        treedef = (tuple(n for n, _ in dynamic), treedef)
        try:
            specs = tuple(_spec(x) for x in leaves)
        except TypeError as e:
            raise TypeError(f"{self.__name__}: {e}") from None
        return (treedef, specs, tuple(statics)), leaves

    def _diff(self, old: tuple, new: tuple) -> str:
        if old[0] != new[0]:
            return "argument structure changed (pytree of arguments differs)"
        if old[2] != new[2]:
            changed = [f"static {a[0]!r}: {a[1]!r} -> {b[1]!r}" for a, b in zip(old[2], new[2]) if a != b]
            return "; ".join(changed) or "static arguments changed"
        diffs = []
        for i, (a, b) in enumerate(zip(old[1], new[1])):
            if a != b:
                if a[0] == b[0] == "arr" and a[2] == b[2]:
                    diffs.append(f"arg {i}: shape {tuple(a[1])} -> {tuple(b[1])}")
                else:
                    diffs.append(f"arg {i}: {_describe(a)} -> {_describe(b)}")
        return "; ".join(diffs) or "signature changed"

    # tracing ---------------------------------------------------------------------------------
    def _trace(self, key: tuple, leaves: list) -> tuple[Graph, list, Any]:
        traced = self.traces.get(key)
        if traced is not None:
            return traced
        ctx = TraceContext(re.sub(r"\W", "_", self.__name__) or "fn")
        first = self.trace_count == 0
        wrapped = []
        for x, spec in zip(leaves, key[1]):
            if spec[0] == "var":
                wrapped.append(x)
            elif spec[0] == "py":
                wrapped.append(Tensor(ctx.arg(TensorType((), dt.as_dtype(spec[1]))), weak=True))
            else:
                wrapped.append(Tensor(ctx.arg(TensorType(tuple(spec[1]), dt.as_dtype(spec[2])))))
        names, tree = key[0]
        dyn = dict(zip(names, pytree.unflatten(tree, wrapped)))
        kwargs = dict(key[2]) | dyn
        ordered = {name: kwargs[name] for name in self.sig.parameters if name in kwargs}

        def no_new_variables(var):
            if not first:
                raise TraceError(f"{self.__name__} created Variable {var.name!r} while retracing; create "
                                 "Variables on the first call only (or outside the compiled function)",
                                 loc=user_loc())
        trace.creation_hooks().append(no_new_variables)
        try:
            with tracing(ctx):
                bound = inspect.BoundArguments(self.sig, OrderedDict(ordered))
                out = self.fn(*bound.args, **bound.kwargs)
                out_leaves, out_tree = pytree.flatten(out, _is_leaf)
                values = [lift(o).value for o in out_leaves]
        finally:
            trace.creation_hooks().remove(no_new_variables)
        graph = ctx.finish(values)
        var_leaf = {id(x): i for i, (x, s) in enumerate(zip(leaves, key[1])) if s[0] == "var"}
        sources = [("leaf", var_leaf[id(v)]) if id(v) in var_leaf else ("captured", v) for v in ctx.variables]
        self.trace_count += 1
        if self._last_key is not None and self._last_key != key:
            log.info("retracing %s (trace %d): %s", self.__name__, self.trace_count, self._diff(self._last_key, key))
        if self.trace_count == cfg.get().retrace_warn:
            warnings.warn(f"{self.__name__} has been traced {self.trace_count} times; last change: "
                          f"{self._diff(self._last_key, key) if self._last_key else 'first call'}. Mark "
                          "changing Python values static or keep shapes fixed", stacklevel=4)
        self.traces.put(key, (graph, sources, out_tree))
        return graph, sources, out_tree

    def _entry(self, key: tuple, leaves: list | None = None, traced: tuple | None = None) -> _Entry:
        entry = self.cache.get(key)
        if entry is not None:
            return entry
        graph, sources, out_tree = traced or self._trace(key, leaves)
        compiled = compile_graph(graph)
        arg_leaves = [i for i, s in enumerate(key[1]) if s[0] != "var"]
        dtypes = [v.type.dtype.np for v in graph.args]
        entry = _Entry(compiled, arg_leaves, dtypes, sources, out_tree, key, weakref.ref(self))
        self._forget(self.cache.put(key, entry))
        self.traces.pop(key)
        self._last_key = key
        return entry

    def _forget(self, entries: list[_Entry]) -> None:
        """Drop every other reference to evicted entries, so that their code is freed."""
        if entries:
            gone = {id(e) for e in entries}
            self._fast = {k: e for k, e in self._fast.items() if id(e) not in gone}

    def _retrace_stale(self, stale: _Entry, leaves: list, why: str) -> Any:
        """A Variable `stale` reads has another shape or dtype now: trace its signature again."""
        if self.cache.get(stale.key) is stale:
            self._forget([self.cache.pop(stale.key)])
            log.info("retracing %s: %s", self.__name__, why)
        return self._entry(stale.key, leaves).run(leaves)

    # public ----------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        fast = _fast_key(args) if self._fast_ok and not kwargs else None
        if fast is not None and trace.idle():
            entry = self._fast.get(fast)
            if entry is not None:
                return entry.run(args)
        if current() is not None:  # called while tracing another function: inline it
            return self.fn(*args, **kwargs)
        if trace.eager_hooks():  # an eager GradientTape is recording: run op by op so it sees every op
            return self.fn(*args, **kwargs)
        key, leaves = self._signature(args, kwargs)
        entry = self.cache.get(key)
        if entry is None:
            with self._lock:
                entry = self._entry(key, leaves)
        if fast is not None and len(self._fast) < cfg.get().trace_cache:
            self._fast[fast] = entry
        return entry.run(leaves)

    def trace(self, *args, **kwargs) -> Traced:
        key, leaves = self._signature(args, kwargs)
        with self._lock:
            return Traced(self._trace(key, leaves)[0])

    def lower(self, *args, **kwargs) -> LoweredFunction:
        key, leaves = self._signature(args, kwargs)
        with self._lock:
            traced = self._trace(key, leaves)
        return LoweredFunction(self, key, lower_graph(traced[0]), traced)

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self.__call__, obj)


def jit(fn: Callable | None = None, *, static_argnums=(), static_argnames=(), device: str = "cpu"):
    """Compile `fn` (usable as @jit, @jit(...), or jit(fn, ...))."""
    if fn is None:
        return lambda f: JitFunction(f, static_argnums, static_argnames, device)
    return JitFunction(fn, static_argnums, static_argnames, device)


function = jit
