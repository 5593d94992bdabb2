"""Kernel IR → LLVM IR for the host CPU: one function per kernel, one entry per program.

The entry function `void @<sym>(ptr bufs)` receives the pointer table of the Program's
buffers and calls every kernel in order: one native call per graph invocation. A kernel
`void @<sym>.kN(ptr bufs, i64 lo, i64 hi)` runs its outermost dimension over [lo, hi), so
a thread pool (or a GPU grid) can split it without changing the body.
"""
from __future__ import annotations

import math

from llvmlite import ir

from ..ir import dtypes as dt
from ..ir.kernel import Expr, Gemm, Kernel, Reduction, body_size, refs
from ..ir.program import Program
from ..ir.target import Target
from .loops import interleave_hint, loop, nest, small_nest
from .scalar import I64, I8, PTR, REDUCE_FLAGS, ScalarEmitter, constant, llvm_type, memory_type


class _KernelEmitter:
    def __init__(self, module: ir.Module, k: Kernel, sym: str, program: Program):
        self.k, self.program, self.module = k, program, module
        self.fn, self.lo, self.hi = self.function(sym, set(k.reads) | k.writes)
        if k.size * max(math.prod(k.rshape), 1) < SMALL_WORK:
            self.fn.attributes.add("optsize")  # NOTE: nothing to win by vectorizing a few points; compile fast

    def function(self, sym: str, slots: set[int]) -> tuple[ir.Function, ir.Value, ir.Value]:
        """A `void (ptr bufs, i64 lo, i64 hi)` function with the builder at its entry and
        the pointers of `slots` loaded."""
        fn = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [PTR, I64, I64]), sym)
        fn.linkage = "internal"
        fn.attributes.add("noinline")  # NOTE: one kernel per function keeps LLVM's time linear in the program
        fn.args[0].add_attribute("noalias")
        bufs = fn.args[0]
        self.b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.ptrs = {s: self.b.load(self.b.gep(bufs, [I64(s)], source_etype=PTR), name=f"buf{s}",
                                  typ=PTR) for s in sorted(slots)}
        return fn, fn.args[1], fn.args[2]

    def pointer(self, slot: int, offset: ir.Value, d) -> ir.Value:
        return self.b.gep(self.ptrs[slot], [offset], inbounds=True, source_etype=memory_type(d))

    def load(self, slot: int, offset: ir.Value, d) -> ir.Value:
        v = self.b.load(self.pointer(slot, offset, d), typ=memory_type(d))
        return self.b.trunc(v, llvm_type(d)) if d.is_bool else v

    def store(self, slot: int, offset: ir.Value, value: ir.Value, d, mode: str) -> None:
        p = self.pointer(slot, offset, d)
        if mode == "add":
            old = self.b.load(p, typ=memory_type(d))
            value = self.b.fadd(old, value) if d.is_float else self.b.add(old, value)
        elif d.is_bool:
            value = self.b.zext(value, I8)
        self.b.store(value, p)

    def emitter(self, ivs: list[ir.Value], rivs: list[ir.Value] = (), accs: list[ir.Value] = (),
                memo: dict | None = None) -> ScalarEmitter:
        def leaf(e: Expr) -> ir.Value:
            if e.op == "idx":
                return ivs[e.attr]
            if e.op == "ridx":
                return rivs[e.attr]
            if e.op == "acc":
                return accs[e.attr]
            return self.load(e.attr, em(e.args[0]), e.dtype)
        em = ScalarEmitter(self.b, leaf, dict(memo) if memo else None)
        return em

    def emit(self) -> ir.Function:
        """The kernel's points (its GEMM, if any, is `emit_gemm`'s and runs before)."""
        k, b = self.k, self.b
        shape = k.shape or (1,)
        ivs_of = (lambda ivs: ivs) if k.shape else (lambda ivs: [])

        def point(ivs):
            ivs = ivs_of(ivs)
            if k.reductions:
                self.reduce_points([ivs])
            else:
                self.write(self.emitter(ivs))
        if _jam(k):  # the innermost points' reductions share one pass
            nest(b, shape[:-1], lambda ivs: self.reduce_points([ivs + [I64(j)] for j in range(shape[-1])]), "i",
                 (self.lo, self.hi))
        else:
            heavy = not k.reductions and shape[-1] >= LONG_ROW and body_size([s.value for s in k.stores]) >= HEAVY_BODY
            nest(b, shape, point, "i", (self.lo, self.hi), interleave_hint(self.module, 2) if heavy else None)
        b.ret_void()
        return self.fn

    def write(self, em: ScalarEmitter, stores=None) -> None:
        """Evaluate every store's offset and value, then store: no store is seen by a load of
        the same point (an in-place update reads the old value)."""
        self.flush(self.evaluate(em, self.k.stores if stores is None else stores))

    def evaluate(self, em: ScalarEmitter, stores) -> list:
        return [(s, em(s.offset), em(s.value)) for s in stores]

    def flush(self, evaluated: list) -> None:
        for s, offset, value in evaluated:
            self.store(s.buf, offset, value, s.value.dtype, s.mode)

    def emit_gemm(self, sym: str, splits: int) -> ir.Function:
        """Tasks [lo, hi) of the GEMM: task t multiplies batch index t // splits, the
        (t % splits)-th band of rows of C (or of columns, when C is wider than tall), with
        one single-threaded BLAS call (cblas, row-major); the bands are the threads' work."""
        g = self.k.gemm
        fn, lo, hi = self.function(sym, {g.a, g.b, g.c})
        b = self.b
        d = self.program.buffers[g.c].type.dtype
        t = llvm_type(d)
        i32 = ir.IntType(32)
        name = "kiln_dgemm" if d == dt.float64 else "kiln_sgemm"
        blas = self.module.globals.get(name) or ir.Function(
            self.module, ir.FunctionType(ir.VoidType(), [i32] * 6 + [t, PTR, i32, PTR, i32, t, PTR, i32]), name)
        lda, ldb = (g.m if g.trans_a else g.k), (g.k if g.trans_b else g.n)
        by_rows = g.m >= g.n
        size = g.m if by_rows else g.n

        def task(ti):
            a_off = b_off = c_off = I64(0)
            rest = b.sdiv(ti, I64(splits))
            ivs = []
            for n in reversed(g.batch):
                ivs.insert(0, b.srem(rest, I64(n)))
                rest = b.sdiv(rest, I64(n))
            for i, n, sa, sb in zip(ivs, g.batch, g.a_strides, g.b_strides):
                a_off = b.add(a_off, b.mul(i, I64(sa)))
                b_off = b.add(b_off, b.mul(i, I64(sb)))
                c_off = b.add(b.mul(c_off, I64(n)), i)
            c_off = b.mul(c_off, I64(g.m * g.n))
            band = b.srem(ti, I64(splits))
            start = b.sdiv(b.mul(band, I64(size)), I64(splits))
            stop = b.sdiv(b.mul(b.add(band, I64(1)), I64(size)), I64(splits))
            m, n = I64(g.m), I64(g.n)
            if by_rows:  # rows start..stop of C: rows of A (columns of a transposed A)
                m = b.sub(stop, start)
                a_off = b.add(a_off, start if g.trans_a else b.mul(start, I64(g.k)))
                c_off = b.add(c_off, b.mul(start, I64(g.n)))
            else:  # columns start..stop of C: columns of B (rows of a transposed B)
                n = b.sub(stop, start)
                b_off = b.add(b_off, b.mul(start, I64(g.k)) if g.trans_b else start)
                c_off = b.add(c_off, start)
            b.call(blas, [i32(101), i32(112 if g.trans_a else 111), i32(112 if g.trans_b else 111),
                          b.trunc(m, i32), b.trunc(n, i32), i32(g.k), constant(d, 1.0), self.pointer(g.a, a_off, d),
                          i32(lda), self.pointer(g.b, b_off, d), i32(ldb), constant(d, 0.0),
                          self.pointer(g.c, c_off, d), i32(g.n)])
        loop(b, lo, hi, task, "t")
        b.ret_void()
        return fn

    def reduce_points(self, pts: list[list[ir.Value]]) -> None:
        """Run the reductions of the points `pts` (one point, or a few jammed together so
        the values they share are loaded once) pass by pass (a pass ends where a reduction
        needs an earlier result), then the point stores, then the stores over the reduction
        space."""
        k, b = self.k, self.b
        if k.is_scan:
            self.scan_point(pts[0])
            return
        results: list[list[ir.Value]] = [[] for _ in pts]
        for batch in _passes(k.reductions):
            for mine, new in zip(results, self.reduce_pass(pts, batch, results)):
                mine += new
        inner = [s for s in k.stores if refs(s.offset, "ridx")]
        for ivs, res in zip(pts, results):
            em = self.emitter(ivs, accs=res)
            point = self.evaluate(em, [s for s in k.stores if s not in inner])
            if inner:  # the row pass reads what the point stores will overwrite, so it runs first
                small_nest(b, k.rshape, lambda rivs: self.write(self.emitter(ivs, rivs, res, em.memo), inner), "m",
                           body_size([e for s in inner for e in (s.offset, s.value)]))
            self.flush(point)

    def reduce_pass(self, pts: list[list[ir.Value]], reds: list[Reduction], earlier: list[list[ir.Value]]
                    ) -> list[list[ir.Value]]:
        """One loop over the reduction space combining `reds` at every point of `pts` (they may
        read the `earlier` results of their point)."""
        if _lanes(self.k.rshape, reds):
            return self.lane_pass(pts, reds, earlier)
        b = self.b
        slots = [(r, b.alloca(llvm_type(r.value.dtype)), b.alloca(I64) if r.kind in ("argmax", "argmin") else None)
                 for _ in pts for r in reds]
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
        small_nest(b, self.k.rshape, step, "r", len(pts) * body_size([r.value for r in reds]))
        out = [b.load(p, typ=I64) if p is not None else b.load(a, typ=llvm_type(r.value.dtype)) for r, a, p in slots]
        return [out[n * len(reds):(n + 1) * len(reds)] for n in range(len(pts))]

    def lane_pass(self, pts: list[list[ir.Value]], reds: list[Reduction], earlier: list[list[ir.Value]]
                  ) -> list[list[ir.Value]]:
        """A reduction whose innermost extent R is short, over many outer steps: R running
        values, one per position of the innermost index (an array LLVM keeps in vector
        registers), combined once at the end. Vectorizing the short inner loop itself would
        pay a horizontal combine (and a scalar tail) on every outer step."""
        b, rshape = self.b, self.k.rshape
        lanes = rshape[-1]
        slots = [(red, llvm_type(red.value.dtype)) for _ in pts for red in reds]
        accs = [b.alloca(t, size=I64(lanes)) for _, t in slots]

        def lane(a: ir.Value, t: ir.Type, r: ir.Value) -> ir.Value:
            return b.gep(a, [r], inbounds=True, source_etype=t)

        def init(r):
            for (red, t), a in zip(slots, accs):
                b.store(_identity(red.kind, red.value.dtype), lane(a, t, r))

        def step(rivs):
            for n, (ivs, prior) in enumerate(zip(pts, earlier)):
                em = self.emitter(ivs, rivs, prior)
                for (red, t), a in list(zip(slots, accs))[n * len(reds):(n + 1) * len(reds)]:
                    p = lane(a, t, rivs[-1])
                    b.store(_combine(b, em, red.kind, red.value.dtype, b.load(p, typ=t), em(red.value)), p)

        loop(b, I64(0), I64(lanes), init, "l")
        nest(b, rshape[:-1], lambda outer: loop(b, I64(0), I64(lanes), lambda r: step(outer + [r]), "lr"), "r")
        totals = [b.alloca(t) for _, t in slots]
        for (red, _), tot in zip(slots, totals):
            b.store(_identity(red.kind, red.value.dtype), tot)

        def combine(r):
            em = self.emitter([])
            for (red, t), a, tot in zip(slots, accs, totals):
                b.store(_combine(b, em, red.kind, red.value.dtype, b.load(tot, typ=t), b.load(lane(a, t, r), typ=t)),
                        tot)
        loop(b, I64(0), I64(lanes), combine, "lc")
        out = [b.load(tot, typ=t) for tot, (_, t) in zip(totals, slots)]
        return [out[n * len(reds):(n + 1) * len(reds)] for n in range(len(pts))]

    def scan_point(self, ivs: list[ir.Value]) -> None:
        (r,) = self.k.reductions
        b, d = self.b, r.value.dtype
        acc = b.alloca(llvm_type(d))
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


def _lanes(rshape: tuple[int, ...], reds: list[Reduction]) -> bool:
    """Lane accumulators pay off for a short innermost extent under a long outer reduction
    (a convolution's weight gradient: rows of 28 over batch x height)."""
    return len(rshape) >= 2 and 8 <= rshape[-1] <= LANES and math.prod(rshape[:-1]) >= 8 \
        and all(r.kind in ("sum", "max", "min") for r in reds)


JAM = 8  # innermost output extents up to this many share one pass over a long reduction


def _jam(k: Kernel) -> bool:
    """Jam the innermost output dimension into the reduction loop when it is short and the
    reduction long: a convolution's weight gradient reads the same gradient value for all
    its kernel columns, so the points together load it once, not once each."""
    return len(k.shape) >= 2 and 2 <= k.shape[-1] <= JAM and bool(k.reductions) and not k.is_scan \
        and math.prod(k.rshape) >= 1024 and not any(refs(s.offset, "ridx") for s in k.stores) \
        and all(r.kind in ("sum", "prod", "max", "min") for r in k.reductions)


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


HEAVY_BODY = 32  # body_size from which an elementwise loop interleaves two vector iterations...
LONG_ROW = 64  # ...if its rows are this long (a short row would leave most of it to the scalar remainder)
SMALL_WORK = 1 << 12  # scalar evaluations below which a kernel is compiled for size, not speed
PARALLEL_WORK = 1 << 15  # scalar evaluations below which threads cost more than they save
GEMM_SPLIT_WORK = 1 << 18  # multiply-adds below which a GEMM runs as one BLAS call


def parallel(k: Kernel) -> bool:
    """Can the kernel's outer range be split over threads? Not an accumulating scatter
    (points would race), and enough work per call."""
    if not k.shape or k.shape[0] < 2 or any(s.mode != "set" for s in k.stores):
        return False
    return k.size * max(math.prod(k.rshape), 1) >= PARALLEL_WORK


def gemm_splits(g: Gemm, threads: int) -> int:
    """Bands per batch index: BLAS runs single-threaded inside kiln's pool (one set of
    threads, never two pools fighting over the cores), so a large GEMM is cut into bands."""
    batches = math.prod(g.batch)
    if threads < 2 or batches >= threads or batches * g.m * g.n * g.k < GEMM_SPLIT_WORK:
        return 1
    return max(1, min(threads, max(g.m, g.n)))


def profile_symbol(sym: str) -> str:
    """The global array of i64 where a profiling build adds each kernel's cycle count."""
    return f"{sym}.cycles"


def emit_module(program: Program, target: Target, sym: str, threads: int = 1, profile: bool = False
                ) -> ir.Module:
    """The whole program as one LLVM module whose entry symbol is `sym`; with threads > 1,
    large kernels run through the runtime's `kiln_parallel_for`. With `profile`, the entry
    adds the cycles each kernel took to `profile_symbol(sym)[kernel]`."""
    module = ir.Module(name=sym)
    module.triple = target.triple
    entry = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR]), sym)
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    pfor = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, PTR, I64]), "kiln_parallel_for") \
        if threads > 1 else None
    cycles = clock = None
    if profile:
        cycles = ir.GlobalVariable(module, ir.ArrayType(I64, max(len(program.kernels), 1)), profile_symbol(sym))
        cycles.initializer = ir.Constant(cycles.value_type, None)
        clock = ir.Function(module, ir.FunctionType(I64, []), "llvm.readcyclecounter")
    def run(fn: ir.Function, n: int, split: bool) -> None:
        if pfor is not None and split:
            b.call(pfor, [fn, entry.args[0], I64(n)])
        else:
            b.call(fn, [entry.args[0], I64(0), I64(n)])

    for n, k in enumerate(program.kernels):
        emitter = _KernelEmitter(module, k, f"{sym}.k{n}", program)
        fn = emitter.emit()
        if k.size == 0 and not k.gemm:
            continue
        start = b.call(clock, []) if profile else None
        if k.gemm:
            splits = gemm_splits(k.gemm, threads)
            tasks = math.prod(k.gemm.batch) * splits
            run(emitter.emit_gemm(f"{sym}.k{n}.gemm", splits), tasks, tasks > 1)
        if k.stores:
            run(fn, k.shape[0] if k.shape else 1, parallel(k))
        if profile:
            slot = b.gep(cycles, [I64(0), I64(n)], inbounds=True)
            b.store(b.add(b.load(slot, typ=I64), b.sub(b.call(clock, []), start)), slot)
    b.ret_void()
    return module


def emit_llvm(program: Program, target: Target, sym: str, threads: int = 1, profile: bool = False) -> str:
    return str(emit_module(program, target, sym, threads, profile))
