"""Kernel IR → LLVM IR for the host CPU: one function per kernel, one entry per program.

The entry function `void @<sym>(ptr bufs)` receives the pointer table of the Program's
buffers and calls every kernel in order: one native call per graph invocation. A kernel
`void @<sym>.kN(ptr bufs, i64 lo, i64 hi)` runs its outermost dimension over [lo, hi), so
a thread pool (or a GPU grid) can split it without changing the body.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from llvmlite import ir

from ..ir import dtypes as dt
from ..ir.kernel import Expr, Gemm, Kernel, body_size, checks, loads, nodes, refs
from ..ir.program import Program
from ..ir.target import Target
from .loops import HEAVY_BODY, UNROLL, interleave_hint, loop, nest
from .reduce import Reductions, column_form, jam, row_form
from .rows import RowGuard, guarded_rows, row_range
from .scalar import I64, I8, PTR, ScalarEmitter, constant, llvm_type, memory_type


class _KernelEmitter(Reductions):
    def __init__(self, module: ir.Module, k: Kernel, sym: str, program: Program, vector_bytes: int = 0):
        self.k, self.sym, self.program, self.module, self.vector_bytes = k, sym, program, module, vector_bytes

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
        self.alias = _alias_sets(self.module, sorted(slots))
        return fn, fn.args[1], fn.args[2]

    def alloca(self, t: ir.Type, count: int | None = None) -> ir.Value:
        """Stack space from the function's entry block: an alloca inside a loop would take
        new stack on every iteration (a softmax row buffer per row: megabytes)."""
        with self.b.goto_entry_block():
            return self.b.alloca(t, size=None if count is None else I64(count))

    def pointer(self, slot: int, offset: ir.Value, d) -> ir.Value:
        return self.b.gep(self.ptrs[slot], [offset], inbounds=True, source_etype=memory_type(d))

    def load(self, slot: int, offset: ir.Value, d) -> ir.Value:
        v = self.scoped(slot, self.b.load(self.pointer(slot, offset, d), typ=memory_type(d)))
        return self.b.trunc(v, llvm_type(d)) if d.is_bool else v

    def store(self, slot: int, offset: ir.Value, value: ir.Value, d, mode: str) -> None:
        p = self.pointer(slot, offset, d)
        if mode == "add":
            old = self.scoped(slot, self.b.load(p, typ=memory_type(d)))
            value = self.b.fadd(old, value) if d.is_float else self.b.add(old, value)
        elif d.is_bool:
            value = self.b.zext(value, I8)
        self.scoped(slot, self.b.store(value, p))

    def scoped(self, slot: int, access: ir.Instruction) -> ir.Instruction:
        """Tell LLVM that buffer `slot` overlaps no other buffer of the kernel, so its loops
        vectorize without runtime overlap checks."""
        scope, others = self.alias[slot]
        access.set_metadata("alias.scope", scope)
        if others is not None:
            access.set_metadata("noalias", others)
        return access

    def emitter(self, ivs: list[ir.Value], rivs: list[ir.Value] = (), accs: list[ir.Value] = (),
                memo: dict | None = None) -> ScalarEmitter:
        def leaf(e: Expr) -> ir.Value:
            if e.op == "idx":
                return ivs[e.attr]
            if e.op == "ridx":
                return rivs[e.attr]
            if e.op == "acc":
                return accs[e.attr]
            if e.op == "check":
                return self.check(em(e.args[0]), e.attr)
            return self.load(e.attr, em(e.args[0]), e.dtype)
        em = ScalarEmitter(self.b, leaf, dict(memo) if memo else None)
        return em

    def check(self, raw: ir.Value, site) -> ir.Value:
        """`check`: one unsigned compare and a branch taken only for a bad index, which records
        it in the status buffer (the first check to fail, in any thread, wins the
        compare-and-swap); the offset read meanwhile is 0."""
        b, n, slot = self.b, I64(site.bound), self.program.status.slot
        i = b.select(b.icmp_signed("<", raw, I64(0)), b.add(raw, n), raw) if site.negative else raw
        ok = b.icmp_unsigned("<", i, n)
        with b.if_then(b.not_(ok), likely=False):
            status = self.ptrs[slot]
            first = self.scoped(slot, b.cmpxchg(status, I64(0), I64(self.program.sites.index(site) + 1),
                                                "monotonic", "monotonic"))
            with b.if_then(b.extract_value(first, 1)):
                self.scoped(slot, b.store(raw, b.gep(status, [I64(1)], source_etype=I64)))
        return b.select(ok, i, I64(0))

    def emit(self) -> ir.Function:
        """The kernel's points (its GEMM, if any, is `emit_gemm`'s and runs before)."""
        k = self.k
        status = {self.program.status.slot} if checks(k) else set()
        self.fn, self.lo, self.hi = self.function(self.sym, set(k.reads) | k.writes | status)
        if k.size * max(math.prod(k.rshape), 1) < SMALL_WORK:
            self.fn.attributes.add("optsize")  # NOTE: nothing to win by vectorizing a few points; compile fast
        b = self.b
        shape = k.shape or (1,)
        ivs_of = (lambda ivs: ivs) if k.shape else (lambda ivs: [])

        def point(ivs):
            ivs = ivs_of(ivs)
            if k.reductions:
                self.reduce_points([ivs])
            else:
                self.write(self.emitter(ivs))
        form = row_form(k) or column_form(k)
        guarded = None if form or k.reductions else guarded_rows(k)
        if form is not None:  # whole output rows: a guarded window sum, or a sum down columns
            if len(shape) == 1:  # the row is what threads split
                self.row_pass([], form, (self.lo, self.hi))
            else:
                nest(b, shape[:-1], lambda ivs: self.row_pass(ivs, form), "i", (self.lo, self.hi))
        elif guarded is not None:  # a guarded copy: the same, three loops per row
            nest(b, shape[:-1], lambda ivs: self.guarded_row(ivs, *guarded), "i", (self.lo, self.hi))
        elif jam(k):  # the innermost points' reductions share one pass
            nest(b, shape[:-1], lambda ivs: self.reduce_points([ivs + [I64(j)] for j in range(shape[-1])]), "i",
                 (self.lo, self.hi))
        else:
            if self.odd_short_rows():
                self.fn.attributes.add("optsize")
            heavy = not k.reductions and shape[-1] >= LONG_ROW and body_size([s.value for s in k.stores]) >= HEAVY_BODY
            nest(b, shape, point, "i", (self.lo, self.hi), interleave_hint(self.module, 2) if heavy else None,
                 self.overlap())
        b.ret_void()
        return self.fn

    def odd_short_rows(self) -> bool:
        """Rows of 3, 5, 6 or 7 points under an outer loop: LLVM writes such a row out and
        vectorizes the loop around it with shuffles for every strided access (an average
        pool's 2x2 windows in rows of 5: 1000 lines of IR and 60 ms of LLVM time for no
        faster code), so the kernel is compiled for size."""
        n = self.k.shape[-1] if len(self.k.shape) >= 2 else 0
        return 2 < n < self.vector_bytes // 4 and n & (n - 1) != 0

    def guarded_row(self, outer: list[ir.Value], guard: Expr, rows: RowGuard) -> None:
        """One row of an elementwise kernel with one guarded value: the fill before and after
        the interval where the guard holds, the unguarded value inside it."""
        b, width = self.b, self.k.shape[-1]
        lo, hi = row_range(b, self.emitter(outer + [I64(0)]), rows, width)

        def part(start: ir.Value, stop: ir.Value, value: Expr, name: str) -> None:
            def point(w: ir.Value) -> None:
                em = self.emitter(outer + [w])
                em.memo[id(guard)] = em(value)
                self.write(em)
            loop(b, start, stop, point, name)
        part(I64(0), lo, guard.args[2], "gl")
        part(lo, hi, guard.args[1], "gv")
        part(hi, I64(width), guard.args[2], "gh")

    def overlap(self) -> int:
        """Vector lanes for `nest`'s overlapping row tail, 0 where running a point twice could
        change the result: a reduction (loops of its own), an accumulating store, a buffer
        both read and written, or a kernel whose only dimension is split over threads."""
        k = self.k
        if (not self.vector_bytes or not k.stores or k.reductions or len(k.shape) < 2
                or any(s.mode != "set" for s in k.stores) or k.writes & set(k.reads)):
            return 0
        widest = max(e.dtype.itemsize for e in [*loads(k), *(s.value for s in k.stores)])
        return self.vector_bytes // widest

    def write(self, em: ScalarEmitter, stores=None) -> None:
        """Evaluate every store's offset and value, then store: no store is seen by a load of
        the same point (an in-place update reads the old value)."""
        self.flush(self.evaluate(em, self.k.stores if stores is None else stores))

    def evaluate(self, em: ScalarEmitter, stores) -> list:
        return [(s, em(s.offset), em(s.value)) for s in stores]

    def flush(self, evaluated: list) -> None:
        for s, offset, value in evaluated:
            self.store(s.buf, offset, value, s.value.dtype, s.mode)

    def emit_gemm(self, sym: str, splits: int, update: GemmUpdate | None) -> ir.Function:
        """Tasks [lo, hi) of the GEMM: task t multiplies batch index t // splits, the
        (t % splits)-th band of rows of C (or of columns, when C is wider than tall), with
        one single-threaded BLAS call (cblas, row-major); the bands are the threads' work.
        With an `update`, BLAS adds the scaled product into its target itself."""
        g = self.k.gemm
        c = update.target if update else g.c
        reads = {e.attr for e in nodes([update.alpha]) if e.op == "load"} if update else set()
        fn, lo, hi = self.function(sym, {g.a, g.b, c} | reads)
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
        alpha = self.emitter([])(update.alpha) if update else constant(d, 1.0)
        beta = constant(d, 1.0 if update else 0.0)

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
                          b.trunc(m, i32), b.trunc(n, i32), i32(g.k), alpha, self.pointer(g.a, a_off, d),
                          i32(lda), self.pointer(g.b, b_off, d), i32(ldb), beta, self.pointer(c, c_off, d), i32(g.n)])
        loop(b, lo, hi, task, "t")
        b.ret_void()
        return fn


@dataclass(frozen=True)
class GemmUpdate:
    """A GEMM kernel whose one store adds `alpha` times the product into `target` at the same
    point (an SGD step, w − lr·(xᵀg)): BLAS does it in place (C = target, beta = 1), and the
    kernel's points need no loop of their own."""

    target: int
    alpha: Expr


def gemm_update(k: Kernel, program: Program) -> GemmUpdate | None:
    """k's GemmUpdate, or None: also when anything else reads the product (it must then be
    written), or the target is an operand of the product."""
    g = k.gemm
    if g is None or g.batch or k.reductions or len(k.stores) != 1 or k.shape != (g.m, g.n) \
            or program.buffers[g.c].kind != "temp" or any(g.c in o.reads for o in program.kernels if o is not k):
        return None
    (s,) = k.stores
    v = s.value
    if s.mode != "set" or s.buf in (g.a, g.b, g.c) or v.op not in ("add", "sub") or not _row_major(s.offset, g.n):
        return None
    pairs = [(v.args[0], v.args[1])] + ([(v.args[1], v.args[0])] if v.op == "add" else [])
    for kept, term in pairs:
        if kept.op == "load" and kept.attr == s.buf and kept.args[0] is s.offset:
            alpha = _product_scale(term, g.c, s.offset)
            if alpha is not None:
                return GemmUpdate(s.buf, alpha if v.op == "add" else Expr("neg", alpha.dtype, (alpha,)))
    return None


def _product_scale(term: Expr, c: int, offset: Expr) -> Expr | None:
    """s where `term` is s times the product at `offset` (s = 1 for the product itself), s the
    same at every point."""
    product = lambda e: e.op == "load" and e.attr == c and e.args[0] is offset  # noqa: E731
    if product(term):
        return Expr("const", term.dtype, (), 1.0)
    if term.op == "mul":
        for p, scale in (term.args, term.args[::-1]):
            if product(p) and not refs(scale, "idx") and not any(e.op == "load" and e.attr == c
                                                                 for e in nodes([scale])):
                return scale
    return None


def _row_major(offset: Expr, n: int) -> bool:
    """offset = idx 0 · n + idx 1: C's own layout."""
    if offset.op != "add" or n < 2:
        return False
    row, col = offset.args
    return col.op == "idx" and col.attr == 1 and row.op == "mul" and any(
        a.op == "idx" and a.attr == 0 and o.is_const and o.attr == n for a, o in (row.args, row.args[::-1]))


LONG_ROW = 64  # rows from which a heavy elementwise loop interleaves (a short row would leave most of it to the remainder)
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


def _alias_sets(module: ir.Module, slots: list[int]) -> dict[int, tuple[ir.MDValue, ir.MDValue | None]]:
    """Per buffer slot, the `alias.scope` and `noalias` lists of a kernel reading or writing
    `slots`. NOTE: distinct slots never share memory within a kernel: the arena frees a temp
    only after its last kernel, Variables own their arrays, and results are fresh or
    recycled only once dropped (an argument the caller still holds is never one)."""
    scopes = module.__dict__.setdefault("_kiln_scopes", {})
    if "domain" not in scopes:
        scopes["domain"] = _self_named(module, [ir.MetaDataString(module, "kiln buffers")])
    for s in slots:
        if s not in scopes:
            scopes[s] = _self_named(module, [scopes["domain"], ir.MetaDataString(module, f"slot {s}")])
    return {s: (_node(module, [scopes[s]]), _node(module, [scopes[t] for t in slots if t != s]) if len(slots) > 1
                else None) for s in slots}


def _node(module: ir.Module, operands: list) -> ir.MDValue:
    """A new metadata node (not `add_metadata`, whose cache hashes operands: a scope names
    itself, so hashing it never ends)."""
    return ir.values.MDValue(module, operands, name=str(len(module.metadata)))


def _self_named(module: ir.Module, operands: list) -> ir.MDValue:
    """A metadata node whose first operand is itself (how LLVM keeps scopes and loop ids unique)."""
    node = _node(module, [])
    node.operands = (node, *operands)
    return node


def profile_symbol(sym: str) -> str:
    """The global array of i64 where a profiling build adds each kernel's cycle count."""
    return f"{sym}.cycles"


def vector_bytes(target: Target) -> int:
    """Width of the host's vector registers that LLVM's vectorizer fills (AVX's 32 bytes,
    also on AVX-512 hosts, where LLVM prefers 256-bit vectors; SSE's 16)."""
    return 32 if "+avx" in target.features.split(",") else 16


def emit_part(program: Program, target: Target, sym: str, threads: int, profile: bool, parts: int,
              part: int) -> ir.Module:
    """Module `part` of the program's `parts`: its share of the kernels, spread by size so LLVM
    can compile the parts at the same time (in separate processes, each emitting its own); the
    first also holds the entry `sym`, which calls every kernel, those of other parts by name.
    With threads > 1, large kernels run through the runtime's `kiln_parallel_for`. With
    `profile`, the entry adds the cycles each kernel took to `profile_symbol(sym)[kernel]`."""
    module = ir.Module(name=f"{sym}.part{part}" if part else sym)
    module.triple = target.triple
    placed = _placement(program.kernels, parts)
    updates = [gemm_update(k, program) for k in program.kernels]
    mine: dict[str, ir.Function] = {}
    for n, k in enumerate(program.kernels):
        if placed[n] != part:
            continue
        emitter = _KernelEmitter(module, k, f"{sym}.k{n}", program, vector_bytes(target))
        functions = [emitter.emit()] if _has_points(k, updates[n]) else []
        if k.gemm:
            functions.append(emitter.emit_gemm(f"{sym}.k{n}.gemm", gemm_splits(k.gemm, threads), updates[n]))
        for fn in functions:
            if part:  # called from the entry in part 0: exported
                fn.linkage = ""
            mine[fn.name] = fn
    if part == 0:
        _entry(module, program, sym, threads, profile, mine, updates)
    return module


def _has_points(k: Kernel, update: GemmUpdate | None) -> bool:
    """Does the kernel run points of its own (not a GEMM alone, nor one BLAS updates with)?"""
    return bool(k.stores) and update is None


def _entry(module: ir.Module, program: Program, sym: str, threads: int, profile: bool,
           defined: dict[str, ir.Function], updates: list[GemmUpdate | None]) -> None:
    """`void sym(ptr bufs)`: every kernel in order, split over threads where it pays."""
    entry = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR]), sym)
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    pfor = ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, PTR, I64]), "kiln_parallel_for") \
        if threads > 1 else None
    cycles = clock = None
    if profile:
        cycles = ir.GlobalVariable(module, ir.ArrayType(I64, max(len(program.kernels), 1)), profile_symbol(sym))
        cycles.initializer = ir.Constant(cycles.value_type, None)
        clock = ir.Function(module, ir.FunctionType(I64, []), "llvm.readcyclecounter")

    def run(name: str, n: int, split: bool) -> None:
        fn = defined.get(name) or ir.Function(module, ir.FunctionType(ir.VoidType(), [PTR, I64, I64]), name)
        if pfor is not None and split:
            b.call(pfor, [fn, entry.args[0], I64(n)])
        else:
            b.call(fn, [entry.args[0], I64(0), I64(n)])

    for n, k in enumerate(program.kernels):
        if k.size == 0 and not k.gemm:
            continue
        start = b.call(clock, []) if profile else None
        if k.gemm:
            tasks = math.prod(k.gemm.batch) * gemm_splits(k.gemm, threads)
            run(f"{sym}.k{n}.gemm", tasks, tasks > 1)
        if _has_points(k, updates[n]):
            run(f"{sym}.k{n}", k.shape[0] if k.shape else 1, parallel(k))
            if checks(k):
                _stop_if_failed(b, entry, program)
        if profile:
            slot = b.gep(cycles, [I64(0), I64(n)], inbounds=True)
            b.store(b.add(b.load(slot, typ=I64), b.sub(b.call(clock, []), start)), slot)
    b.ret_void()


def _stop_if_failed(b: ir.IRBuilder, entry: ir.Function, program: Program) -> None:
    """After a kernel that checks indices: return at once if a check failed, so no later kernel
    (none of the Variable writes, which memory planning keeps after every check) runs."""
    table = entry.args[0]
    status = b.load(b.gep(table, [I64(program.status.slot)], source_etype=PTR), typ=PTR)
    failed = b.icmp_unsigned("!=", b.load(status, typ=I64), I64(0))
    with b.if_then(failed, likely=False):
        b.ret_void()


def _placement(kernels: list[Kernel], parts: int) -> list[int]:
    """The module part of each kernel: largest first onto the lightest part (LLVM's time grows
    with the code it optimizes: the body, times the reduction points written out); the first
    part also holds the entry."""
    size = [32 + body_size(k.roots()) * (math.prod(k.rshape) if math.prod(k.rshape) <= UNROLL else 1)
            for k in kernels]
    load = [len(kernels)] + [0] * (parts - 1)
    placed = [0] * len(kernels)
    for n in sorted(range(len(kernels)), key=lambda n: -size[n]):
        placed[n] = load.index(min(load))
        load[placed[n]] += size[n]
    return placed


def emit_llvm(program: Program, target: Target, sym: str, threads: int = 1, profile: bool = False) -> str:
    """The program as one module's LLVM IR text."""
    return str(emit_part(program, target, sym, threads, profile, 1, 0))
