"""The native thread pool, written in LLVM IR: `kiln_parallel_for(kernel, bufs, n)` cuts a
kernel's outer range [0, n) into CHUNKS_PER_THREAD contiguous chunks per thread, which the
caller and the workers take one at a time, and returns when all are done. Taking chunks
(rather than one fixed slice each) keeps a thread that a busy host slows down from holding
up the others. Generated code calls it directly, so a compiled step stays one native call.

Workers (pthreads, started once by `kiln_pool_start(threads)`) wait on a generation counter:
they spin for about 2 ms (the next kernel of the same step, or the next step, usually
follows sooner), then sleep in futex(2); the caller wakes sleepers only when there are any,
takes chunks itself and spins until every chunk is done. The chunk counter carries its
kernel's generation and chunk count, so a worker that arrives late cannot take a chunk of
the next kernel by mistake. Memory orderings are sequentially consistent throughout.

Several Python threads may call compiled code at once: the pool serves one kernel at a time.
A caller takes `pool.busy` with one compare-and-swap; a caller that finds it taken runs its
kernel's whole range on its own thread (correct, and no waiting on another call), and the
owner releases it once its kernel's chunks are all done.
"""
from __future__ import annotations

from llvmlite import ir

from .loops import loop

VOID, I32, I64, PTR = ir.VoidType(), ir.IntType(32), ir.IntType(64), ir.PointerType()
KERNEL = ir.FunctionType(VOID, [PTR, I64, I64])
SYS_FUTEX, FUTEX_WAIT, FUTEX_WAKE = 202, 128, 129  # x86-64 Linux, *_PRIVATE
SPINS = 1 << 22  # ~2 ms of polling here: longer than the gaps inside a step and between steps
#                  (at 1 << 16, ~30 µs, workers slept and woke on halted VM cores: W3 p90 1.7-3.3 ms -> 1.6)
SC = "seq_cst"


def _global(m: ir.Module, name: str, t: ir.Type, zero) -> ir.GlobalVariable:
    g = ir.GlobalVariable(m, t, name)
    g.linkage = "internal"
    g.initializer = ir.Constant(t, zero)
    return g


CHUNKS_PER_THREAD = 4
# pool.next packs one kernel's chunks: generation tag (24 bits) << 40 | chunks << 20 | next chunk,
# read and advanced as one value, so a late worker never pairs one kernel's count with another's
TAG, FIELD = (1 << 24) - 1, (1 << 20) - 1


def _slice(b: ir.IRBuilder, n: ir.Value, c: ir.Value, chunks: ir.Value) -> tuple[ir.Value, ir.Value]:
    return b.sdiv(b.mul(n, c), chunks), b.sdiv(b.mul(n, b.add(c, I64(1))), chunks)


def pool_module(triple: str) -> ir.Module:
    m = ir.Module("kiln_pool")
    m.triple = triple
    fn_g, bufs_g = _global(m, "pool.fn", PTR, None), _global(m, "pool.bufs", PTR, None)
    n_g, threads_g = _global(m, "pool.n", I64, 0), _global(m, "pool.threads", I32, 1)
    gen_g, done_g, sleepers_g = (_global(m, f"pool.{x}", I32, 0) for x in ("gen", "done", "sleepers"))
    next_g, busy_g = _global(m, "pool.next", I64, 0), _global(m, "pool.busy", I32, 0)
    syscall = ir.Function(m, ir.FunctionType(I64, [I64], var_arg=True), "syscall")
    create = ir.Function(m, ir.FunctionType(I32, [PTR, PTR, PTR, PTR]), "pthread_create")

    def run_chunks(b: ir.IRBuilder, gen: ir.Value) -> None:
        """Take chunks of generation `gen` and run them until none is left (or the counter
        belongs to another generation); each done chunk is counted in `done`. Winning chunk c
        of `gen` means its caller still waits, so fn, bufs and n are still that kernel's."""
        fn = b.function
        grab, take, run, out = (fn.append_basic_block(x) for x in ("grab", "take", "run", "chunks.done"))
        b.branch(grab)
        b.position_at_end(grab)
        cur = b.load_atomic(next_g, SC, 8, typ=I64)
        c, chunks = b.and_(cur, I64(FIELD)), b.and_(b.lshr(cur, I64(20)), I64(FIELD))
        mine = b.icmp_unsigned("==", b.lshr(cur, I64(40)), b.and_(b.zext(gen, I64), I64(TAG)))
        b.cbranch(b.and_(mine, b.icmp_signed("<", c, chunks)), take, out)
        b.position_at_end(take)
        won = b.extract_value(b.cmpxchg(next_g, cur, b.add(cur, I64(1)), SC, SC), 1)
        b.cbranch(won, run, grab)
        b.position_at_end(run)
        lo, hi = _slice(b, b.load(n_g, typ=I64), c, chunks)
        with b.if_then(b.icmp_signed("<", lo, hi)):
            b.call(b.load(fn_g, typ=KERNEL.as_pointer()), [b.load(bufs_g, typ=PTR), lo, hi])
        b.atomic_rmw("add", done_g, I32(1), SC)
        b.branch(grab)
        b.position_at_end(out)

    # worker(ptr index): wait for a new generation, take its chunks, repeat
    worker = ir.Function(m, ir.FunctionType(PTR, [PTR]), "kiln_pool_worker")
    worker.linkage = "internal"
    b = ir.IRBuilder(worker.append_basic_block("entry"))
    seen = b.alloca(I32)
    spins = b.alloca(I32)
    b.store(b.load_atomic(gen_g, SC, 4, typ=I32), seen)
    wait = b.append_basic_block("wait")
    work = b.append_basic_block("work")
    sleep = b.append_basic_block("sleep")
    b.store(I32(0), spins)
    b.branch(wait)
    b.position_at_end(wait)
    g = b.load_atomic(gen_g, SC, 4, typ=I32)
    k = b.load(spins, typ=I32)
    b.store(b.add(k, I32(1)), spins)
    fresh = b.icmp_unsigned("!=", g, b.load(seen, typ=I32))
    keep_spinning = b.append_basic_block("spin")
    b.cbranch(fresh, work, keep_spinning)
    b.position_at_end(keep_spinning)
    b.cbranch(b.icmp_unsigned("<", k, I32(SPINS)), wait, sleep)
    b.position_at_end(sleep)
    b.atomic_rmw("add", sleepers_g, I32(1), SC)
    b.call(syscall, [I64(SYS_FUTEX), gen_g, I32(FUTEX_WAIT), b.load(seen, typ=I32), ir.Constant(PTR, None)])
    b.atomic_rmw("sub", sleepers_g, I32(1), SC)
    b.store(I32(0), spins)
    b.branch(wait)
    b.position_at_end(work)
    b.store(g, seen)
    run_chunks(b, g)
    b.store(I32(0), spins)
    b.branch(wait)

    # kiln_parallel_for(kernel, bufs, n)
    pf = ir.Function(m, ir.FunctionType(VOID, [KERNEL.as_pointer(), PTR, I64]), "kiln_parallel_for")
    kfn, bufs, n = pf.args
    b = ir.IRBuilder(pf.append_basic_block("entry"))
    threads = b.load(threads_g, typ=I32)
    alone = b.append_basic_block("alone")
    share = b.append_basic_block("share")
    take = b.append_basic_block("take")
    b.cbranch(b.icmp_unsigned("<=", threads, I32(1)), alone, take)
    b.position_at_end(alone)
    b.call(kfn, [bufs, I64(0), n])
    b.ret_void()
    b.position_at_end(take)  # another thread's kernel holds the pool: run this one alone
    b.cbranch(b.extract_value(b.cmpxchg(busy_g, I32(0), I32(1), SC, SC), 1), share, alone)
    b.position_at_end(share)
    most = b.mul(b.zext(threads, I64), I64(CHUNKS_PER_THREAD))
    chunks = b.select(b.icmp_signed("<", n, most), n, most)
    b.store(kfn, fn_g)
    b.store(bufs, bufs_g)
    b.store(n, n_g)
    b.store_atomic(I32(0), done_g, SC, 4)
    gen = b.add(b.load_atomic(gen_g, SC, 4, typ=I32), I32(1))  # the caller is gen's only writer
    tag = b.shl(b.and_(b.zext(gen, I64), I64(TAG)), I64(40))
    b.store_atomic(b.or_(tag, b.shl(chunks, I64(20))), next_g, SC, 8)  # chunk 0 of gen, before gen is seen
    b.store_atomic(gen, gen_g, SC, 4)
    with b.if_then(b.icmp_unsigned("!=", b.load_atomic(sleepers_g, SC, 4, typ=I32), I32(0))):
        b.call(syscall, [I64(SYS_FUTEX), gen_g, I32(FUTEX_WAKE), I32(0x7FFFFFFF)])
    run_chunks(b, gen)
    spin = b.append_basic_block("join")
    out = b.append_basic_block("out")
    b.branch(spin)
    b.position_at_end(spin)
    finished = b.zext(b.load_atomic(done_g, SC, 4, typ=I32), I64)
    b.cbranch(b.icmp_unsigned("<", finished, chunks), spin, out)
    b.position_at_end(out)
    b.store_atomic(I32(0), busy_g, SC, 4)
    b.ret_void()

    # kiln_pool_start(threads): start threads-1 workers
    start = ir.Function(m, ir.FunctionType(VOID, [I32]), "kiln_pool_start")
    b = ir.IRBuilder(start.append_basic_block("entry"))
    b.store(start.args[0], threads_g)
    tid = b.alloca(I64)

    def spawn(i):
        b.call(create, [tid, ir.Constant(PTR, None), worker, b.inttoptr(b.add(i, I64(1)), PTR)])
    loop(b, I64(0), b.sub(b.zext(start.args[0], I64), I64(1)), spawn, "spawn")
    b.ret_void()
    return m
