"""Index checks at run time: the per-call status buffer a checking program writes, and the
IndexError raised from it after the native call returns."""
from __future__ import annotations

import numpy as np

from ..ir.program import STATUS_WORDS, Program


def fresh_status() -> np.ndarray:
    """A zeroed status buffer for one call (one per call, so concurrent calls never share one)."""
    return np.zeros(STATUS_WORDS, np.int64)


def raise_if_failed(program: Program, status: np.ndarray) -> None:
    """Raise the failed check's error (op, bad index, bound, the user's line), if one failed."""
    site = int(status[0])
    if site:
        raise program.sites[site - 1].error(int(status[1]))
