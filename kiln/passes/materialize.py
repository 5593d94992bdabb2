"""Step 1 of lowering (passes/fusion.py): which values own a buffer. Reductions, scatters,
outputs, assigned values and multi-element constants always do; an elementwise value is
recomputed inside each consumer unless that costs more than storing and reloading it (a
cost model weighs its expression by how often its consumers read each element); matmul
operands that BLAS reads get buffers (a transpose or reshape before them is folded into
the call)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..ir.graph import Node, Value
from ..ir.opdef import get


@dataclass(frozen=True)
class FusionPolicy:
    """`fuse_elementwise=False` gives one kernel per compute op (movement ops always inline);
    `inline_budget` is the extra per-element work accepted to avoid materializing a value;
    `max_depth` is the longest chain of ops inlined into one kernel body: a deeper chain
    (20,000 elementwise ops) is cut into kernels of at most that depth, which keeps the
    lowering's and codegen's work per kernel bounded (stored values keep their dtype, so the
    results are those of the uncut chain)."""

    fuse_elementwise: bool = True
    inline_budget: int = 12
    max_depth: int = 64
    gemm: bool = False  # float matmuls become BLAS calls (the runtime provides them)


SHALLOW_DEPTH = 16  # matmuls at most this deep whose right operand fits L1_BYTES are loops, not BLAS
L1_BYTES = 32 << 10


def _swaps_last_axes(node: Node | None) -> bool:
    return node is not None and node.op == "transpose" and \
        tuple(node.attrs["perm"]) == tuple(range(node.out.ndim - 2)) + (node.out.ndim - 1, node.out.ndim - 2)


def _weight(node: Node) -> int:
    """Per-element cost of computing the node inside a kernel body (a view, a guarded load,
    costs what reading a materialized copy would)."""
    op = get(node.op)
    if op.traits & {"movement", "view"} or node.op in ("iota", "constant", "stop_gradient"):
        return 0
    if "transcendental" in op.traits:
        return 6
    if node.op in ("divide", "mod", "floor_divide", "power"):
        return 4
    return 2 if op.emit else 1


class Materialize:
    """The materialize step of the lowering (needs its `g`, `policy`, `users`, `stored`,
    `materialized` and `gemm_operands`)."""

    def decide(self) -> None:
        outputs = set(self.g.outputs)
        assigned = {n.inputs[1] for n in self.g.nodes if n.op == "assign"}
        self.stored = outputs | assigned
        cost: dict[Value, int] = {}
        depth: dict[Value, int] = {}  # ops inlined on the longest path to v (0: v has a buffer)
        for n in self.g.nodes:
            if n.op == "assign":
                continue
            v, op = n.out, get(n.op)
            c = _weight(n) + sum(cost.get(x, 0) for x in n.inputs)
            d = 1 + max((depth.get(x, 0) for x in n.inputs), default=0)
            if op.reduce or op.scatter or v in outputs or v in assigned or d >= self.policy.max_depth:
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
            depth[v] = 0 if must else d
            if self._is_gemm(n):
                self.gemm_operands[n] = [self._gemm_operand(x) for x in n.inputs]
                for base, _, _ in self.gemm_operands[n]:
                    if base.producer is not None and not (base.producer.op == "constant" and base.type.size != 1):
                        self.materialized.add(base)
                        cost[base] = depth[base] = 0
            elif n.op == "matmul" and _swaps_last_axes(n.inputs[1].producer):
                self.materialized.add(n.inputs[1])  # rows of the right operand are what the loop reads
                cost[n.inputs[1]] = depth[n.inputs[1]] = 0

    def _is_gemm(self, n: Node) -> bool:
        """A float matmul BLAS multiplies, unless it is shallow and its right operand small: an
        unrolled loop of multiply-adds then beats a BLAS call, which packs for a depth it does
        not have (an MLP's backward through its 10-wide output layer)."""
        if not (self.policy.gemm and n.op == "matmul" and n.out.dtype.is_float and n.out.type.size > 0
                and all(v.type.size > 0 and v.ndim >= 2 for v in n.inputs)):
            return False
        a, b = n.inputs
        depth, cols = a.shape[-1], b.shape[-1]
        return depth > SHALLOW_DEPTH or depth * cols * b.dtype.itemsize > L1_BYTES

    def _gemm_operand(self, v: Value) -> tuple[Value, tuple[int, ...], bool]:
        """How a BLAS call reads matmul operand v: (the value whose buffer holds it, the shape
        that buffer is read as, transposed?). A swap of the last two axes is BLAS's transpose
        and reshapes keep the row-major layout; whatever else v is gets materialized."""
        trans = False
        if v.ndim >= 2 and _swaps_last_axes(v.producer):
            trans, v = True, v.producer.inputs[0]
        stored = v.shape
        while v.producer is not None and v.producer.op == "reshape" and v not in self.materialized:
            v = v.producer.inputs[0]
        return v, stored, trans

    def _recompute_cost(self, v: Value, c: int) -> float:
        """Work of inlining v: its cost times the points at which its consumers read it."""
        return c * self._reads(v)

    def _reads(self, v: Value) -> float:
        """Evaluations of each element of v its consumers make if v is inlined. Movement ops
        and views cost nothing themselves, so reads are followed through them (a reshape
        feeding a broadcast feeding a reduction reads v as often as the broadcast expands it)."""
        total = 0.0
        todo = [(v, 1.0 / max(v.type.size, 1))]  # (a view of v, v's reads per element of it)
        while todo:
            w, scale = todo.pop()
            for u in self.users.get(w, ()):
                op = get(u.op)
                if op.traits & {"movement", "view"} and u.outputs and u.out not in self.stored:
                    todo.append((u.out, scale if u.out.type.size else 0.0))
                    continue
                work = (u.out.type.size * (math.prod(op.rshape(u)) if op.reduce else 1) if u.outputs
                        else w.type.size)
                total += work * scale
        return total
