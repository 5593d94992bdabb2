"""The native thread pool, written in LLVM IR: `kiln_parallel_for(kernel, bufs, n)` splits a
kernel's outer range [0, n) into one contiguous slice per thread and returns when all are
done. Generated code calls it directly, so a compiled step stays one native call.

Workers (pthreads, started once by `kiln_pool_start(threads)`) wait on a generation counter:
they spin for about 2 ms (the next kernel of the same step, or the next step, usually
follows sooner), then sleep in futex(2); the caller wakes sleepers only when there are any, runs slice 0 itself and spins
until the others have finished. Memory orderings are sequentially consistent throughout.
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


def _slice(b: ir.IRBuilder, n: ir.Value, w: ir.Value, threads: ir.Value) -> tuple[ir.Value, ir.Value]:
    t = b.zext(threads, I64)
    return b.sdiv(b.mul(n, w), t), b.sdiv(b.mul(n, b.add(w, I64(1))), t)


def pool_module(triple: str) -> ir.Module:
    m = ir.Module("kiln_pool")
    m.triple = triple
    fn_g, bufs_g = _global(m, "pool.fn", PTR, None), _global(m, "pool.bufs", PTR, None)
    n_g, threads_g = _global(m, "pool.n", I64, 0), _global(m, "pool.threads", I32, 1)
    gen_g, done_g, sleepers_g = (_global(m, f"pool.{x}", I32, 0) for x in ("gen", "done", "sleepers"))
    syscall = ir.Function(m, ir.FunctionType(I64, [I64], var_arg=True), "syscall")
    create = ir.Function(m, ir.FunctionType(I32, [PTR, PTR, PTR, PTR]), "pthread_create")

    def run_slice(b: ir.IRBuilder, w: ir.Value) -> None:
        n = b.load(n_g, typ=I64)
        lo, hi = _slice(b, n, w, b.load(threads_g, typ=I32))
        with b.if_then(b.icmp_signed("<", lo, hi)):
            b.call(b.load(fn_g, typ=KERNEL.as_pointer()), [b.load(bufs_g, typ=PTR), lo, hi])

    # worker(ptr index): wait for a new generation, run its slice, count itself done, repeat
    worker = ir.Function(m, ir.FunctionType(PTR, [PTR]), "kiln_pool_worker")
    worker.linkage = "internal"
    b = ir.IRBuilder(worker.append_basic_block("entry"))
    w = b.ptrtoint(worker.args[0], I64)
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
    run_slice(b, w)
    b.atomic_rmw("add", done_g, I32(1), SC)
    b.store(I32(0), spins)
    b.branch(wait)

    # kiln_parallel_for(kernel, bufs, n)
    pf = ir.Function(m, ir.FunctionType(VOID, [KERNEL.as_pointer(), PTR, I64]), "kiln_parallel_for")
    kfn, bufs, n = pf.args
    b = ir.IRBuilder(pf.append_basic_block("entry"))
    threads = b.load(threads_g, typ=I32)
    alone = b.append_basic_block("alone")
    share = b.append_basic_block("share")
    b.cbranch(b.icmp_unsigned("<=", threads, I32(1)), alone, share)
    b.position_at_end(alone)
    b.call(kfn, [bufs, I64(0), n])
    b.ret_void()
    b.position_at_end(share)
    b.store(kfn, fn_g)
    b.store(bufs, bufs_g)
    b.store(n, n_g)
    b.store_atomic(I32(0), done_g, SC, 4)
    b.atomic_rmw("add", gen_g, I32(1), SC)
    with b.if_then(b.icmp_unsigned("!=", b.load_atomic(sleepers_g, SC, 4, typ=I32), I32(0))):
        b.call(syscall, [I64(SYS_FUTEX), gen_g, I32(FUTEX_WAKE), I32(0x7FFFFFFF)])
    run_slice(b, I64(0))
    spin = b.append_basic_block("join")
    out = b.append_basic_block("out")
    b.branch(spin)
    b.position_at_end(spin)
    finished = b.load_atomic(done_g, SC, 4, typ=I32)
    b.cbranch(b.icmp_unsigned("<", finished, b.sub(threads, I32(1))), spin, out)
    b.position_at_end(out)
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
