"""Lowering a graph to kernels: which values get a buffer, which kernel computes each, and
the scalar body of every kernel.

1. *Materialize*: reductions, scatters, graph outputs, assigned values and multi-element
   constants own buffers. An elementwise or movement value is *inlined* (recomputed inside
   each consumer's body; movement ops become index arithmetic) unless recomputing it costs
   more than storing and reloading it: a cost model weighs its expression by the work of
   each consumer (a value broadcast along 1000 columns is recomputed 1000 times), and a chain
   deeper than `FusionPolicy.max_depth` is cut (so the recursive inlining below stays shallow).
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
from ..ir.kernel import Expr, Gemm, Kernel, KernelBuilder, Reduction, Store, make_kernel
from ..ir.opdef import get, norm_axis
from ..ir.program import Buffer, Program
from .coalesce import coalesce
from .materialize import FusionPolicy, Materialize


def _canon(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape without its size-1 axes: kernels over equal canonical shapes visit the same points."""
    return tuple(n for n in shape if n != 1)


def _expand(b: KernelBuilder, ix: tuple[Expr, ...], shape: tuple[int, ...]) -> tuple[Expr, ...]:
    """The index of `shape` at canonical point `ix` (zeros on its size-1 axes)."""
    it = iter(ix)
    return tuple(b.const(0) if n == 1 else next(it) for n in shape)


def _input_index(b: KernelBuilder, r: Node, point: tuple[Expr, ...], rix: tuple[Expr, ...]) -> tuple[Expr, ...]:
    """The index of reduction r's input read at (point, rix)."""
    seen: list[tuple[Expr, ...]] = []
    get(r.op).reduce(b, r, point, rix, lambda i, jx: seen.append(jx) or b.load(-1, b.const(0), r.inputs[i].dtype))
    return seen[0]


@dataclass(eq=False)
class _Group:
    """The nodes one kernel computes, in order: reductions over one index and reduction space
    ("reduce"), values at its points ("point": epilogues), and values over its reduction
    space ("map": a row rewritten after its statistics), or a single node of any kind."""

    leader: Node
    index: int
    members: list[tuple[str, Node]] = field(default_factory=list)

    @property
    def reductions(self) -> list[Node]:
        return [n for kind, n in self.members if kind == "reduce"]

    @property
    def fusible(self) -> bool:
        """Can other nodes join (a plain reduction or a contraction's epilogues)?"""
        return bool(self.reductions) and "scan" not in get(self.leader.op).traits

    @property
    def plain(self) -> bool:
        """A reduction visiting each element of its one input once per point (not a
        contraction, not a gather like col2im): siblings and map members may join."""
        return self.fusible and not {"contraction", "gather"} & get(self.leader.op).traits

    @property
    def rshape(self) -> tuple[int, ...]:
        return get(self.leader.op).rshape(self.leader)


class _Lowering(Materialize):
    def __init__(self, graph: Graph, policy: FusionPolicy):
        self.g, self.policy = graph, policy
        self.users = graph.users()
        self.buffers: list[Buffer] = []
        self.where: dict[Value, Buffer] = {}
        self.kernels: list[Kernel] = []
        self.materialized: set[Value] = set()
        self.groups: list[_Group] = []
        self.group_of: dict[Value, _Group] = {}
        self.computing: set[Node] = set()  # graph nodes in the kernel being emitted
        self.gemm_operands: dict[Node, list[tuple[Value, bool]]] = {}
        self.stored: set[Value] = set()  # graph outputs and assigned values: always materialized

    # 2. group -----------------------------------------------------------------------------------------
    def space(self, g: _Group, b: KernelBuilder) -> tuple[tuple[Expr, ...], tuple[Expr, ...]]:
        """Group g's point index (over its canonical shape) and reduction index."""
        ix = tuple(b.idx(d) for d in range(len(_canon(g.leader.out.shape))))
        return ix, tuple(b.ridx(d) for d in range(len(g.rshape)))

    def probe(self, n: Node, kind: str, g: _Group) -> tuple[list[tuple[Value, tuple[Expr, ...]]], dict]:
        """Build n's body as a `kind` member of g in a scratch builder: every materialized value
        (or graph input) it reads with the index read, and each member of g's own index."""
        b = KernelBuilder()
        ix, rix = self.space(g, b)
        reads: list[tuple[Value, tuple[Expr, ...]]] = []

        def value_at(v: Value, jx: tuple[Expr, ...]) -> Expr:
            if v in self.materialized or v.producer is None:
                reads.append((v, jx))
                return b.load(-1, b.const(0), v.dtype)  # opaque: nothing folds it away
            return self.inline(b, v.producer, jx, value_at)
        at = self.member_index(b, g, n, kind, ix, rix)
        if kind == "reduce":
            get(n.op).reduce(b, n, at, rix, lambda i, jx: value_at(n.inputs[i], jx))
        else:
            self.inline(b, n, at, value_at)
        return reads, {m.out: self.member_index(b, g, m, k, ix, rix) for k, m in g.members}

    def member_index(self, b: KernelBuilder, g: _Group, n: Node, kind: str, ix, rix) -> tuple[Expr, ...]:
        """Where member n sits in g's space: at the point, or (map) at the leader's input index."""
        return _input_index(b, g.leader, _expand(b, ix, g.leader.out.shape), rix) if kind == "map" \
            else _expand(b, ix, n.out.shape)

    def _fits(self, n: Node, kind: str, g: _Group) -> bool:
        """May n join g as a `kind` member? Everything it reads must be ready before g runs, or
        be a member of g read at that member's own index (a point value: only by later members)."""
        reads, own = self.probe(n, kind, g)
        kinds = {m.out: k for k, m in g.members}
        for v, jx in reads:
            owner = self.group_of.get(v)
            if owner is None or owner.index < g.index:
                continue
            if owner is not g or jx != own[v]:
                return False
            if kind == "reduce" and kinds[v] == "map":
                return False  # map members are written after every reduction
        return True

    def _join(self, n: Node) -> _Group | None:
        """The group n joins: of those it fits, the one with the most points (threads) and then
        the latest."""
        op = get(n.op)
        if not self.policy.fuse_elementwise or op.scatter or "scan" in op.traits:
            return None
        for g in sorted(reversed(self.groups), key=lambda g: -math.prod(_canon(g.leader.out.shape))):
            if not g.fusible:
                continue
            same_point = _canon(g.leader.out.shape) == _canon(n.out.shape)
            if op.reduce:
                kind = "reduce" if g.plain and not {"contraction", "gather"} & op.traits and same_point \
                    and get(g.leader.op).rshape(g.leader) == op.rshape(n) else None
            elif op.scalar or op.index:
                kind = "point" if same_point else \
                    ("map" if g.plain and n.out.shape == g.leader.inputs[0].shape else None)
            else:
                kind = None
            if kind is not None and self._fits(n, kind, g):
                g.members.append((kind, n))
                return g
        return None

    def group(self) -> None:
        for n in self.g.nodes:
            v = n.out if n.outputs else None
            if v is None or v not in self.materialized or self.where[v].kind == "const":
                continue
            g = self._join(n)
            if g is None:
                g = _Group(n, len(self.groups), [("reduce" if get(n.op).reduce else "point", n)])
                self.groups.append(g)
            self.group_of[v] = g

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
        self.computing.add(node)
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
        name = f"k{len(self.kernels)}_" + "_".join(dict.fromkeys(n.op for _, n in g.members))
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
        """Members in join order: each reads earlier ones from registers (`local`); a GEMM
        leader is a BLAS call whose result the epilogue members load."""
        b = KernelBuilder()
        ix, rix = self.space(g, b)
        local: dict[Value, tuple[tuple[Expr, ...], Expr]] = {}
        value_at = self.operand_fn(b, local)
        reductions, gemm = [], None
        for kind, m in g.members:
            at = self.member_index(b, g, m, kind, ix, rix)
            if m in self.gemm_operands:
                gemm = self.gemm_of(m)
                local[m.out] = (at, b.load(gemm.c, b.linear(at, m.out.shape), m.out.dtype))
            elif kind == "reduce":
                rop = get(m.op)
                value = rop.reduce(b, m, at, rix, lambda i, jx, m=m: value_at(m.inputs[i], jx))
                local[m.out] = (at, b.acc(len(reductions), m.out.dtype))
                reductions.append(Reduction(rop.combiner, value))
            else:
                local[m.out] = (at, self.inline(b, m, at, value_at))
        stores = tuple(Store(self.where[v].slot, b.linear(at, v.shape), e) for v, (at, e) in local.items()
                       if gemm is None or v is not g.leader.out)
        self.kernels.append(make_kernel(name, _canon(g.leader.out.shape), stores, g.rshape if reductions else (),
                                        tuple(reductions), gemm=gemm))

    def gemm_of(self, m: Node) -> Gemm:
        """The BLAS call computing matmul m: operand buffers, transposes and batch strides."""
        out = m.out.shape
        batch, (rows, cols), depth = out[:-2], out[-2:], m.inputs[0].shape[-1]
        (a, a_shape, ta), (b, b_shape, tb) = self.gemm_operands[m]

        def strides(stored: tuple[int, ...]) -> tuple[int, ...]:
            lead, mat = len(batch) - (len(stored) - 2), stored[-2] * stored[-1]
            return tuple(0 if d < lead or stored[d - lead] == 1 else mat * math.prod(stored[d - lead + 1:-2])
                         for d in range(len(batch)))
        sa, sb = strides(a_shape), strides(b_shape)
        contiguous = tuple(rows * depth * math.prod(batch[d + 1:]) for d in range(len(batch)))
        if batch and not ta and not any(sb) and sa == contiguous:  # fold the batch into the rows
            rows, batch, sa, sb = rows * math.prod(batch), (), (), ()
        return Gemm(self.where[a].slot, self.where[b].slot, self.where[m.out].slot, rows, cols, depth, ta, tb,
                    batch, sa, sb)

    def emit_scan(self, node: Node, name: str) -> None:
        b = KernelBuilder()
        op = get(node.op)
        ax = norm_axis(node.attrs["axis"], node.out.ndim)
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
        read = {slot for k in self.kernels for slot in k.reads}  # loads and GEMM operands
        for i, k in enumerate(self.kernels):
            live = tuple(s for s in k.stores if self.buffers[s.buf].kind != "temp" or s.buf in read)
            if len(live) != len(k.stores) and live:
                self.kernels[i] = make_kernel(k.name, k.shape, live, k.rshape, k.reductions, k.origin, k.gemm)

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
        position = {n: i for i, n in enumerate(g.nodes)}
        for grp in self.groups:
            self.computing, first = {m for _, m in grp.members}, len(self.kernels)
            self.emit_group(grp)
            origin = tuple(sorted(position[n] for n in self.computing))
            for i in range(first, len(self.kernels)):
                self.kernels[i].origin = origin
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
        return Program(g.name, self.buffers, [coalesce(k) for k in self.kernels])


def lower(graph: Graph, policy: FusionPolicy = FusionPolicy()) -> Program:
    """Graph → Program (kernels over buffer slots; temps not yet placed in the arena)."""
    return _Lowering(graph, policy).run()
