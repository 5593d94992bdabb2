"""Executable: a loaded Program called as ONE native function per invocation.

Calls may come from many threads at once (ctypes releases the GIL for the native call), so
everything one call writes lives in a `CallContext`: the pointer table, the arena (temps)
and the recycled results. A call pops a context from a free list (making one when it is
empty) and pushes it back afterwards; list pop and append are atomic under the GIL, so the
hot path takes no lock. Constant buffers are shared: native code only reads them.
"""
from __future__ import annotations

import ctypes
import sys

import numpy as np

from ..ir.program import Program
from .bounds import fresh_status, raise_if_failed
from .llvm_jit import Loaded

_ENTRY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def _aligned(nbytes: int, align: int = 64) -> np.ndarray:
    raw = np.zeros(nbytes + align, dtype=np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + nbytes]


class CallContext:
    """What one call in flight owns: its pointer table and arena, which arrays the table's
    argument slots point into, and the results it may write again."""

    __slots__ = ("address", "arena", "bound", "recycled", "status", "table")

    def __init__(self, exe: Executable):
        program = exe.program
        self.table = (ctypes.c_void_p * max(len(program.buffers), 1))()
        self.arena = _aligned(program.arena_bytes)
        for b in program.buffers:
            if b.kind == "temp":
                self.table[b.slot] = self.arena.ctypes.data + b.offset
        for slot, data in exe.const_slots:
            self.table[slot] = data.ctypes.data
        self.bound: list[np.ndarray | None] = [None] * len(self.table)  # the array each slot points into
        # NOTE: a result array nobody references any more is written again by this context's
        # next call (big fresh arrays cost page faults); one still referenced is never touched.
        self.recycled: list[np.ndarray | None] = [None] * len(exe.out_slots)
        self.status = None  # where the program's index checks record the first failure
        if exe.status_slot is not None:
            self.status, self.table[exe.status_slot] = fresh_status()
        self.address = ctypes.addressof(self.table)


class Executable:
    def __init__(self, program: Program, loaded: Loaded):
        self.program, self.loaded = program, loaded
        self.fn = _ENTRY(loaded.address)
        self.const_slots = [(b.slot, np.asarray(b.data, dtype=b.type.dtype.np, order="C"))
                            for b in program.buffers if b.kind == "const"]
        self.arg_slots = [b.slot for b in sorted(program.of_kind("arg"), key=lambda b: b.index)]
        self.state_slots = [b.slot for b in sorted(program.of_kind("state"), key=lambda b: b.index)]
        outs = sorted(program.of_kind("out"), key=lambda b: b.index)
        self.out_slots = [(b.slot, b.type.shape, b.type.dtype.np) for b in outs]
        self.address = loaded.address
        self.in_slots = self.arg_slots + self.state_slots
        self.status_slot = program.status.slot if program.status else None
        self.free = [CallContext(self)]  # contexts no call is using; one per thread that called at once

    def __call__(self, args: list[np.ndarray], states: list[np.ndarray]) -> list[np.ndarray]:
        """Run once. `args` must already be C-contiguous arrays of the compiled dtypes."""
        try:
            ctx = self.free.pop()
        except IndexError:  # every context is in a call on another thread
            ctx = CallContext(self)
        table, bound, recycled = ctx.table, ctx.bound, ctx.recycled
        for slot, a in zip(self.in_slots, (*args, *states)):
            if bound[slot] is not a:  # NOTE: `.ctypes.data` costs microseconds; an array's data never moves
                bound[slot] = a
                table[slot] = a.ctypes.data
        outs = []
        for i, (slot, shape, dtype) in enumerate(self.out_slots):
            o = recycled[i]
            if o is None or sys.getrefcount(o) > 3:  # the caller still holds last call's result
                o = np.empty(shape, dtype)
                table[slot] = o.ctypes.data
            outs.append(o)
        self.fn(ctx.address)
        # a list of its own: until the caller wraps the results, this list's references keep
        # the next call on another thread from taking them as dropped
        ctx.recycled = outs.copy()
        status = ctx.status
        if status is not None and status[0]:
            failed = status[0], status[1]
            status[0] = status[1] = 0
            self.free.append(ctx)
            raise_if_failed(self.program, failed)
        self.free.append(ctx)
        return outs
