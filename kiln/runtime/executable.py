"""Executable: a loaded Program called as ONE native function per invocation.

It owns the arena (temps), the constant buffers and a pointer table whose temp and const
entries are filled once; each call writes only the argument, state and output pointers.
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


class Executable:
    def __init__(self, program: Program, loaded: Loaded):
        self.program, self.loaded = program, loaded
        self.fn = _ENTRY(loaded.address)
        self.table = (ctypes.c_void_p * max(len(program.buffers), 1))()
        self.arena = _aligned(program.arena_bytes)
        self.consts = []
        for b in program.buffers:
            if b.kind == "temp":
                self.table[b.slot] = self.arena.ctypes.data + b.offset
            elif b.kind == "const":
                data = np.asarray(b.data, dtype=b.type.dtype.np, order="C")
                self.consts.append(data)
                self.table[b.slot] = data.ctypes.data
        self.arg_slots = [b.slot for b in sorted(program.of_kind("arg"), key=lambda b: b.index)]
        self.state_slots = [b.slot for b in sorted(program.of_kind("state"), key=lambda b: b.index)]
        outs = sorted(program.of_kind("out"), key=lambda b: b.index)
        self.out_slots = [(b.slot, b.type.shape, b.type.dtype.np) for b in outs]
        self.address = loaded.address
        # NOTE: a result array nobody references any more is written again by the next call
        # (big fresh arrays cost page faults); one still referenced is never touched.
        self.recycled: list[np.ndarray | None] = [None] * len(self.out_slots)
        self.in_slots = self.arg_slots + self.state_slots
        self.bound: list[np.ndarray | None] = [None] * len(self.table)  # the array each slot points into
        self.table_address = ctypes.addressof(self.table)
        self.status_slot = program.status.slot if program.status else None

    def __call__(self, args: list[np.ndarray], states: list[np.ndarray]) -> list[np.ndarray]:
        """Run once. `args` must already be C-contiguous arrays of the compiled dtypes."""
        table, bound = self.table, self.bound
        for slot, a in zip(self.in_slots, (*args, *states)):
            if bound[slot] is not a:  # NOTE: `.ctypes.data` costs microseconds; an array's data never moves
                bound[slot] = a
                table[slot] = a.ctypes.data
        outs = []
        for i, (slot, shape, dtype) in enumerate(self.out_slots):
            o = self.recycled[i]
            if o is None or sys.getrefcount(o) > 3:  # the caller still holds last call's result
                o = np.empty(shape, dtype)
                table[slot] = o.ctypes.data
            outs.append(o)
        status = None
        if self.status_slot is not None:
            status, table[self.status_slot] = fresh_status()
        self.fn(self.table_address)
        self.recycled = outs
        if status is not None:
            raise_if_failed(self.program, status)
        return outs
