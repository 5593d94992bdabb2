"""Counted loops and loop nests in the canonical form LLVM's vectorizer expects."""
from __future__ import annotations

import itertools
import math

from llvmlite import ir

I64 = ir.IntType(64)


def loop(b: ir.IRBuilder, lo: ir.Value, hi: ir.Value, body, name: str, hint: ir.MDValue | None = None) -> None:
    """for (i = lo; i < hi; ++i) body(i) — the canonical form LLVM's vectorizer expects;
    `hint` is the loop's `llvm.loop` metadata."""
    pre = b.block
    head = b.append_basic_block(f"{name}.head")
    blk = b.append_basic_block(f"{name}.body")
    done = b.append_basic_block(f"{name}.done")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64, name=name)
    i.add_incoming(lo, pre)
    b.cbranch(b.icmp_signed("<", i, hi), blk, done)
    b.position_at_end(blk)
    body(i)
    nxt = b.add(i, I64(1), flags=("nsw",))
    i.add_incoming(nxt, b.block)
    latch = b.branch(head)
    if hint is not None:
        latch.set_metadata("llvm.loop", hint)
    b.position_at_end(done)


def nest(b: ir.IRBuilder, dims, body, prefix: str, first: tuple[ir.Value, ir.Value] | None = None,
         hint: ir.MDValue | None = None, overlap: int = 0) -> None:
    """Nested loops over `dims` (innermost last); `first` overrides the outermost bounds;
    `hint` goes on the innermost loop. With `overlap` = V (the body may run twice for a
    point: it only writes what it does not read), an inner row n > V that V does not divide
    runs as [0, n − n % V) and then [n − V, n): two loops whose trip counts are multiples of
    V, so a 28-wide row is four 8-wide vector steps rather than seven 4-wide ones or a
    scalar remainder."""
    def level(d: int, ivs: list[ir.Value]):
        if d == len(dims):
            body(ivs)
            return
        inner = d == len(dims) - 1
        step = lambda i: level(d + 1, ivs + [i])
        if d == 0 and first:
            loop(b, *first, step, f"{prefix}{d}", hint if inner else None)
        elif inner and overlap and dims[d] > overlap and dims[d] % overlap:
            loop(b, I64(0), I64(dims[d] - dims[d] % overlap), step, f"{prefix}{d}", hint)
            loop(b, I64(dims[d] - overlap), I64(dims[d]), step, f"{prefix}{d}t")
        else:
            loop(b, I64(0), I64(dims[d]), step, f"{prefix}{d}", hint if inner else None)
    level(0, [])


HEAVY_BODY = 32  # body_size from which a long elementwise loop interleaves two vector iterations


def interleave_hint(module: ir.Module, count: int) -> ir.MDValue:
    """`llvm.loop` metadata asking the vectorizer to interleave `count` vector iterations:
    a long dependent chain per element (a polynomial, a division) leaves the core idle
    unless independent iterations overlap."""
    return _hint(module, "llvm.loop.interleave.count", count)


def scalar_hint(module: ir.Module) -> ir.MDValue:
    """`llvm.loop` metadata keeping a loop scalar: its body is already vector-wide (written-out
    lanes, which the SLP vectorizer packs) and vectorizing the loop would gather across them."""
    return _hint(module, "llvm.loop.vectorize.width", 1)


def _hint(module: ir.Module, option: str, value: int) -> ir.MDValue:
    """A loop id holding one `option` (one per module and option)."""
    cache = module.__dict__.setdefault("_kiln_hints", {})
    if (option, value) not in cache:
        opt = module.add_metadata([ir.MetaDataString(module, option), ir.IntType(32)(value)])
        loop_id = ir.values.MDValue(module, [], name=str(len(module.metadata)))
        loop_id.operands = (loop_id, opt)  # NOTE: a loop id names itself first (LLVM's rule)
        cache[option, value] = loop_id
    return cache[option, value]


UNROLL = 32  # reduction spaces up to this many points may be written out, not looped
UNROLL_SIZE = 400  # ...if the written-out body stays this small (see ir.kernel.body_size)


def small_nest(b: ir.IRBuilder, dims, body, prefix: str, size: int) -> None:
    """`nest`, but a space of at most UNROLL points whose unrolled body (`size` per point)
    stays small becomes straight-line code with constant indices: a 5x5 window sum then
    folds its index arithmetic, and the loop around it (over output pixels) is the one the
    vectorizer sees; a long or heavy body (a softmax row's exps) stays a loop."""
    points = math.prod(dims)
    if points > UNROLL or points * size > UNROLL_SIZE:
        nest(b, dims, body, prefix)
        return
    for point in itertools.product(*(range(n) for n in dims)):
        body([I64(i) for i in point])
