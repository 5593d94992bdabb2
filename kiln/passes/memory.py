"""Memory planning: place every temp buffer of a Program in one arena."""
from __future__ import annotations

from ..ir.program import Program

ALIGN = 64


def plan(program: Program) -> Program:
    """Give each temp its own aligned arena offset (liveness-based reuse comes with issue 4)."""
    offset = 0
    for b in program.of_kind("temp"):
        b.offset = offset
        offset += -(-max(b.type.nbytes, 1) // ALIGN) * ALIGN
    program.arena_bytes = offset
    program.stats["temp_bytes"] = sum(b.type.nbytes for b in program.of_kind("temp"))
    return program
