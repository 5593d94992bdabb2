"""Memory planning: in-place Variable updates, then liveness-based placement of temps.

In place: `assign` lowers to a copy kernel `state[i] = temp[i]` after the kernel that
computed `temp`. When nothing after that producer reads or writes the state, and the
producer reads the state only at the very element it writes, the producer writes the
state directly and the copy disappears (an SGD step updates weights where they live), unless
an index check runs between the two: a failed check stops the call, and every Variable write
comes after every check, so a call that raises IndexError leaves the Variables as they were.

Placement: kernels run in order; a temp is live from its first to its last use. Temps
are placed first-fit into free arena blocks, a block being freed after its last use's
kernel (so no kernel's outputs alias its own inputs).
"""
from __future__ import annotations

from ..ir.kernel import Kernel, checks, loads, retarget
from ..ir.program import Buffer, Program

ALIGN = 64


def plan(program: Program) -> Program:
    program.stats["inplace_assigns"] = _update_in_place(program)
    _place(program)
    return program


# in-place assigns -------------------------------------------------------------------------------------

def _copy_of(k: Kernel, buffers: list[Buffer]) -> tuple[int, int] | None:
    """(state slot, temp slot) when k is exactly `state[i] = temp[i]`."""
    if len(k.stores) != 1 or k.reductions:
        return None
    s = k.stores[0]
    v = s.value
    if s.mode != "set" or v.op != "load" or v.args[0] is not s.offset:
        return None
    if buffers[s.buf].kind != "state" or buffers[v.attr].kind != "temp":
        return None
    return s.buf, v.attr


def _update_in_place(program: Program) -> int:
    done = 0
    kernels = program.kernels
    i = 0
    while i < len(kernels):
        pair = _copy_of(kernels[i], program.buffers)
        if pair is None or not _retarget_producer(program, i, *pair):
            i += 1
        else:
            done += 1  # kernels[i] was removed; the same index now holds the next kernel
    return done


def _retarget_producer(program: Program, copy_at: int, state: int, temp: int) -> bool:
    kernels = program.kernels
    writers = [j for j, k in enumerate(kernels) if temp in k.writes]
    if len(writers) != 1 or writers[0] > copy_at:
        return False
    p = writers[0]
    later = kernels[p + 1:copy_at] + kernels[copy_at + 1:]
    if any(state in k.reads or state in k.writes for k in later):
        return False
    if any(checks(k) for k in kernels[p:copy_at]):
        return False  # NOTE: a failed index check stops the call; no Variable may be written before it
    producer = kernels[p]
    (store,) = [s for s in producer.stores if s.buf == temp] or [None]
    if store is None or store.mode != "set":
        return False
    if any(e.attr == state and e.args[0] is not store.offset for e in loads(producer)):
        return False  # it reads the state elsewhere than where it writes: not safe in place
    for j in range(p, len(kernels)):
        kernels[j] = retarget(kernels[j], temp, state)
    del kernels[copy_at]
    return True


# liveness placement -------------------------------------------------------------------------------------

def _aligned(n: int) -> int:
    return -(-max(n, 1) // ALIGN) * ALIGN


def _place(program: Program) -> None:
    temps = {b.slot: b for b in program.of_kind("temp")}
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, k in enumerate(program.kernels):
        for slot in set(k.reads) | k.writes:
            if slot in temps:
                first.setdefault(slot, i)
                last[slot] = i
    free: list[tuple[int, int]] = []  # (offset, size) blocks, sorted by offset
    end = live = peak = 0
    for i in range(len(program.kernels)):
        for slot in (s for s, f in first.items() if f == i):
            b, size = temps[slot], _aligned(temps[slot].type.nbytes)
            b.offset, end = _take(free, size, end)
            live += b.type.nbytes
        peak = max(peak, live)
        for slot in (s for s, l in last.items() if l == i):
            _give(free, temps[slot].offset, _aligned(temps[slot].type.nbytes))
            live -= temps[slot].type.nbytes
    program.arena_bytes = end
    program.stats["temp_bytes"] = sum(temps[s].type.nbytes for s in first)
    program.stats["peak_live_bytes"] = peak


def _take(free: list[tuple[int, int]], size: int, end: int) -> tuple[int, int]:
    """First fit in a free block (the rest stays free), else grow the arena."""
    for j, (off, n) in enumerate(free):
        if n >= size:
            free[j:j + 1] = [(off + size, n - size)] if n > size else []
            return off, end
    if free and free[-1][0] + free[-1][1] == end:  # extend the trailing free block
        off, _ = free.pop()
        return off, off + size
    return end, end + size


def _give(free: list[tuple[int, int]], off: int, size: int) -> None:
    """Return a block, merging it with free neighbours."""
    free.append((off, size))
    free.sort()
    merged: list[tuple[int, int]] = []
    for o, n in free:
        if merged and merged[-1][0] + merged[-1][1] == o:
            merged[-1] = (merged[-1][0], merged[-1][1] + n)
        else:
            merged.append((o, n))
    free[:] = merged
