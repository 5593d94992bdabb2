"""Every KILN_* environment flag in one typed table, read once; `override` for tests."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Config:
    dump: str = ""            # KILN_DUMP=dir: write every stage of every compiled function there
    print_after: str = ""     # KILN_PRINT_AFTER=pass,pass|all
    debug: int = 0            # KILN_DEBUG=1..5
    verify: bool = False      # KILN_VERIFY=1: verify the graph after every pass
    diff: bool = False        # KILN_DIFF=1: print-after shows diffs
    num_threads: int = 0      # KILN_NUM_THREADS (0 = all cores)
    retrace_warn: int = 8     # KILN_RETRACE_WARN: warn once a function has traced this often
    trace_cache: int = 64     # KILN_TRACE_CACHE: signatures kept per function (LRU; evicted code is freed)
    eager_cache: int = 512    # KILN_EAGER_CACHE: compiled single ops kept for eager execution (LRU)
    profile: bool = False     # KILN_PROFILE=1: time every kernel; a table per executable at exit


def _from_env() -> Config:
    values = {}
    for f in fields(Config):
        raw = os.environ.get("KILN_" + f.name.upper())
        if raw is None:
            continue
        values[f.name] = raw if f.type == "str" else (raw not in ("", "0", "false") if f.type == "bool" else int(raw))
    return Config(**values)


config = _from_env()


@contextlib.contextmanager
def override(**changes):
    """Temporarily change flags (tests, tools)."""
    global config
    old = config
    config = replace(config, **changes)
    try:
        yield config
    finally:
        config = old


def get() -> Config:
    return config
