"""Program: what codegen hands the runtime: a buffer table, ordered kernels, an arena plan."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .kernel import Kernel, format_kernel
from .types import TensorType

KINDS = ("arg", "state", "out", "const", "temp")


@dataclass
class Buffer:
    """A slot of the entry function's pointer table; temps live in the arena at `offset`."""

    slot: int
    type: TensorType
    kind: str
    offset: int = 0
    data: np.ndarray | None = None  # const buffers
    index: int = 0  # position among the graph's args/states/outputs


@dataclass
class Program:
    name: str
    buffers: list[Buffer]
    kernels: list[Kernel]
    arena_bytes: int = 0
    stats: dict = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Buffer]:
        return [b for b in self.buffers if b.kind == kind]

    def as_text(self) -> str:
        head = [f"program @{self.name} arena={self.arena_bytes}B"]
        for b in self.buffers:
            where = f" +{b.offset}" if b.kind == "temp" else ""
            head.append(f"  buffer @{b.slot} {b.kind}{where} : {b.type}")
        return "\n".join(head + ["  " + format_kernel(k) for k in self.kernels]) + "\n"
