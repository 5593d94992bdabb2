"""Program: what codegen hands the runtime: a buffer table, ordered kernels, an arena plan."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import dtypes as dt
from .bounds import IndexSite
from .kernel import Kernel, checks, format_kernel
from .types import TensorType

KINDS = ("arg", "state", "out", "const", "temp", "status")
STATUS_WORDS = 2  # the status buffer: 1 + the failed check's site number (0: all passed), its bad index


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
    sites: list[IndexSite] = field(default_factory=list)  # the index checks, numbered from 0

    def __post_init__(self) -> None:
        """A program whose kernels check indices gets a status buffer, zero at every call: the
        first failing check (of any thread) writes it, and the entry stops after that kernel."""
        seen = {e.attr: None for k in self.kernels for e in checks(k)}
        if seen and not self.sites:
            self.sites = list(seen)
            self.buffers.append(Buffer(len(self.buffers), TensorType((STATUS_WORDS,), dt.int64), "status"))

    @property
    def status(self) -> Buffer | None:
        return next((b for b in self.buffers if b.kind == "status"), None)

    def of_kind(self, kind: str) -> list[Buffer]:
        return [b for b in self.buffers if b.kind == kind]

    def as_text(self) -> str:
        head = [f"program @{self.name} arena={self.arena_bytes}B"]
        for b in self.buffers:
            where = f" +{b.offset}" if b.kind == "temp" else ""
            head.append(f"  buffer @{b.slot} {b.kind}{where} : {b.type}")
        return "\n".join(head + ["  " + format_kernel(k) for k in self.kernels]) + "\n"
