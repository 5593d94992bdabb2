"""Index checks at run time: the per-call status buffer a checking program writes, and the
IndexError raised from it after the native call returns."""
from __future__ import annotations

import ctypes
from collections.abc import Sequence

from ..ir.program import STATUS_WORDS, Program

Status = ctypes.c_int64 * STATUS_WORDS


def fresh_status() -> tuple[ctypes.Array, int]:
    """A zeroed status buffer and its address, one per call context (concurrent calls never
    share one; a ctypes array, as it costs a fraction of a NumPy array's set-up)."""
    status = Status()
    return status, ctypes.addressof(status)


def raise_if_failed(program: Program, status: Sequence[int]) -> None:
    """Raise the failed check's error (op, bad index, bound, the user's line), if one failed."""
    site = status[0]
    if site:
        raise program.sites[site - 1].error(status[1])
