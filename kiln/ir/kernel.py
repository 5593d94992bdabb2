"""Kernel IR: an index space, an optional reduction space, and a scalar body.

The scalar body is a DAG of `Expr` over a CLOSED set of scalar ops (SCALAR_OPS); every
backend lowers exactly that set. A Kernel writes its Stores once per point of `shape`
(or, for a reduction, once per point after combining over `rshape`). The outer index
space maps onto CPU threads/vectors and GPU grids alike.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from . import dtypes as dt
from .dtypes import DType

UNARY = ("neg", "abs", "sign", "exp", "log", "log1p", "sqrt", "sin", "cos", "tanh", "floor", "ceil",
         "not", "isnan", "sigmoid")
BINARY = ("add", "sub", "mul", "div", "floordiv", "mod", "pow", "max", "min", "lt", "le", "gt", "ge", "eq",
          "ne", "and", "or", "xor", "shl", "lshr")
SCALAR_OPS = frozenset(("const", "idx", "ridx", "acc", "load", "select", "cast", "check") + UNARY + BINARY)
COMPARE = frozenset(("lt", "le", "gt", "ge", "eq", "ne"))
REDUCTIONS = frozenset(("sum", "prod", "max", "min", "argmax", "argmin"))
INDEX = dt.int64
GUARD = "guard"  # attr of a select whose true operand is evaluated only where its condition holds


class Expr:
    """One scalar SSA value; hash-consed by its KernelBuilder, so identity is equality."""

    __slots__ = ("op", "dtype", "args", "attr")

    def __init__(self, op: str, dtype: DType, args: tuple["Expr", ...], attr: Any = None):
        self.op, self.dtype, self.args, self.attr = op, dtype, args, attr

    @property
    def is_const(self) -> bool:
        return self.op == "const"

    def __repr__(self) -> str:
        return f"Expr({self.op}, {self.dtype.short}, attr={self.attr})"


@dataclass(frozen=True)
class Store:
    """Write `value` to buffer slot `buf` at element `offset` ("set"), or add to it ("add")."""

    buf: int
    offset: Expr
    value: Expr
    mode: str = "set"


@dataclass(frozen=True)
class Reduction:
    """Combine `value` (an Expr over idx and ridx) over the reduction space with `kind`
    (sum prod max min argmax argmin, or the running sum `cumsum`)."""

    kind: str
    value: Expr


@dataclass(frozen=True)
class Gemm:
    """C = op(A) @ op(B) on row-major buffers, once per batch index (op transposes when
    `trans_*`); a batch stride of 0 broadcasts that operand. Lowered to a BLAS call."""

    a: int
    b: int
    c: int
    m: int
    n: int
    k: int
    trans_a: bool = False
    trans_b: bool = False
    batch: tuple[int, ...] = ()
    a_strides: tuple[int, ...] = ()  # elements per batch step, one per batch dim
    b_strides: tuple[int, ...] = ()


@dataclass
class Kernel:
    """For every point of `shape`: the reductions, in order, each combine their value over
    `rshape` (reduction j may read the results `acc i` of reductions i < j, so softmax's max
    and sum run in one kernel); then the stores run — once, or, for stores whose offset uses
    `ridx`, once per point of `rshape` (a row written after its statistics are known).
    A scan (`cumsum`) instead stores at every reduction step, `acc 0` being the running sum."""

    name: str
    shape: tuple[int, ...]
    stores: tuple[Store, ...]
    rshape: tuple[int, ...] = ()
    reductions: tuple[Reduction, ...] = ()
    reads: tuple[int, ...] = field(default=())
    origin: tuple[int, ...] = ()  # indices of the graph nodes it computes (for DOT clusters)
    gemm: Gemm | None = None  # runs before the stores, which may read its C (an epilogue)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def writes(self) -> set[int]:
        return {s.buf for s in self.stores} | ({self.gemm.c} if self.gemm else set())

    @property
    def is_scan(self) -> bool:
        return any(r.kind == "cumsum" for r in self.reductions)

    def roots(self) -> list[Expr]:
        """Every expression the kernel evaluates: reduction values, store offsets and values."""
        return [r.value for r in self.reductions] + [e for s in self.stores for e in (s.offset, s.value)]


def nodes(roots: Iterable[Expr]) -> Iterator[Expr]:
    """Every expression under `roots`, each once (Exprs are shared DAGs)."""
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        e = stack.pop()
        if id(e) not in seen:
            seen.add(id(e))
            yield e
            stack.extend(e.args)


def postorder(roots: Iterable[Expr], into: Callable[[Expr], Iterable[Expr]] = lambda e: e.args,
              done: set[int] | None = None) -> Iterator[Expr]:
    """Every expression under `roots` not yet in `done` (ids), each once and after the arguments
    `into` names (all of them by default): the order a recursive walk visits them in, with a
    stack of our own, so a body of any depth is walked within Python's recursion limit."""
    done = set() if done is None else done
    for root in roots:
        stack = [(root, False)]
        while stack:
            e, expanded = stack.pop()
            if id(e) in done:
                continue
            args = () if expanded else [a for a in into(e) if id(a) not in done]
            if args:
                stack.append((e, True))
                stack.extend((a, False) for a in reversed(args))
            else:
                done.add(id(e))
                yield e


def rebuild(roots: Iterable[Expr], fn: Callable[[Expr, tuple[Expr, ...]], Expr]) -> dict[int, Expr]:
    """`fn(e, new_args)` for every expression under `roots`, bottom-up: id(e) -> its rebuilt form."""
    memo: dict[int, Expr] = {}
    for e in postorder(roots):
        memo[id(e)] = fn(e, tuple(memo[id(a)] for a in e.args))
    return memo


def refs(e: Expr, op: str) -> set:
    """The attrs of every `op` leaf under e (acc indices, buffer slots, index dims)."""
    return {x.attr for x in nodes([e]) if x.op == op}


_HEAVY = {op: 16 for op in ("exp", "log", "log1p", "tanh", "sin", "cos", "pow", "div", "floordiv", "mod")}
_HEAVY["sigmoid"] = 32  # an exp and a division


def body_size(roots: list[Expr]) -> int:
    """Roughly the instructions evaluating `roots` takes once unrolled: one per value op or
    load, more for the ops that expand into a polynomial or a division; index arithmetic is
    free (unrolling makes the reduction indices constants, so it folds away)."""
    return sum(_HEAVY.get(e.op, 1) for e in nodes(roots)
               if e.dtype is not INDEX and e.op not in ("const", "idx", "ridx"))


def make_kernel(name: str, shape: tuple[int, ...], stores: tuple[Store, ...], rshape: tuple[int, ...] = (),
                reductions: tuple[Reduction, ...] = (), origin: tuple[int, ...] = (), gemm: Gemm | None = None
                ) -> Kernel:
    """A Kernel whose `reads` are exactly the buffers it loads (and its GEMM's operands)."""
    k = Kernel(name, tuple(shape), tuple(stores), tuple(rshape), tuple(reductions), origin=tuple(origin),
               gemm=gemm)
    k.reads = tuple(sorted({e.attr for e in loads(k)} | ({gemm.a, gemm.b} if gemm else set())))
    return k


def loads(k: Kernel) -> list[Expr]:
    """Every load in the kernel's body, each once."""
    return [e for e in nodes(k.roots()) if e.op == "load"]


def checks(k: Kernel) -> list[Expr]:
    """Every index check in the kernel's body (they write the program's status buffer)."""
    return [e for e in nodes(k.roots()) if e.op == "check"]


def retarget(k: Kernel, old: int, new: int) -> Kernel:
    """The kernel with every load from and store to buffer slot `old` moved to slot `new`."""
    def moved(e: Expr, args: tuple[Expr, ...]) -> Expr:
        attr = new if e.op == "load" and e.attr == old else e.attr
        return e if args == e.args and attr == e.attr else Expr(e.op, e.dtype, args, attr)
    memo = rebuild(k.roots(), moved)
    stores = tuple(Store(new if s.buf == old else s.buf, memo[id(s.offset)], memo[id(s.value)], s.mode)
                   for s in k.stores)
    reductions = tuple(Reduction(r.kind, memo[id(r.value)]) for r in k.reductions)
    gemm = k.gemm and dataclasses.replace(k.gemm, **{f: new for f in ("a", "b", "c") if getattr(k.gemm, f) == old})
    return make_kernel(k.name, k.shape, stores, k.rshape, reductions, k.origin, gemm)


class KernelBuilder:
    """Builds Exprs, interning them and folding constants and trivial index arithmetic."""

    def __init__(self) -> None:
        self._memo: dict[tuple, Expr] = {}
        self._splits: dict[tuple[int, ...], tuple[Expr, tuple[int, ...]]] = {}  # delinear results
        self.reads: set[int] = set()

    def _mk(self, op: str, dtype: DType, args: tuple[Expr, ...], attr: Any = None) -> Expr:
        tag = math.copysign(1.0, attr) if isinstance(attr, float) else None  # 0.0 and -0.0 differ
        key = (op, dtype, attr, tag, tuple(id(a) for a in args))
        e = self._memo.get(key)
        if e is None:
            e = self._memo[key] = Expr(op, dtype, args, attr)
        return e

    # leaves
    def const(self, value: Any, dtype: DType = INDEX) -> Expr:
        value = bool(value) if dtype.is_bool else (int(value) if dtype.is_int else float(value))
        return self._mk("const", dtype, (), value)

    def idx(self, d: int) -> Expr:
        return self._mk("idx", INDEX, (), d)

    def ridx(self, d: int) -> Expr:
        return self._mk("ridx", INDEX, (), d)

    def acc(self, j: int, dtype: DType) -> Expr:
        """The result of the kernel's reduction j (its running value, in a scan)."""
        return self._mk("acc", dtype, (), j)

    def load(self, buf: int, offset: Expr, dtype: DType) -> Expr:
        self.reads.add(buf)
        return self._mk("load", dtype, (offset,), buf)

    # structure
    def select(self, c: Expr, a: Expr, b: Expr) -> Expr:
        if c.is_const:
            return a if c.attr else b
        return self._mk("select", a.dtype, (c, a, b))

    def guard(self, c: Expr, a: Expr, fill: Expr) -> Expr:
        """`c ? a : fill` where `a` is evaluated only where c holds, so its loads may index
        outside their buffer elsewhere (padding, window borders): no clamping, and a loop
        over such points vectorizes with masked loads."""
        if c.is_const:
            return a if c.attr else fill
        return self._mk("select", a.dtype, (c, a, fill), GUARD)

    def check(self, i: Expr, site: Any) -> Expr:
        """Index `i` (any integer dtype) as an offset in [0, site.bound): a negative one counts
        from the end where `site.negative`; a bad one is recorded in the status buffer (the
        call raises `site.error` once it returns) and reads offset 0 meanwhile."""
        return self._mk("check", INDEX, (self.cast(i, INDEX),), site)

    def cast(self, x: Expr, dtype: DType) -> Expr:
        if x.dtype is dtype:
            return x
        if x.is_const and not (x.dtype.is_float and not dtype.is_float):
            return self.const(x.attr, dtype)
        return self._mk("cast", dtype, (x,))

    def unary(self, op: str, x: Expr) -> Expr:
        return self._mk(op, dt.bool_ if op == "isnan" else x.dtype, (x,))

    def binary(self, op: str, a: Expr, b: Expr) -> Expr:
        assert a.dtype is b.dtype, (op, a.dtype, b.dtype)
        if a.dtype.is_int and a.is_const and b.is_const and op in _FOLD:
            return self.const(_FOLD[op](a.attr, b.attr), a.dtype)
        folded = self._identity(op, a, b)
        if folded is not None:
            return folded
        return self._mk(op, dt.bool_ if op in COMPARE else a.dtype, (a, b))

    def _identity(self, op: str, a: Expr, b: Expr) -> Expr | None:
        """x+0, 0+x, x*1, 1*x, x*0 for integer index arithmetic (floats keep IEEE semantics);
        and/or with a constant for conditions (bounds tests known to hold)."""
        if a.dtype.is_bool and op in ("and", "or"):
            for c, x in ((a, b), (b, a)):
                if c.is_const:
                    return x if c.attr == (op == "and") else c
            return None
        if not a.dtype.is_int:
            return None
        if op in ("add", "sub") and b.is_const and b.attr == 0:
            return a
        if op == "add" and a.is_const and a.attr == 0:
            return b
        if op in ("mul", "floordiv") and b.is_const and b.attr == 1:
            return a
        if op == "mul" and a.is_const and a.attr == 1:
            return b
        if op == "mul" and ((a.is_const and a.attr == 0) or (b.is_const and b.attr == 0)):
            return self.const(0, a.dtype)
        if op == "mod" and b.is_const and b.attr == 1:
            return self.const(0, a.dtype)
        return None

    def __getattr__(self, op: str):
        op = op.rstrip("_")  # and_, or_, xor_, not_: Python keywords
        if op in UNARY:
            return lambda x: self.unary(op, x)
        if op in BINARY:
            return lambda a, b: self.binary(op, a, b)
        raise AttributeError(op)

    # index helpers
    def linear(self, ix: tuple[Expr, ...], shape: tuple[int, ...]) -> Expr:
        """Row-major element offset of index `ix` in a buffer of `shape`. Indices that are a
        `delinear` of some offset over the same dims contribute that offset itself (a reshape
        read back from a row-major buffer costs no division)."""
        off, i = self.const(0), 0
        while i < len(ix):
            for j in range(len(ix), i + 1, -1):
                split = self._splits.get(tuple(id(e) for e in ix[i:j]))
                if split is not None and split[1] == shape[i:j]:
                    off = self.add(self.mul(off, self.const(math.prod(shape[i:j]))), split[0])
                    i = j
                    break
            else:
                off = self.add(self.mul(off, self.const(shape[i])), ix[i])
                i += 1
        return off

    def delinear(self, off: Expr, shape: tuple[int, ...]) -> tuple[Expr, ...]:
        """Inverse of `linear` for an offset inside `shape` (the outermost index needs no mod)."""
        out = []
        whole = off
        for n in reversed(shape[1:]):
            out.append(self.mod(off, self.const(n)))
            off = self.floordiv(off, self.const(n))
        ix = (off,) + tuple(reversed(out)) if shape else ()
        if len(ix) > 1:
            self._splits[tuple(id(e) for e in ix)] = (whole, tuple(shape))
        return ix


def _floordiv(a: int, b: int) -> int:
    return a // b if b else 0


def _mod(a: int, b: int) -> int:
    return a % b if b else 0


_FOLD = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
         "floordiv": _floordiv, "mod": _mod, "max": max, "min": min}


def format_kernel(k: Kernel) -> str:
    """Readable text of a kernel: its space, then its body in SSA order."""
    names: dict[int, str] = {}
    lines: list[str] = []
    done: set[int] = set()

    def name(e: Expr) -> str:
        """e's name, after the lines of every value it needs that has none yet."""
        for x in postorder([e], done=done):
            if x.op != "const":
                attr = "" if x.attr is None else (f" @{x.attr}" if x.op == "load" else f" {x.attr}")
                n = names[id(x)] = f"v{len(names)}"
                args = ", ".join(f"{a.attr}:{a.dtype.short}" if a.op == "const" else names[id(a)]
                                 for a in x.args)
                lines.append(f"    {n} = {x.op}{attr} {args} : {x.dtype.short}".replace("  :", " :"))
        return f"{e.attr}:{e.dtype.short}" if e.op == "const" else names[id(e)]

    head = f"kernel @{k.name} [{', '.join(map(str, k.shape))}]"
    if k.gemm:
        g = k.gemm
        lines.append(f"    gemm @{g.c} = @{g.a}{'^T' if g.trans_a else ''} x @{g.b}{'^T' if g.trans_b else ''} "
                     f"[m={g.m}, n={g.n}, k={g.k}]" + (f" batch {list(g.batch)} strides {list(g.a_strides)}, "
                                                       f"{list(g.b_strides)}" if g.batch else ""))
    if k.reductions:
        head += f" reduce [{', '.join(map(str, k.rshape))}]"
    for j, r in enumerate(k.reductions):
        lines.append(f"    acc {j} = {r.kind} {name(r.value)}")
    for s in k.stores:
        off, val = name(s.offset), name(s.value)
        lines.append(f"    store{'' if s.mode == 'set' else '.' + s.mode} @{s.buf}[{off}] = {val}")
    return head + " {\n" + "\n".join(lines) + "\n  }"
