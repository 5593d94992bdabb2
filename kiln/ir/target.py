"""Target: what a backend compiles for (triple, CPU name, feature string)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    triple: str
    cpu: str = ""
    features: str = ""
    kind: str = "cpu"

    def __str__(self) -> str:
        return f"{self.kind}:{self.triple}:{self.cpu}:{self.features}"
