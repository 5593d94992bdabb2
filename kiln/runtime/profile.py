"""KILN_PROFILE=1: where a compiled step spends its time, kernel by kernel.

A profiling build adds each kernel's cycle count (the CPU's cycle counter) to a global
array; calls are timed from Python as a whole, and at exit every executable prints its
kernels by share of the cycles, scaled to milliseconds per call.
"""
from __future__ import annotations

import atexit
import ctypes
import math
import sys
import time

import numpy as np

from ..ir.kernel import Kernel
from .executable import Executable

_ALL: list["Profiled"] = []


class Profiled:
    """An Executable whose calls are counted and timed."""

    def __init__(self, exe: Executable, name: str, cycles_address: int):
        self.exe, self.name = exe, name
        n = max(len(exe.program.kernels), 1)
        self.cycles = np.ctypeslib.as_array((ctypes.c_int64 * n).from_address(cycles_address))
        self.calls, self.seconds = 0, 0.0
        _ALL.append(self)

    def __getattr__(self, attr: str):
        return getattr(self.exe, attr)

    def __call__(self, args, states):
        t0 = time.perf_counter()
        out = self.exe(args, states)
        self.seconds += time.perf_counter() - t0
        self.calls += 1
        return out

    def report(self) -> str:
        total = max(int(self.cycles.sum()), 1)
        per_call_ms = self.seconds / max(self.calls, 1) * 1e3
        lines = [f"kiln profile: {self.name}, {self.calls} calls, {per_call_ms:.3f} ms per call"]
        order = sorted(range(len(self.exe.program.kernels)), key=lambda i: -self.cycles[i])
        for i in order:
            share = self.cycles[i] / total
            if share < 0.005:
                break
            lines.append(f"  {share * 100:5.1f}%  {share * per_call_ms:8.3f} ms  {_describe(self.exe.program.kernels[i])}")
        return "\n".join(lines)


def _describe(k: Kernel) -> str:
    what = f"{k.name} [{', '.join(map(str, k.shape))}]"
    if k.rshape:
        what += f" reduce [{', '.join(map(str, k.rshape))}] ({math.prod(k.rshape)})"
    if k.gemm:
        g = k.gemm
        what += f" gemm {g.m}x{g.n}x{g.k}{'^T' if g.trans_a else ''}{'^T' if g.trans_b else ''}" \
                + (f" batch {list(g.batch)}" if g.batch else "")
    return what


@atexit.register
def _report() -> None:
    for p in _ALL:
        if p.calls:
            print(p.report(), file=sys.stderr)
