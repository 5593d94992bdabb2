"""Pass registry and pipelines. A pass is Graph -> Graph returning the same object when it
changed nothing; the manager adds verification, timing, dumps and print-after.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from .. import config as cfg
from ..ir.graph import Graph
from ..ir.printer import print_graph
from ..ir.verify import verify

log = logging.getLogger("kiln.passes")
PASSES: dict[str, Callable[[Graph], Graph]] = {}


def graph_pass(name: str):
    """Register `fn` as a pass under `name` (the name used by pipelines and `kiln opt`)."""
    def wrap(fn: Callable[[Graph], Graph]) -> Callable[[Graph], Graph]:
        assert name not in PASSES, f"pass {name} registered twice"
        PASSES[name] = fn
        fn.pass_name = name
        return fn
    return wrap


@dataclass
class PassReport:
    """What a pipeline did: per-pass seconds and whether it changed the graph."""

    entries: list[tuple[str, float, bool]] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(f"  {n:<12} {t * 1e3:8.2f} ms{'  changed' if c else ''}" for n, t, c in self.entries)


def run_pipeline(g: Graph, names: list[str], dump_dir: str | None = None, report: PassReport | None = None,
                 print_after: str | None = None, sink: Callable[[str], None] | None = None) -> Graph:
    """Run passes in order. The IR after each pass named in `print_after` ("a,b" or "all";
    default KILN_PRINT_AFTER) that changed the graph goes to `sink` (default: the log)."""
    conf = cfg.get()
    print_after = conf.print_after if print_after is None else print_after
    shown = set(print_after.split(",")) if print_after else set()
    sink = sink or log.warning
    if dump_dir:
        _dump(dump_dir, "00_trace.kir", print_graph(g))
    for i, name in enumerate(names, 1):
        if name not in PASSES:
            raise KeyError(f"unknown pass {name!r}; known: {', '.join(sorted(PASSES))}")
        t0 = time.perf_counter()
        out = PASSES[name](g)
        dt = time.perf_counter() - t0
        changed = out is not g
        if report is not None:
            report.entries.append((name, dt, changed))
        if conf.verify and changed:
            verify(out)
        if dump_dir:
            _dump(dump_dir, f"{i:02d}_{name}.kir", print_graph(out))
        if changed and (name in shown or "all" in shown):
            sink(f"// IR after {name} (changed)\n{print_graph(out)}")
        g = out
    return g


def _dump(dirname: str, fname: str, text: str) -> None:
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, fname), "w") as f:
        f.write(text)
