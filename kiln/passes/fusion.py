"""Lowering a graph to kernels: which values get a buffer, and the scalar body of each kernel.

A value is *materialized* (owns a buffer and a kernel) when it is a reduction, scatter
or contraction, a graph output, a multi-element constant, or when the policy says so;
every other value is *inlined*: its scalar expression is recomputed inside each consumer's
kernel (movement ops become index arithmetic, elementwise chains become one body).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..ir.graph import Graph, Node, Value
from ..ir.kernel import Expr, Kernel, KernelBuilder, Store
from ..ir.opdef import get
from ..ir.program import Buffer, Program


@dataclass(frozen=True)
class FusionPolicy:
    """`fuse_elementwise=False` gives one kernel per compute op (movement ops always inline)."""

    fuse_elementwise: bool = True


def _must_materialize(node: Node, users: dict[Value, list[Node]], policy: FusionPolicy) -> bool:
    op = get(node.op)
    if node.op == "assign":
        return False
    if op.reduce or op.scatter:
        return True
    if node.op == "constant":
        return node.out.type.size != 1
    if node.op == "iota" or "movement" in op.traits:
        return False
    if not policy.fuse_elementwise:
        return True
    # NOTE: inlining recomputes a value per consumer; keep it only for single-use values
    # and cheap leaves so fused kernels never do asymptotically more work.
    return len(users.get(node.out, ())) > 1 and "random" not in op.traits


class _Lowering:
    def __init__(self, graph: Graph, policy: FusionPolicy):
        self.g, self.policy = graph, policy
        self.buffers: list[Buffer] = []
        self.where: dict[Value, Buffer] = {}
        self.kernels: list[Kernel] = []
        self.users = graph.users()

    def buffer(self, v: Value | None, kind: str, type_=None, **kw) -> Buffer:
        b = Buffer(len(self.buffers), type_ or v.type, kind, **kw)
        self.buffers.append(b)
        if v is not None and v not in self.where:
            self.where[v] = b
        return b

    def operand_fn(self, b: KernelBuilder) -> Callable[[Value, tuple[Expr, ...]], Expr]:
        def value_at(v: Value, ix: tuple[Expr, ...]) -> Expr:
            if v in self.where:
                buf = self.where[v]
                return b.load(buf.slot, b.linear(ix, v.shape), v.dtype)
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

    def kernel(self, node: Node, out: Buffer) -> None:
        b = KernelBuilder()
        value_at = self.operand_fn(b)
        operand = lambda i, jx: value_at(node.inputs[i], jx)  # noqa: E731
        shape = node.out.shape
        ix = tuple(b.idx(d) for d in range(len(shape)))
        op = get(node.op)
        name = f"k{len(self.kernels)}_{node.op}"
        if op.reduce:
            rshape = op.rshape(node)
            rix = tuple(b.ridx(d) for d in range(len(rshape)))
            if "scan" in op.traits:  # the scanned axis moves from the index space to the reduction
                ax = node.attrs["axis"]
                shape = shape[:ax] + shape[ax + 1:]
                ix = tuple(b.idx(d) for d in range(len(shape)))
                full = ix[:ax] + rix + ix[ax:]
                value = op.reduce(b, node, ix, rix, operand)
                store = Store(out.slot, b.linear(full, node.out.shape), value)
            else:
                value = op.reduce(b, node, ix, rix, operand)
                store = Store(out.slot, b.linear(ix, shape), value)
            self.kernels.append(Kernel(name, shape, (store,), rshape, op.combiner, tuple(sorted(b.reads))))
        elif op.scatter:
            zero = KernelBuilder()
            fill = Store(out.slot, zero.linear(tuple(zero.idx(d) for d in range(len(shape))), shape),
                         zero.const(0, node.out.dtype))
            self.kernels.append(Kernel(name + "_zero", shape, (fill,)))
            upd = node.inputs[1]
            ux = tuple(b.idx(d) for d in range(upd.ndim))
            offset, ok = op.scatter(b, node, ux, operand)
            value = b.select(ok, operand(1, ux), b.const(0, upd.dtype))
            self.kernels.append(Kernel(name, upd.shape, (Store(out.slot, offset, value, "add"),),
                                       reads=tuple(sorted(b.reads))))
        else:
            self.copy_kernel(name, self.inline(b, node, ix, value_at), out, b)

    def copy_kernel(self, name: str, value: Expr, out: Buffer, b: KernelBuilder) -> None:
        shape = out.type.shape
        ix = tuple(b.idx(d) for d in range(len(shape)))
        self.kernels.append(Kernel(name, shape, (Store(out.slot, b.linear(ix, shape), value),),
                                   reads=tuple(sorted(b.reads))))

    def copy_value(self, name: str, v: Value, out: Buffer) -> None:
        b = KernelBuilder()
        ix = tuple(b.idx(d) for d in range(v.type.ndim))
        self.copy_kernel(name, self.operand_fn(b)(v, ix), out, b)

    def _state_slot(self, v: Value) -> int:
        return next(b.slot for b in self.buffers if b.kind == "state" and self.g.states[b.index] is v)

    def run(self) -> Program:
        g = self.g
        for i, v in enumerate(g.args):
            self.buffer(v, "arg", index=i)
        for i, v in enumerate(g.states):
            self.buffer(v, "state", index=i)
        out_bufs = []
        for i, v in enumerate(g.outputs):
            direct = v.producer is not None and v not in self.where \
                and not (v.producer.op == "constant" and v.type.size != 1)
            out_bufs.append(self.buffer(v if direct else None, "out", v.type, index=i))
        assigns = [n for n in g.nodes if n.op == "assign"]
        assigned = {n.inputs[1] for n in assigns}
        for n in g.nodes:
            if n.op == "assign":
                continue
            v = n.out
            if v in self.where:  # an output buffer
                self.kernel(n, self.where[v])
            elif n.op == "constant" and v.type.size != 1:
                self.buffer(v, "const", data=np.asarray(n.attrs["value"]))
            elif _must_materialize(n, self.users, self.policy) or v in assigned:
                self.kernel(n, self.buffer(v, "temp"))
        for v, buf in zip(g.outputs, out_bufs):
            if self.where.get(v) is not buf:
                self.copy_value(f"k{len(self.kernels)}_output", v, buf)
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
        return Program(g.name, self.buffers, self.kernels)


def lower(graph: Graph, policy: FusionPolicy = FusionPolicy()) -> Program:
    """Graph → Program (kernels over buffer slots; temps not yet placed in the arena)."""
    return _Lowering(graph, policy).run()
