"""Every KILN_* environment flag in one typed table, read once and validated as it is read (an
error names the flag, its value and what is allowed); `override` for tests."""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

class ConfigError(ValueError):
    """A KILN_* flag with a value it does not allow (config sits below kiln.errors)."""


MAX_THREADS = max(1024, os.cpu_count() or 1)
_INT_MAX = (1 << 31) - 1
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _ints(default: int, lo: int = 0, hi: int = _INT_MAX) -> Any:
    """An integer flag and the values it allows (an integer flag without bounds: 0 and up)."""
    return field(default=default, metadata={"range": (lo, hi)})


@dataclass(frozen=True)
class Config:
    dump: str = ""            # KILN_DUMP=dir: write every stage of every compiled function there
    print_after: str = ""     # KILN_PRINT_AFTER=pass,pass|all
    debug: int = _ints(0, 0, 5)  # KILN_DEBUG=1..5
    verify: bool = False      # KILN_VERIFY=1: verify the graph after every pass
    diff: bool = False        # KILN_DIFF=1: print-after shows diffs
    num_threads: int = _ints(0, 0, MAX_THREADS)  # KILN_NUM_THREADS (0 = all cores)
    retrace_warn: int = _ints(8, 1)  # KILN_RETRACE_WARN: warn once a function has traced this often
    trace_cache: int = _ints(64, 1)  # KILN_TRACE_CACHE: signatures kept per function (LRU)
    eager_cache: int = _ints(512, 1)  # KILN_EAGER_CACHE: compiled single ops kept (LRU)
    profile: bool = False     # KILN_PROFILE=1: time every kernel; a table per executable at exit


def parse_flag(f: Any, raw: str) -> Any:
    """The value of flag field `f` spelled `raw`; ConfigError says what the flag allows."""
    name, text = "KILN_" + f.name.upper(), raw.strip()
    if f.type == "str":
        if "\x00" in raw:
            raise ConfigError(f"{name}={raw!r} holds a NUL byte")
        return raw
    if f.type == "bool":
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ConfigError(f"{name}={raw!r} is not a boolean; use one of {', '.join(_TRUE + _FALSE)}")
    lo, hi = f.metadata.get("range", (0, _INT_MAX))
    digits = text[1:] if text[:1] in "+-" else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or not lo <= int(text) <= hi:
        raise ConfigError(f"{name}={raw!r} is not allowed; use an integer in {lo}..{hi}")
    return int(text)


def _from_env() -> Config:
    values = {}
    for f in fields(Config):
        raw = os.environ.get("KILN_" + f.name.upper())
        if raw is not None and (raw.strip() or f.type == "str"):  # an empty number or boolean: the default
            values[f.name] = parse_flag(f, raw)
    return Config(**values)


config = _from_env()


@contextlib.contextmanager
def override(**changes):
    """Temporarily change flags (tests, tools)."""
    global config
    old, new = config, replace(config, **changes)
    for f in fields(Config):
        value = getattr(new, f.name)
        if f.name in changes and f.type != "str":  # the same bounds as the environment's
            if not isinstance(value, int) or parse_flag(f, str(int(value))) != value:
                raise ConfigError(f"override({f.name}={value!r}): not a value KILN_{f.name.upper()} allows")
    config = new
    try:
        yield config
    finally:
        config = old


def get() -> Config:
    return config
