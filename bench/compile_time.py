"""First-call cost of the W3 and W4 training steps: trace -> optimised graph -> kernels -> LLVM
-> native code, then one run. Each measurement builds a fresh step (model layers and
Variables already created: their initializers are not compile time) with the framework's
compile caches cleared: kiln's code cache; jax's in-memory caches; TorchDynamo's, with
Inductor's on-disk caches disabled. Only the compiling implementations are timed."""
from __future__ import annotations

import contextlib
import warnings

from . import w3_mlp, w4_lenet
from .common import Result, Row, Settings, first_call_time, guarded

GOALS = {"W3": 0.5, "W4": 1.0}  # seconds, kiln's first call


def _kiln_reset():
    from kiln.frontend import compile as kcompile
    from kiln.runtime.cache import CodeCache
    kcompile.CACHE = CodeCache()


def _jax_reset():
    import jax
    jax.clear_caches()


def _torch_reset():
    import torch
    torch._dynamo.reset()


def _torch_no_disk_cache():
    import torch._inductor.config
    warnings.filterwarnings("ignore", message="dynamo_pgo force disabled")
    return torch._inductor.config.patch(force_disable_caches=True)


RESETS = {"kiln": _kiln_reset, "jax.jit": _jax_reset, "torch.compile": _torch_reset}


def _first_call(impl, build, repeat) -> Row | None:
    def attempt() -> Row:
        reset = RESETS[impl]
        reset()  # also imports the framework: ImportError when it is not installed
        with _torch_no_disk_cache() if impl == "torch.compile" else contextlib.nullcontext():
            median, fastest = first_call_time(build, reset, repeat)
        return Row(impl, median, min_seconds=fastest)
    return guarded(impl, attempt)


def run(settings: Settings) -> list[Result]:
    results = []
    for wid, module in (("W3", w3_mlp), ("W4", w4_lenet)):
        builds = dict(module.impls(*module.setup()))
        rows = []
        for impl in RESETS:  # torch.compile takes seconds per compile: measured once
            row = _first_call(impl, builds[impl], settings.compile_repeat if impl != "torch.compile" else 1)
            if row is not None:
                rows.append(row)
        res = Result(f"{wid}-compile", f"first call of the {wid} step (trace+compile+run)", rows,
                     short="first call", goal=f"kiln <= {GOALS[wid]} s")
        kiln = res.row("kiln")
        res.met = None if kiln is None else kiln.seconds <= GOALS[wid]
        if wid == "W3" and kiln is not None:
            res.notes.append(_kernel_counts(builds["kiln"]))
        results.append(res)
    return results


def _kernel_counts(build) -> str:
    try:
        step = build()
        counts = step.jitted.lower(*step.args).kernel_counts()
    except Exception as e:  # noqa: BLE001 - a note only
        return f"kiln kernels: unknown ({type(e).__name__}: {e})"
    return "kiln kernels: " + ", ".join(f"{k} {v}" for k, v in counts.items())
