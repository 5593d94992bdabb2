"""Lowering a graph to kernels: which values get a buffer, which kernel computes each, and
the scalar body of every kernel.

1. *Materialize*: reductions, scatters, graph outputs, assigned values and multi-element
   constants own buffers. An elementwise or movement value is *inlined* (recomputed inside
   each consumer's body; movement ops become index arithmetic) unless recomputing it costs
   more than storing and reloading it: a cost model weighs its expression by the work of
   each consumer (a value broadcast along 1000 columns is recomputed 1000 times).
2. *Group*: a materialized elementwise value computed pointwise from a reduction's result
   becomes an *epilogue* of that reduction's kernel (bias + activation after a matmul,
   log after a sum); reductions over the same index and reduction spaces that do not depend
   on each other share one kernel and one pass over their inputs (*siblings*).
3. *Emit*: one Kernel per group, then copies for outputs, snapshots and assigns. Stores
   that nothing reads are dropped at the end.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..ir.graph import Graph, Node, Value
from ..ir.kernel import Expr, Kernel, KernelBuilder, Reduction, Store, loads, make_kernel
from ..ir.opdef import get
from ..ir.program import Buffer, Program


@dataclass(frozen=True)
class FusionPolicy:
    """`fuse_elementwise=False` gives one kernel per compute op (movement ops always inline);
    `inline_budget` is the extra per-element work accepted to avoid materializing a value."""

    fuse_elementwise: bool = True
    inline_budget: int = 12


def _weight(node: Node) -> int:
    """Per-element cost of computing the node inside a kernel body."""
    op = get(node.op)
    if "movement" in op.traits or node.op in ("iota", "constant", "stop_gradient"):
        return 0
    if "transcendental" in op.traits:
        return 6
    if node.op in ("divide", "mod", "floor_divide", "power"):
        return 4
    return 2 if op.emit else 1


def _canon(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape without its size-1 axes: kernels over equal canonical shapes visit the same points."""
    return tuple(n for n in shape if n != 1)


def _expand(b: KernelBuilder, ix: tuple[Expr, ...], shape: tuple[int, ...]) -> tuple[Expr, ...]:
    """The index of `shape` at canonical point `ix` (zeros on its size-1 axes)."""
    it = iter(ix)
    return tuple(b.const(0) if n == 1 else next(it) for n in shape)


def _reads_at_point(node: Node, v: Value) -> bool:
    """Does `node` read its input `v` at the node's own output point? True for elementwise
    inputs that are not broadcast and for reshapes/broadcasts that only add size-1 axes."""
    if not (get(node.op).scalar or node.op in ("reshape", "broadcast_to", "stop_gradient")):
        return False
    return _canon(v.shape) == _canon(node.out.shape)


@dataclass(eq=False)
class _Group:
    """The nodes one kernel computes: reductions (siblings) and their epilogues, or one node."""

    leader: Node
    index: int
    reductions: list[Node] = field(default_factory=list)
    epilogues: list[Node] = field(default_factory=list)

    @property
    def rshape(self) -> tuple[int, ...]:
        return get(self.leader.op).rshape(self.leader)


class _Lowering:
    def __init__(self, graph: Graph, policy: FusionPolicy):
        self.g, self.policy = graph, policy
        self.users = graph.users()
        self.buffers: list[Buffer] = []
        self.where: dict[Value, Buffer] = {}
        self.kernels: list[Kernel] = []
        self.materialized: set[Value] = set()
        self.groups: list[_Group] = []
        self.group_of: dict[Value, _Group] = {}

    # 1. materialize ----------------------------------------------------------------------------------
    def decide(self) -> None:
        outputs = set(self.g.outputs)
        assigned = {n.inputs[1] for n in self.g.nodes if n.op == "assign"}
        cost: dict[Value, int] = {}
        for n in self.g.nodes:
            if n.op == "assign":
                continue
            v, op = n.out, get(n.op)
            c = _weight(n) + sum(cost.get(x, 0) for x in n.inputs)
            if op.reduce or op.scatter or v in outputs or v in assigned:
                must = True
            elif n.op == "constant":
                must = v.type.size != 1  # a buffer of its own, not a kernel
            elif n.op == "iota" or "movement" in op.traits:
                must = False
            elif not self.policy.fuse_elementwise:
                must = True
            elif "random" in op.traits:
                must = len(self.users.get(v, ())) > 1
            elif v.type.size == 1:  # a scalar: recomputing it is loop-invariant work
                must = c > self.policy.inline_budget
            else:
                must = self._recompute_cost(v, c) > c + self.policy.inline_budget
            if must:
                self.materialized.add(v)
            cost[v] = 0 if must else c

    def _recompute_cost(self, v: Value, c: int) -> float:
        """Work of inlining v: its cost times the points at which its consumers read it."""
        total = 0.0
        for u in self.users.get(v, ()):
            op = get(u.op)
            work = u.out.type.size * (math.prod(op.rshape(u)) if op.reduce else 1) if u.outputs else v.type.size
            total += c * work / max(v.type.size, 1)
        return total

    # 2. group -----------------------------------------------------------------------------------------
    def frontier(self, node: Node) -> list[tuple[Value, bool]]:
        """The materialized values (and graph inputs) node's inlined body reads, each with whether
        every path to it reads at node's own point."""
        out: list[tuple[Value, bool]] = []
        seen: set[tuple[int, bool]] = set()
        target = _canon(node.out.shape)

        def visit(n: Node, preserving: bool) -> None:
            for v in n.inputs:
                here = preserving and _reads_at_point(n, v) and _canon(v.shape) == target
                if (v.uid, here) in seen:
                    continue
                seen.add((v.uid, here))
                if v in self.materialized or v.producer is None:
                    out.append((v, here))
                else:
                    visit(v.producer, here)
        visit(node, True)
        return out

    def _before(self, v: Value, g: _Group) -> bool:
        """Is v ready when group g's kernel runs (a graph input, constant, or computed earlier)?"""
        owner = self.group_of.get(v)
        return owner is None or owner.index < g.index

    def _inside(self, v: Value, g: _Group) -> bool:
        return self.group_of.get(v) is g

    def group(self) -> None:
        for n in self.g.nodes:
            v = n.out if n.outputs else None
            if v is None or v not in self.materialized or self.where[v].kind == "const":
                continue
            op = get(n.op)
            g = None
            if self.policy.fuse_elementwise:
                g = self._sibling_of(n) if op.reduce else (self._epilogue_of(n) if op.scalar or op.index else None)
            if g is None:
                g = _Group(n, len(self.groups))
                self.groups.append(g)
                (g.reductions if op.reduce else g.epilogues).append(n)
            self.group_of[v] = g

    def _sibling_of(self, n: Node) -> _Group | None:
        op = get(n.op)
        if "scan" in op.traits or "contraction" in op.traits:
            return None
        reads = [v for v, _ in self.frontier(n)]
        for g in reversed(self.groups):
            lead = g.leader
            lop = get(lead.op)
            if not g.reductions or "scan" in lop.traits or "contraction" in lop.traits:
                continue
            if _canon(lead.out.shape) == _canon(n.out.shape) and lop.rshape(lead) == op.rshape(n) \
                    and all(self._before(v, g) for v in reads):
                g.reductions.append(n)
                return g
        return None

    def _epilogue_of(self, n: Node) -> _Group | None:
        reads = self.frontier(n)
        homes = {id(self.group_of[v]): self.group_of[v] for v, here in reads
                 if here and v in self.group_of and self.group_of[v].reductions}
        for g in sorted(homes.values(), key=lambda g: -g.index):
            lop = get(g.leader.op)
            if "scan" in lop.traits or _canon(g.leader.out.shape) != _canon(n.out.shape):
                continue
            if all(self._before(v, g) or (here and self._inside(v, g)) for v, here in reads):
                g.epilogues.append(n)
                return g
        return None

    # 3. emit ---------------------------------------------------------------------------------------------
    def buffer(self, v: Value | None, kind: str, type_=None, **kw) -> Buffer:
        b = Buffer(len(self.buffers), type_ or v.type, kind, **kw)
        self.buffers.append(b)
        if v is not None and v not in self.where:
            self.where[v] = b
        return b

    def operand_fn(self, b: KernelBuilder, local: dict[Value, tuple[tuple[Expr, ...], Expr]] | None = None
                   ) -> Callable[[Value, tuple[Expr, ...]], Expr]:
        """value_at(v, ix): v at index ix — computed in this kernel (`local`, at its own point),
        loaded from v's buffer, or inlined from v's producer."""
        local = local if local is not None else {}

        def value_at(v: Value, ix: tuple[Expr, ...]) -> Expr:
            if v in local:
                point, e = local[v]
                assert ix == point, f"{v} is read off its point inside its own kernel"
                return e
            if v in self.where:
                return b.load(self.where[v].slot, b.linear(ix, v.shape), v.dtype)
            return self.inline(b, v.producer, ix, value_at)
        return value_at

    def inline(self, b: KernelBuilder, node: Node, ix, value_at) -> Expr:
        op = get(node.op)
        operand = lambda i, jx: value_at(node.inputs[i], jx)  # noqa: E731
        if op.scalar:
            nd = len(ix)
            args = []
            for i, v in enumerate(node.inputs):
                lead = nd - v.type.ndim
                args.append(operand(i, tuple(b.const(0) if n == 1 else ix[lead + d] for d, n in enumerate(v.shape))))
            return op.scalar(b, *args, **node.attrs)
        if op.index:
            return operand(0, tuple(op.index(b, node, ix)))
        if op.emit:
            return op.emit(b, node, ix, operand)
        raise AssertionError(f"{node.op} cannot be inlined")

    def emit_group(self, g: _Group) -> None:
        lead = g.leader
        op = get(lead.op)
        name = f"k{len(self.kernels)}_" + "_".join(dict.fromkeys(n.op for n in g.reductions + g.epilogues))
        if op.scatter:
            self.emit_scatter(lead, name)
        elif "scan" in op.traits:
            self.emit_scan(lead, name)
        elif g.reductions:
            self.emit_reduction(g, name)
        else:
            b = KernelBuilder()
            shape = lead.out.shape
            ix = tuple(b.idx(d) for d in range(len(shape)))
            value = self.inline(b, lead, ix, self.operand_fn(b))
            self.kernels.append(make_kernel(name, shape, (Store(self.where[lead.out].slot, b.linear(ix, shape),
                                                                value),)))

    def emit_reduction(self, g: _Group, name: str) -> None:
        b = KernelBuilder()
        canon = _canon(g.leader.out.shape)
        ix = tuple(b.idx(d) for d in range(len(canon)))
        rix = tuple(b.ridx(d) for d in range(len(g.rshape)))
        local: dict[Value, tuple[tuple[Expr, ...], Expr]] = {}
        value_at = self.operand_fn(b)
        reductions, stores = [], []
        for j, r in enumerate(g.reductions):
            rop = get(r.op)
            point = _expand(b, ix, r.out.shape)
            value = rop.reduce(b, r, point, rix, lambda i, jx, r=r: value_at(r.inputs[i], jx))
            reductions.append(Reduction(rop.combiner, value))
            local[r.out] = (point, b.acc(j, r.out.dtype))
        in_kernel = self.operand_fn(b, local)
        for e in g.epilogues:
            point = _expand(b, ix, e.out.shape)
            local[e.out] = (point, self.inline(b, e, point, in_kernel))
        for v, (point, e) in local.items():
            stores.append(Store(self.where[v].slot, b.linear(point, v.shape), e))
        self.kernels.append(make_kernel(name, canon, tuple(stores), g.rshape, tuple(reductions)))

    def emit_scan(self, node: Node, name: str) -> None:
        b = KernelBuilder()
        op = get(node.op)
        ax = node.attrs["axis"]
        shape = node.out.shape[:ax] + node.out.shape[ax + 1:]
        ix = tuple(b.idx(d) for d in range(len(shape)))
        rix = tuple(b.ridx(d) for d in range(len(op.rshape(node))))
        value_at = self.operand_fn(b)
        value = op.reduce(b, node, ix, rix, lambda i, jx: value_at(node.inputs[i], jx))
        store = Store(self.where[node.out].slot, b.linear(ix[:ax] + rix + ix[ax:], node.out.shape),
                      b.acc(0, node.out.dtype))
        self.kernels.append(make_kernel(name, shape, (store,), op.rshape(node), (Reduction("cumsum", value),)))

    def emit_scatter(self, node: Node, name: str) -> None:
        op, out = get(node.op), self.where[node.out]
        shape = node.out.shape
        zero = KernelBuilder()
        fill = Store(out.slot, zero.linear(tuple(zero.idx(d) for d in range(len(shape))), shape),
                     zero.const(0, node.out.dtype))
        self.kernels.append(make_kernel(name + "_zero", shape, (fill,)))
        b = KernelBuilder()
        value_at = self.operand_fn(b)
        operand = lambda i, jx: value_at(node.inputs[i], jx)  # noqa: E731
        upd = node.inputs[1]
        ux = tuple(b.idx(d) for d in range(upd.ndim))
        offset, ok = op.scatter(b, node, ux, operand)
        value = b.select(ok, operand(1, ux), b.const(0, upd.dtype))
        self.kernels.append(make_kernel(name, upd.shape, (Store(out.slot, offset, value, "add"),)))

    def copy_kernel(self, name: str, value: Expr, out: Buffer, b: KernelBuilder) -> None:
        shape = out.type.shape
        ix = tuple(b.idx(d) for d in range(len(shape)))
        self.kernels.append(make_kernel(name, shape, (Store(out.slot, b.linear(ix, shape), value),)))

    def copy_value(self, name: str, v: Value, out: Buffer) -> None:
        b = KernelBuilder()
        ix = tuple(b.idx(d) for d in range(v.type.ndim))
        self.copy_kernel(name, self.operand_fn(b)(v, ix), out, b)

    def _state_slot(self, v: Value) -> int:
        return next(b.slot for b in self.buffers if b.kind == "state" and self.g.states[b.index] is v)

    def drop_dead_stores(self) -> None:
        """Remove stores to temps no kernel loads (a reduction whose only readers became its
        epilogues keeps its result in a register)."""
        read = {e.attr for k in self.kernels for e in loads(k)}
        for i, k in enumerate(self.kernels):
            live = tuple(s for s in k.stores if self.buffers[s.buf].kind != "temp" or s.buf in read)
            if len(live) != len(k.stores) and live:
                self.kernels[i] = make_kernel(k.name, k.shape, live, k.rshape, k.reductions)

    def run(self) -> Program:
        g = self.g
        self.decide()
        for i, v in enumerate(g.args):
            self.buffer(v, "arg", index=i)
        for i, v in enumerate(g.states):
            self.buffer(v, "state", index=i)
        out_bufs = []
        for i, v in enumerate(g.outputs):
            direct = v.producer is not None and v not in self.where \
                and not (v.producer.op == "constant" and v.type.size != 1)
            out_bufs.append(self.buffer(v if direct else None, "out", v.type, index=i))
        for n in g.nodes:
            if n.op == "constant" and n.out.type.size != 1:
                self.buffer(n.out, "const", data=np.asarray(n.attrs["value"]))
            elif n.outputs and n.out in self.materialized and n.out not in self.where:
                self.buffer(n.out, "temp")
        self.group()
        for grp in self.groups:
            self.emit_group(grp)
        for v, buf in zip(g.outputs, out_bufs):
            if self.where.get(v) is not buf:
                self.copy_value(f"k{len(self.kernels)}_output", v, buf)
        assigns = [n for n in g.nodes if n.op == "assign"]
        written = {n.inputs[0] for n in assigns}
        for n in assigns:  # NOTE: a state read by another assign is snapshotted before any write
            value = n.inputs[1]
            if value in written and self.where[value].kind == "state":
                self.where[value] = snap = Buffer(len(self.buffers), value.type, "temp")
                self.buffers.append(snap)
                b = KernelBuilder()
                ix = tuple(b.idx(d) for d in range(value.type.ndim))
                self.copy_kernel(f"k{len(self.kernels)}_snapshot", b.load(self._state_slot(value), b.linear(
                    ix, value.shape), value.dtype), snap, b)
        for n in assigns:
            var, value = n.inputs
            self.copy_value(f"k{len(self.kernels)}_assign", value, self.buffers[self._state_slot(var)])
        self.drop_dead_stores()
        return Program(g.name, self.buffers, self.kernels)


def lower(graph: Graph, policy: FusionPolicy = FusionPolicy()) -> Program:
    """Graph → Program (kernels over buffer slots; temps not yet placed in the arena)."""
    return _Lowering(graph, policy).run()
