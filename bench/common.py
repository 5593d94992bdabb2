"""Timing helpers shared by the benchmarks: warm up, then the median of many timed calls."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def median_time(fn: Callable[[], object], calls: int = 2000, warmup: int = 50, repeat: int = 5) -> float:
    """Median seconds per call over `repeat` batches of `calls` calls (after warm-up)."""
    for _ in range(warmup):
        fn()
    batches = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        batches.append((time.perf_counter() - t0) / calls)
    return statistics.median(batches)


def table(rows: list[tuple[str, float]], base: str) -> str:
    ref = dict(rows)[base]
    lines = [f"{'impl':<16}{'time/call':>14}{'ratio vs ' + base:>20}"]
    for name, t in rows:
        lines.append(f"{name:<16}{t * 1e6:>11.2f} us{t / ref:>20.2f}x")
    return "\n".join(lines)
