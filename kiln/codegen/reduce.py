"""Reduction loops of a CPU kernel: which loop shape a reduction gets, and its emission.

A reduction point combines its values over the reduction space in one of these shapes:
the plain loop (LLVM vectorizes a long innermost row, one horizontal combine per point;
costly values the row stores need again are kept in a row array); lanes, one running value
per position of a short innermost row, combined once at the end; jammed points, a short
innermost output row whose points share one pass (and so the loads they have in common);
and whole output rows at a time (a RowForm): a guarded window sum whose guard becomes loop
bounds, or a reduction down columns adding each input row into a running output row. In
every shape a float sum over a long space adds fresh partials in a pairwise tree (blocks.py).
Mixed into the CPU kernel emitter; imports ir and codegen only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from llvmlite import ir

from ..ir.kernel import GUARD, Expr, Kernel, Reduction, body_size, nodes, refs
from .blocks import BLOCK, STEPS, Cell, blocked, row_steps, split
from .loops import HEAVY_BODY, interleave_hint, loop, nest, scalar_hint, small_nest
from .rows import RowGuard, coef, row_guard, row_range
from .scalar import I64, REDUCE_FLAGS, ScalarEmitter, constant, llvm_type


class Reductions:
    """The reduction half of the kernel emitter (needs its `b`, `k`, `alloca`, `emitter`,
    `evaluate`, `flush` and `write`)."""

    def reduce_points(self, pts: list[list[ir.Value]]) -> None:
        """Run the reductions of the points `pts` (one point, or a few jammed together so
        the values they share are loaded once) pass by pass (a pass ends where a reduction
        needs an earlier result), then the point stores, then the stores over the reduction
        space."""
        k, b = self.k, self.b
        if k.is_scan:
            self.scan_point(pts[0])
            return
        inner = [s for s in k.stores if refs(s.offset, "ridx")]
        keep = _row_values(k, inner) if len(pts) == 1 else {}
        rows = {id(e): (e, self.alloca(llvm_type(e.dtype), math.prod(k.rshape))) for e in keep.values()}
        results: list[list[ir.Value]] = [[] for _ in pts]
        for batch in _passes(k.reductions):
            reduced = set(nodes(r.value for r in batch)) if keep else set()
            mine_rows = [rows[id(e)] for e in keep.values() if e in reduced]
            for mine, new in zip(results, self.reduce_pass(pts, batch, results, mine_rows)):
                mine += new
        for ivs, res in zip(pts, results):
            em = self.emitter(ivs, accs=res)
            point = self.evaluate(em, [s for s in k.stores if s not in inner])
            if inner:  # the row pass reads what the point stores will overwrite, so it runs first
                def row_step(rivs, ivs=ivs, res=res, em=em):
                    memo = dict(em.memo)
                    flat = self._flat(rivs, k.rshape)
                    for key, (e, row) in rows.items():  # values the reduction pass kept
                        memo[key] = b.load(_at(b, row, flat, llvm_type(e.dtype)), typ=llvm_type(e.dtype))
                    self.write(self.emitter(ivs, rivs, res, memo), inner)
                size = body_size([e for s in inner for e in (s.offset, s.value)])
                small_nest(b, k.rshape, row_step, "m", size)
            self.flush(point)

    def reduce_pass(self, pts: list[list[ir.Value]], reds: list[Reduction], earlier: list[list[ir.Value]],
                    rows: list = ()) -> list[list[ir.Value]]:
        """One loop over the reduction space combining `reds` at every point of `pts` (they may
        read the `earlier` results of their point); each (Expr, array) of `rows` is stored at
        every step, for the row stores to read back instead of computing it again."""
        if lanes(self.k.rshape, reds) and not rows:
            return self.lane_pass(pts, reds, earlier)
        b = self.b
        slots = [(r, self.alloca(llvm_type(r.value.dtype)),
                  self.alloca(I64) if r.kind in ("argmax", "argmin") else None) for _ in pts for r in reds]
        for r, a, p in slots:
            b.store(_identity(r.kind, r.value.dtype), a)
            if p is not None:
                b.store(I64(0), p)

        def step(rivs):
            for n, (ivs, prior) in enumerate(zip(pts, earlier)):
                em = self.emitter(ivs, rivs, prior)
                for r, a, p in slots[n * len(reds):(n + 1) * len(reds)]:
                    d = r.value.dtype
                    v, cur = em(r.value), b.load(a, typ=llvm_type(d))
                    if p is not None:
                        better = _better(b, r.kind, d, v, cur)
                        b.store(b.select(better, v, cur), a)
                        b.store(b.select(better, self._flat(rivs, self.k.rshape), b.load(p, typ=I64)), p)
                    else:
                        b.store(_combine(b, em, r.kind, d, cur, v), a)
                for e, row in rows:
                    b.store(em(e), _at(b, row, self._flat(rivs, self.k.rshape), llvm_type(e.dtype)))
        size = len(pts) * body_size([r.value for r in reds])
        blocked(b, self.alloca, self.k.rshape, BLOCK, step, size,
                [Cell(a, llvm_type(r.value.dtype), 1, I64(0), I64(1)) for r, a, _ in slots if _summed(r)])
        out = [b.load(p, typ=I64) if p is not None else b.load(a, typ=llvm_type(r.value.dtype))
               for r, a, p in slots]
        return [out[n * len(reds):(n + 1) * len(reds)] for n in range(len(pts))]

    def lane_pass(self, pts: list[list[ir.Value]], reds: list[Reduction], earlier: list[list[ir.Value]]
                  ) -> list[list[ir.Value]]:
        """A reduction whose innermost extent R is short, over many outer steps: R running
        values, one per position of the innermost index (an array LLVM keeps in vector
        registers), combined once at the end. Vectorizing the short inner loop itself would
        pay a horizontal combine (and a scalar tail) on every outer step."""
        b, rshape = self.b, self.k.rshape
        slots = [(red, llvm_type(red.value.dtype)) for _ in pts for red in reds]
        sizes = [red.value.dtype.itemsize for red, _ in slots]
        lanes = lane_width(rshape[-1], sum(sizes), self.vector_bytes or 16, max(sizes))
        chunks = rshape[-1] // lanes
        accs = [self.alloca(t, lanes) for _, t in slots]

        def init(r):
            for (red, t), a in zip(slots, accs):
                b.store(_identity(red.kind, red.value.dtype), _at(b, a, r, t))

        def step(rivs, r):
            last = b.add(b.mul(rivs[-1], I64(lanes)), r)  # chunk·lanes + r
            for n, (ivs, prior) in enumerate(zip(pts, earlier)):
                em = self.emitter(ivs, rivs[:-1] + [last], prior)
                for (red, t), a in list(zip(slots, accs))[n * len(reds):(n + 1) * len(reds)]:
                    p = _at(b, a, r, t)
                    b.store(_combine(b, em, red.kind, red.value.dtype, b.load(p, typ=t), em(red.value)), p)

        loop(b, I64(0), I64(lanes), init, "l")
        cells = [Cell(a, t, lanes, I64(0), I64(lanes)) for (red, t), a in zip(slots, accs) if _summed(red)]
        if cells and chunks == 1 and split(rshape[:-1], STEPS):
            # the lanes written out (constant positions keep them in registers in a blocked nest)
            # under loops that stay scalar (vectorizing one across the lanes would gather)
            written = lambda outer: [step(outer + [I64(0)], I64(r)) for r in range(lanes)]  # noqa: E731
            blocked(b, self.alloca, rshape[:-1], STEPS, written, None, cells, hint=scalar_hint(self.module))
        else:
            looped = lambda outer: loop(b, I64(0), I64(lanes), lambda r: step(outer, r), "lr")  # noqa: E731
            blocked(b, self.alloca, (*rshape[:-1], chunks), STEPS, looped, None, cells)
        totals = [self.alloca(t) for _, t in slots]
        for (red, _), tot in zip(slots, totals):
            b.store(_identity(red.kind, red.value.dtype), tot)

        def combine(r):
            em = self.emitter([])
            for (red, t), a, tot in zip(slots, accs, totals):
                lane = b.load(_at(b, a, r, t), typ=t)
                b.store(_combine(b, em, red.kind, red.value.dtype, b.load(tot, typ=t), lane), tot)
        loop(b, I64(0), I64(lanes), combine, "lc")
        out = [b.load(tot, typ=t) for tot, (_, t) in zip(totals, slots)]
        return [out[n * len(reds):(n + 1) * len(reds)] for n in range(len(pts))]

    def row_pass(self, outer: list[ir.Value], form: "RowForm", span: tuple[ir.Value, ir.Value] | None = None
                 ) -> None:
        """Positions `span` (default: all) of one output row of a RowForm kernel. A window
        form runs them in blocks of ROW_BLOCK vectors whose running values stay in registers
        over every reduction step (a block's window rows stay in L1): conv1 as a 5x5 window
        sum was bound by loading and storing its running row 25 times."""
        k, b = self.k, self.b
        first, last = span or (I64(0), I64(k.shape[-1]))
        t = llvm_type(k.reductions[0].value.dtype)
        acc = self.alloca(t, k.shape[-1])
        if form.window:
            block = ROW_BLOCK * max(1, (self.vector_bytes or 16) // k.reductions[0].value.dtype.itemsize)
            blocks = b.sdiv(b.sub(last, first), I64(block))
            start = lambda j: b.add(first, b.mul(j, I64(block)))  # noqa: E731
            loop(b, I64(0), blocks, lambda j: self.row_span(outer, form, (start(j), b.add(start(j), I64(block))), acc),
                 "rb")
            self.row_span(outer, form, (start(blocks), last), acc)
        else:
            self.row_span(outer, form, (first, last), acc)
        # the stores after the whole row: an epilogue (an activation) runs as one long loop
        heavy = body_size([s.value for s in k.stores]) >= HEAVY_BODY
        loop(b, first, last,
             lambda w: self.write(self.emitter(outer + [w], accs=[b.load(_at(b, acc, w, t), typ=t)])), "rw",
             interleave_hint(self.module, 2) if heavy else None)

    def row_span(self, outer: list[ir.Value], form: "RowForm", span: tuple[ir.Value, ir.Value], acc: ir.Value
                 ) -> None:
        """Running values `acc` of positions `span` of one output row: for each reduction step
        one contiguous, unguarded (vectorizable) loop over the positions where the guard holds."""
        k, b = self.k, self.b
        (red,) = k.reductions
        width, d = k.shape[-1], red.value.dtype
        t = llvm_type(d)
        first, last = span

        def add(w: ir.Value, rivs: list[ir.Value]) -> None:
            em = self.emitter(outer + [w], rivs)
            cell = _at(b, acc, w, t)
            b.store(_combine(b, em, red.kind, d, b.load(cell, typ=t), em(form.value)), cell)

        def step(rivs: list[ir.Value]) -> None:
            lo, hi = row_range(b, self.emitter(outer + [I64(0)], rivs), form.guard, width) if form.guard \
                else (first, last)
            loop(b, lo, hi, lambda w: add(w, rivs), "rs")

        loop(b, first, last, lambda w: b.store(_identity(red.kind, d), _at(b, acc, w, t)), "ri")
        # the window's rows loop and the taps of a row are written out: a vectorized loop per
        # tap of one row, not per tap of the window (W4 first call 0.94 -> 0.85 s, same speed)
        size = body_size([form.value])
        steps = row_steps(k.rshape, width * d.itemsize) if _summed(red) else None
        if steps:
            blocked(b, self.alloca, k.rshape, steps, step, size, [Cell(acc, t, width, first, last)])
        else:
            nest(b, k.rshape[:-1],
                 lambda outer: small_nest(b, k.rshape[-1:], lambda last: step(outer + last), "rt", size), "r")

    def scan_point(self, ivs: list[ir.Value]) -> None:
        (r,) = self.k.reductions
        b, d = self.b, r.value.dtype
        acc = self.alloca(llvm_type(d))
        b.store(_identity("sum", d), acc)

        def step(rivs):
            em = self.emitter(ivs, rivs)
            total = _combine(b, em, "sum", d, b.load(acc, typ=llvm_type(d)), em(r.value))
            b.store(total, acc)
            self.write(self.emitter(ivs, rivs, [total]))
        nest(b, self.k.rshape, step, "r")

    def _flat(self, rivs, rshape) -> ir.Value:
        off = I64(0)
        for i, n in zip(rivs, rshape):
            off = self.b.add(self.b.mul(off, I64(n)), i)
        return off


def _passes(reductions) -> list[list[Reduction]]:
    """Split reductions into loops: a reduction reading the result of one in the current
    loop starts the next loop."""
    out: list[list[Reduction]] = []
    start = 0
    for j, r in enumerate(reductions):
        if not out or any(i >= start for i in refs(r.value, "acc")):
            out.append([])
            start = j
        out[-1].append(r)
    return out


LANES = 64  # innermost reduction extents up to this many get one running value per position


def lanes(rshape: tuple[int, ...], reds: list[Reduction]) -> bool:
    """Lane accumulators pay off for a short innermost extent under a long outer reduction
    (a convolution's weight gradient: rows of 28 over batch x height)."""
    return len(rshape) >= 2 and 8 <= rshape[-1] <= LANES and math.prod(rshape[:-1]) >= 8 \
        and all(r.kind in ("sum", "max", "min") for r in reds)


LANE_REGISTERS = 12  # vector registers the running values of one lane pass may fill


def lane_width(extent: int, bytes_per_lane: int, vector_bytes: int, itemsize: int) -> int:
    """Lanes per step over an innermost reduced extent: all of it, or, when the running values
    of every jammed point would not fit in registers (5 kernel columns x 32 lanes: 20 AVX
    registers, spilled on every step), the widest divisor that is whole vectors and fits."""
    budget = LANE_REGISTERS * vector_bytes
    if extent * bytes_per_lane <= budget:
        return extent
    vector = max(1, vector_bytes // itemsize)
    fits = [w for w in range(vector, extent, vector) if extent % w == 0 and w * bytes_per_lane <= budget]
    return max(fits, default=extent)


JAM = 8  # innermost output extents up to this many share one pass over a long reduction


def jam(k: Kernel) -> bool:
    """Jam the innermost output dimension into the reduction loop when it is short and the
    reduction long: a convolution's weight gradient reads the same gradient value for all
    its kernel columns, so the points together load it once, not once each."""
    return len(k.shape) >= 2 and 2 <= k.shape[-1] <= JAM and bool(k.reductions) and not k.is_scan \
        and math.prod(k.rshape) >= 1024 and not any(refs(s.offset, "ridx") for s in k.stores) \
        and all(r.kind in ("sum", "prod", "max", "min") for r in k.reductions)


ROW_CACHE = 8192  # elements of a reduction space whose costly values are kept for the row stores


def _row_values(k: Kernel, inner: list) -> dict[int, Expr]:
    """Costly values (an exp, a division) over the reduction space that both a reduction and
    the row stores compute (softmax's e^(x - max), summed, then divided by the sum): the
    reduction pass keeps them in a stack array, so the row pass computes each once. The
    largest such subexpressions, by id."""
    if not inner or math.prod(k.rshape) > ROW_CACHE:
        return {}
    reduced = set(nodes(r.value for r in k.reductions))
    if any(x.op == "select" and x.attr == GUARD for x in reduced):
        return {}  # NOTE: a guarded value is not computed at every step
    keep: dict[int, Expr] = {}
    stack = [e for s in inner for e in (s.offset, s.value)]
    seen: set[int] = set()
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if e in reduced and refs(e, "ridx") and body_size([e]) >= 16:
            keep[id(e)] = e
        else:
            stack.extend(e.args)
    return keep


def _summed(r: Reduction) -> bool:
    """A float sum: the running values whose rounding grows with the steps (integer sums are
    exact; a max or min never rounds; a product's relative error is NumPy's too)."""
    return r.kind == "sum" and r.value.dtype.is_float


def _at(b: ir.IRBuilder, array: ir.Value, i: ir.Value, t: ir.Type) -> ir.Value:
    """Element i of a stack array of t."""
    return b.gep(array, [i], inbounds=True, source_etype=t)


def _identity(kind: str, d) -> ir.Constant:
    if kind in ("sum", "cumsum"):
        return constant(d, 0)
    if kind == "prod":
        return constant(d, 1)
    big = kind in ("min", "argmin")
    if d.is_float:
        return constant(d, float("inf") if big else float("-inf"))
    if d.is_bool:
        return constant(d, big)
    lim = (1 << (d.bits - 1))
    return constant(d, lim - 1 if big else -lim)


def _combine(b: ir.IRBuilder, em: ScalarEmitter, kind: str, d, acc: ir.Value, v: ir.Value) -> ir.Value:
    if kind == "sum" and isinstance(v, ir.Instruction) and v.opname == "fmul":
        # NOTE: a product summed is one multiply-add (fused where the CPU has FMA): a
        # convolution's taps become FMA chains. Only here: elementwise arithmetic stays as
        # NumPy rounds it (the same eagerly and compiled).
        return em.intrinsic("fmuladd", d, *v.operands, acc, flags=REDUCE_FLAGS)
    if kind == "sum":
        return b.fadd(acc, v, flags=REDUCE_FLAGS) if d.is_float else b.add(acc, v)
    if kind == "prod":
        return b.fmul(acc, v, flags=REDUCE_FLAGS) if d.is_float else b.mul(acc, v)
    return em._minmax(d, acc, v, "maximum" if kind == "max" else "minimum", ">" if kind == "max" else "<")


def _better(b: ir.IRBuilder, kind: str, d, v: ir.Value, cur: ir.Value) -> ir.Value:
    """argmax/argmin take the first extreme; a NaN wins over any number (NumPy)."""
    rel = ">" if kind == "argmax" else "<"
    if d.is_float:
        v_nan, cur_nan = b.fcmp_unordered("uno", v, v), b.fcmp_unordered("uno", cur, cur)
        return b.or_(b.fcmp_ordered(rel, v, cur), b.and_(v_nan, b.not_(cur_nan)))
    return (b.icmp_unsigned if d.is_bool else b.icmp_signed)(rel, v, cur)


# rows: a guarded window sum with its guard turned into loop bounds --------------------------------

@dataclass(frozen=True)
class RowForm:
    """A kernel whose single reduction sums (or maxes, mins) `value`, or `guard(uniform ∧
    bounds, value, identity)`, run a whole output row at a time: per output row the guard is
    a condition that does not vary along the row and an interval of the row, so each
    reduction step is one unguarded contiguous loop. A `window` (unguarded, its steps sliding
    along the row: a convolution over an already padded input) runs in register-held blocks."""

    guard: RowGuard | None
    value: Expr
    window: bool = False


# vectors of a window form's row whose running values stay in registers: 8 chains of multiply-adds
# hide their latency (4 left LeNet's conv1 21% slower; 12 and 16 spill)
ROW_BLOCK = 8


def row_form(k: Kernel) -> RowForm | None:
    """The RowForm of k, or None: one sum/max/min reduction whose guard's conditions on the
    innermost index are unit-coefficient bounds and whose fill is the reduction's identity."""
    if len(k.shape) < 2 or k.shape[-1] < 4 or len(k.reductions) != 1 or k.is_scan \
            or any(refs(s.offset, "ridx") for s in k.stores):
        return None
    (r,) = k.reductions
    v = r.value
    if r.kind not in ("sum", "max", "min") or v.op != "select" or v.attr != GUARD or not v.args[2].is_const \
            or v.args[2].attr != _identity(r.kind, v.dtype).constant:
        return None
    guard = row_guard(v.args[0], len(k.shape) - 1)
    return RowForm(guard, v.args[1]) if guard else None


def column_form(k: Kernel) -> RowForm | None:
    """A reduction over outer dimensions whose operands are contiguous along the output row
    and not along the reduction (`sum(x, axis=0)`: each output walks down a column with
    stride N) as a RowForm without guard: each reduction step adds one input row into a
    running output row, a vectorized loop, instead of a strided scalar walk per output."""
    if not k.shape or not JAM < k.shape[-1] <= ROW_CACHE or not k.rshape or len(k.reductions) != 1 \
            or k.is_scan or any(refs(s.offset, "ridx") for s in k.stores):
        return None
    (r,) = k.reductions
    offsets = [e.args[0] for e in nodes([r.value]) if e.op == "load"]
    along_row = [coef(o, len(k.shape) - 1) for o in offsets]
    along_reduction = [coef(o, len(k.rshape) - 1, "ridx") for o in offsets]
    if r.kind not in ("sum", "max", "min") or 1 not in along_row or any(c not in (0, 1) for c in along_row) \
            or 1 in along_reduction:
        return None
    sliding = any(coef(o, d, "ridx") == 1 for o in offsets for d in range(len(k.rshape)))
    return RowForm(None, r.value, window=sliding)
