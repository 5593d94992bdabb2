"""Accurate float sums over long reduction spaces: the space runs in blocks, each summed into
a fresh partial by the same (vectorized) inner loops, and the partials are added in a pairwise
tree. One running float32 value over a whole reduction space loses up to half an ulp of the
total on every step once the steps are small beside it (a sum of 8192² ones stops short of
2^26); a tree's rounding grows with log2 of the blocks, as NumPy's pairwise summation does.
The block boundary is an outer loop: the loops inside a block are those of an unblocked
reduction.

The tree is a binary counter of levels: after block c, the partial carries up while c's low
bits are set (adding the level it meets), then rests at the first clear level; level j then
holds the sum of 2^j consecutive blocks, and the total is the sum of the levels of the set
bits of the block count (known when the kernel is compiled).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from .loops import loop, nest, small_nest
from .scalar import I64

BLOCK = 4096  # reduction points per partial of a plain (vectorized) loop: 32 lanes of 128 each
STEPS = 256  # steps per partial where each running value takes one element a step (lanes, rows)
WRITTEN_OUT = 64  # running values of a cell that are written out, not looped over (all lanes: LANES)


def split(dims: tuple[int, ...], block: int) -> tuple[int, int] | None:
    """(d, chunk): the loops over dims before d run outside the blocks, dim d in chunks of
    `chunk`, the dims after d inside a block, so that a block holds at most `block` points
    (or one point of dims d+1.. when that alone is more); None when all of dims is one block."""
    inner = 1
    for d in reversed(range(len(dims))):
        if inner * dims[d] > block:
            return d, max(1, block // inner)
        inner *= dims[d]
    return None


ROW_TREE = 1 << 19  # stack bytes the tree levels of one output row may take


def row_steps(dims: tuple[int, ...], row_bytes: int) -> int | None:
    """Steps per block of a reduction adding whole output rows of `row_bytes` over dims, or
    None when it needs no blocks: STEPS, or more where the levels of a wide row would not fit
    ROW_TREE (past it, a row runs unblocked: its levels alone would overflow a thread's stack)."""
    steps = STEPS
    while (cut := split(dims, steps)) and count(dims, cut).bit_length() * row_bytes > ROW_TREE:
        steps *= 2
    return steps if cut else None


def count(dims: tuple[int, ...], cut: tuple[int, int]) -> int:
    """Blocks of dims cut by `split`."""
    d, chunk = cut
    return math.prod(dims[:d]) * -(-dims[d] // chunk)


def blocked(b: ir.IRBuilder, alloca: Callable, dims: tuple[int, ...], block: int, body: Callable,
            size: int | None, cells: list[Cell], hint: ir.MDValue | None = None) -> None:
    """The steps `body` over dims; a long space with float sums among its running values
    `cells` runs in blocks of about `block` steps whose partials add up in a `Tree`. `size`
    as for small_nest (None: a plain nest); `hint` goes on the innermost loops of a block."""
    cut = split(dims, block) if cells else None
    if cut is None:
        (nest(b, dims, body, "r") if size is None else small_nest(b, dims, body, "r", size))
        return
    tree = Tree(b, alloca, cells, count(dims, cut))
    _blocked_nest(b, dims, cut, body, "r", size, tree, hint)
    tree.total()


def _blocked_nest(b: ir.IRBuilder, dims: tuple[int, ...], cut: tuple[int, int], body: Callable, prefix: str,
                  size: int | None, tree: "Tree", hint: ir.MDValue | None) -> None:
    """`nest` over dims in the blocks of `cut`: tree.start() before and tree.end() after each
    block. The dims inside a block form a `small_nest` of body `size` (a plain nest when None)."""
    d, chunk = cut
    n, inside = dims[d], dims[d + 1:]

    def rows(ivs: list[ir.Value]) -> None:
        if size is None:
            nest(b, inside, lambda rest: body(ivs + rest), f"{prefix}n", hint=hint)
        else:
            small_nest(b, inside, lambda rest: body(ivs + rest), f"{prefix}n", size)

    def block(outer: list[ir.Value], lo: ir.Value, hi: ir.Value) -> None:
        tree.start()
        loop(b, lo, hi, lambda i: rows(outer + [i]), f"{prefix}c", None if inside else hint)
        tree.end()

    def chunks(outer: list[ir.Value]) -> None:
        full = n // chunk
        if full:
            first = lambda c: b.mul(c, I64(chunk))  # noqa: E731
            loop(b, I64(0), I64(full), lambda c: block(outer, first(c), b.add(first(c), I64(chunk))),
                 f"{prefix}b")
        if n % chunk:
            block(outer, I64(full * chunk), I64(n))
    nest(b, dims[:d], chunks, prefix)


@dataclass(frozen=True)
class Cell:
    """Running sums at positions [lo, hi) of the stack array `at` of `t` (one value, a row of
    lanes, or a span of an output row) that `width` positions of each tree level mirror."""

    at: ir.Value
    t: ir.Type
    width: int
    lo: ir.Value
    hi: ir.Value


class Tree:
    """The pairwise tree of the partials of `cells` over `blocks` blocks (`alloca` gives
    stack arrays from the function's entry)."""

    def __init__(self, b: ir.IRBuilder, alloca: Callable, cells: list[Cell], blocks: int):
        self.b, self.cells, self.blocks = b, cells, blocks
        depth = blocks.bit_length()
        self.levels = [alloca(c.t, depth * c.width) for c in cells]
        # a written-out cell (lanes LLVM keeps in registers) carries up in a copy: the cell
        # itself is then only read and written at constant positions, outside any loop
        self.carried = {id(c): alloca(c.t, c.width) if _written_out(c) else c.at for c in cells}
        self.count = alloca(I64)
        b.store(I64(0), self.count)

    def start(self) -> None:
        """A fresh partial: every cell 0."""
        self._each(lambda c, lv, w: self.b.store(ir.Constant(c.t, 0.0), _at(self.b, c.at, w, c.t)))

    def end(self) -> None:
        """Carry the block's partial up the levels (the binary counter's increment)."""
        b = self.b
        n = b.load(self.count, typ=I64)
        for c in self.cells:
            if self.carried[id(c)] is not c.at:
                self._each(lambda c, lv, w: b.store(b.load(_at(b, c.at, w, c.t), typ=c.t),
                                                    _at(b, self.carried[id(c)], w, c.t)), [c])
        pre = b.block
        head, carry, rest = (b.append_basic_block(f"tree.{s}") for s in ("head", "carry", "rest"))
        b.branch(head)
        b.position_at_end(head)
        level, bits = b.phi(I64, name="level"), b.phi(I64, name="bits")
        level.add_incoming(I64(0), pre)
        bits.add_incoming(n, pre)
        b.cbranch(b.trunc(bits, ir.IntType(1)), carry, rest)
        b.position_at_end(carry)
        self._each(lambda c, lv, w: self._add(c, lv, level, w, self.carried[id(c)]))
        level.add_incoming(b.add(level, I64(1)), b.block)
        bits.add_incoming(b.lshr(bits, I64(1)), b.block)
        b.branch(head)
        b.position_at_end(rest)
        self._each(lambda c, lv, w: b.store(b.load(_at(b, self.carried[id(c)], w, c.t), typ=c.t),
                                            self._slot(c, lv, level, w)))
        b.store(b.add(n, I64(1)), self.count)

    def total(self) -> None:
        """The cells' totals: the levels of the block count's set bits, smallest first."""
        b = self.b
        bits = [j for j in range(self.blocks.bit_length()) if self.blocks >> j & 1]
        self._each(lambda c, lv, w: b.store(b.load(self._slot(c, lv, I64(bits[0]), w), typ=c.t),
                                            _at(b, c.at, w, c.t)))
        for j in bits[1:]:
            self._each(lambda c, lv, w, j=j: self._add(c, lv, I64(j), w, c.at))

    def _add(self, c: Cell, levels: ir.Value, level: ir.Value, w: ir.Value, into: ir.Value) -> None:
        b = self.b
        cell = _at(b, into, w, c.t)
        b.store(b.fadd(b.load(cell, typ=c.t), b.load(self._slot(c, levels, level, w), typ=c.t)), cell)

    def _slot(self, c: Cell, levels: ir.Value, level: ir.Value, w: ir.Value) -> ir.Value:
        return _at(self.b, levels, self.b.add(self.b.mul(level, I64(c.width)), w), c.t)

    def _each(self, f: Callable[[Cell, ir.Value, ir.Value], None], cells: list[Cell] | None = None) -> None:
        """f(cell, its levels, position) at every position of every cell (or of `cells`):
        written out for a few constant positions (a point's running values, a row of lanes),
        so that they stay in registers in the loops of a block; a loop over a span of an
        output row."""
        for c, lv in zip(self.cells, self.levels):
            if cells is not None and c not in cells:
                continue
            if _written_out(c):
                for w in range(c.lo.constant, c.hi.constant):
                    f(c, lv, I64(w))
            else:
                loop(self.b, c.lo, c.hi, lambda w, c=c, lv=lv: f(c, lv, w), "tree.w")


def _written_out(c: Cell) -> bool:
    return isinstance(c.lo, ir.Constant) and isinstance(c.hi, ir.Constant) \
        and c.hi.constant - c.lo.constant <= WRITTEN_OUT


def _at(b: ir.IRBuilder, array: ir.Value, i: ir.Value, t: ir.Type) -> ir.Value:
    return b.gep(array, [i], inbounds=True, source_etype=t)
