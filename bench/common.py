"""Shared machinery of the benchmark suite: settings, timing, numeric checks, result rows
and tables (the implementations themselves are in `impls.py`).

A workload module builds a list of implementations `(impl name, build)`; `build()` returns a
zero-argument callable that runs one call (one forward, one training step, ...).
`measure_all` builds each, checks it with the workload's `verify(call)`, then times them all
in rotation. PyTorch and JAX are imported inside `build`, so a missing one raises ImportError
there and its rows are left out.
"""
from __future__ import annotations

import gc
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

SEED = 0


# ----------------------------------------------------------------------------- settings, data


@dataclass
class Settings:
    """How hard to time: `--quick` is a smoke run (few calls, one compile-time repeat)."""
    calls: int = 20          # timed samples (each the mean of a batch of calls) per implementation
    warmup: int = 3          # untimed calls before each turn of samples...
    warm_s: float = 0.1      # ...and at least this long
    min_batch_s: float = 2e-3  # tiny calls are batched until one sample takes this long
    compile_repeat: int = 5  # first-call measurements for kiln (anchors: fewer, they are slow)


QUICK = Settings(calls=5, warmup=1, warm_s=0.02, min_batch_s=1e-3, compile_repeat=1)


def rng(stream: int = 0) -> np.random.Generator:
    """The suite's one seed (every implementation of a workload sees the same data); separate
    streams for data and parameters."""
    return np.random.default_rng([SEED, stream])


# ----------------------------------------------------------------------------- timing


def median_time(fn: Callable[[], object], settings: Settings = Settings()) -> float:
    return sample_times(fn, settings)[0]


def sample_times(fn: Callable[[], object], settings: Settings = Settings()) -> tuple[float, float]:
    """(median, fastest) seconds per call of `settings.calls` samples (see Sampler)."""
    sampler = Sampler(fn, settings)
    sampler.take(settings.calls)
    return sampler.summary()


class Sampler:
    """Timed samples of one call: warm-up first, then calls faster than `min_batch_s` run in
    batches so the timer's own cost does not count. The fastest sample is what a loaded
    machine's scheduler disturbs least."""

    def __init__(self, fn: Callable[[], object], settings: Settings):
        self.fn, self.settings, self.samples, self.batch = fn, settings, [], 0

    def take(self, n: int) -> None:
        """n more samples, after warming up again: `warmup` calls and at least `warm_s` of
        calls (after idling, a VM's cores need a while to run at full speed again)."""
        fn = self.fn
        start = time.perf_counter()
        for _ in range(self.settings.warmup):
            fn()
        while time.perf_counter() - start < self.settings.warm_s:
            fn()
        if not self.batch:
            t0 = time.perf_counter()
            fn()
            self.batch = max(1, int(self.settings.min_batch_s / max(time.perf_counter() - t0, 1e-9)))
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            for _ in range(n):
                t0 = time.perf_counter()
                for _ in range(self.batch):
                    fn()
                self.samples.append((time.perf_counter() - t0) / self.batch)
        finally:
            if gc_was_on:
                gc.enable()

    def summary(self) -> tuple[float, float]:
        return statistics.median(self.samples), min(self.samples)


def first_call_time(build: Callable[[], Callable[[], object]], reset: Callable[[], None] = lambda: None,
                    repeat: int = 1) -> tuple[float, float]:
    """(median, fastest) seconds of the first call of a freshly built implementation (trace +
    compile + run), `reset()` clearing the framework's caches before each build."""
    times = []
    for _ in range(repeat):
        reset()
        call = build()
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def copy_bandwidth(settings: Settings = Settings()) -> float:
    """The machine's memory-copy bandwidth in GB/s (bytes read + written), np.copyto of 64 MB."""
    src = np.ones(16 << 20, np.float32)
    dst = np.empty_like(src)
    return 2 * src.nbytes / median_time(lambda: np.copyto(dst, src), settings) / 1e9


# ----------------------------------------------------------------------------- numeric checks


class WrongResult(AssertionError):
    """An implementation's result is off from the float64 reference: reported loudly."""


class NotSupported(Exception):
    """kiln cannot run this workload yet: reported as such, not as a failure."""


def to_numpy(out: Any) -> Any:
    """Results of any framework (tensors, arrays, tuples of them) as float64/int NumPy arrays."""
    if isinstance(out, (tuple, list)):
        return tuple(to_numpy(o) for o in out)
    if isinstance(out, dict):
        return {k: to_numpy(v) for k, v in out.items()}
    if hasattr(out, "detach"):  # torch
        out = out.detach().numpy()
    a = np.asarray(out)
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def check(what: str, got: Any, ref: Any, rtol: float, atol: Any = 0.0) -> None:
    """|got - ref| <= rtol * |ref| + rtol * 1e-2 * max|ref| + atol elementwise (entries near zero
    are judged against the array's scale); raises WrongResult naming the worst entry."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if got.shape != ref.shape:
        raise WrongResult(f"{what}: shape {got.shape}, expected {ref.shape}")
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    err = np.abs(got - ref)
    bad = ~(err <= rtol * np.abs(ref) + rtol * 1e-2 * scale + atol)  # NaN counts as bad
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, err, -1)), bad.shape) if ref.ndim else ()
        raise WrongResult(f"{what}: {int(bad.sum())} of {ref.size} entries off (rtol {rtol:g}); "
                          f"worst at {tuple(int(j) for j in i)}: {got[i]:.6g} vs {ref[i]:.6g}")


def expect(ref: Any, rtol: float, names: tuple[str, ...] = ("result",)) -> Callable:
    """`verify` for a pure function: its result (one array or a tuple) against `ref`."""
    refs = ref if isinstance(ref, tuple) else (ref,)

    def verify(call):
        out = to_numpy(call())
        outs = out if isinstance(out, tuple) else (out,)
        if len(outs) != len(refs):
            raise WrongResult(f"{len(outs)} results, expected {len(refs)}")
        for name, g, r in zip(names, outs, refs):
            check(name, g, r, rtol)
    return verify


# ----------------------------------------------------------------------------- results


@dataclass
class Row:
    impl: str
    seconds: float | None = None  # median
    status: str = "ok"  # ok | not yet supported | WRONG | ERROR
    note: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    min_seconds: float | None = None  # fastest sample


@dataclass
class Result:
    """One workload's table: rows (kiln first), extra metric columns, the issue's goal."""
    id: str
    title: str
    rows: list[Row]
    columns: dict[str, str] = field(default_factory=dict)  # metric key -> format, e.g. "{:.1f}"
    goal: str = ""
    met: bool | None = None
    notes: list[str] = field(default_factory=list)
    short: str = ""  # its name in the summary

    def row(self, impl: str) -> Row | None:
        return next((r for r in self.rows if r.impl == impl and r.seconds is not None), None)

    def best_anchor(self) -> Row | None:
        timed = [r for r in self.rows if r.impl != "kiln" and r.seconds is not None]
        return min(timed, key=lambda r: r.seconds) if timed else None

    def kiln_ratio(self) -> float | None:
        k, b = self.row("kiln"), self.best_anchor()
        return k.seconds / b.seconds if k and b else None

    def ratio_to(self, impl: str) -> float | None:
        k, a = self.row("kiln"), self.row(impl)
        return k.seconds / a.seconds if k and a else None

    def judge(self, limit: float, vs: str | None = None, also: bool = True) -> None:
        """Goal met: kiln's time <= `limit` x the best anchor's (or `vs`'s), and `also`."""
        r = self.kiln_ratio() if vs is None else self.ratio_to(vs)
        self.met = None if r is None else (r <= limit and also)

    def failures(self) -> list[Row]:
        return [r for r in self.rows if r.status in ("WRONG", "ERROR")]


def guarded(impl: str, attempt: Callable[[], Row]) -> Row | None:
    """`attempt()`'s row; None when the framework is missing, a "not yet supported" row, or a
    WRONG / ERROR row for a failure (reported in the table and by the exit status)."""
    try:
        return attempt()
    except ImportError:
        return None
    except NotSupported as e:
        return Row(impl, status="not yet supported", note=str(e))
    except WrongResult as e:
        return failed(impl, "WRONG", str(e))
    except Exception as e:  # noqa: BLE001
        return failed(impl, "ERROR", f"{type(e).__name__}: {e}")


COOL_DOWN = 0.5  # s of idling before timing: the previous implementation's worker threads (OpenMP,
#                  XLA's pool, OpenBLAS) spin-wait for a while after their last task, taking a core


ROUNDS = 10  # turns per implementation, in rotation: a slow spell of a shared host (seconds with one core
#             taken) falls on all alike; with 4 turns it could spoil half of one implementation's samples


def measure_all(impls: list[tuple[str, Callable]], verify: Callable, settings: Settings) -> list[Row]:
    """Build and check every implementation, then time them in ROUNDS turns in rotation, each
    turn after COOL_DOWN and `calls / ROUNDS` samples: a busy spell of a shared machine then
    lands on every implementation's samples, not on whichever was being timed. Missing
    frameworks give no row; failures a WRONG / ERROR row."""
    rows: dict[str, Row | None] = {}
    samplers: dict[str, Sampler] = {}
    for name, build in impls:
        def ready(name=name, build=build) -> Row:
            call = build()
            verify(call)
            samplers[name] = Sampler(call, settings)
            return Row(name)
        rows[name] = guarded(name, ready)
    rounds = ROUNDS if settings.calls >= 2 * ROUNDS else 1
    for _ in range(rounds):
        for name, sampler in list(samplers.items()):
            def turn(name=name, sampler=sampler) -> Row:
                time.sleep(COOL_DOWN)
                sampler.take(-(-settings.calls // rounds))
                return rows[name]
            row = guarded(name, turn)
            if row is not rows[name]:
                rows[name] = row
                del samplers[name]
    for name, sampler in samplers.items():
        median, fastest = sampler.summary()
        rows[name] = Row(name, median, min_seconds=fastest)
    return [r for r in rows.values() if r is not None]


def failed(impl: str, status: str, note: str) -> Row:
    print(f"!!! {impl}: {status}: {note}", file=sys.stderr, flush=True)
    return Row(impl, status=status, note=note.splitlines()[0][:300] if note else "")


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}" if s / scale < 100 else f"{s / scale:.0f} {unit}"
    return f"{s * 1e9:.0f} ns"


def fmt_ratio(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def table(res: Result) -> str:
    """One workload: each implementation's median time, its ratio to the best anchor, metrics."""
    best = res.best_anchor()
    head = (f"{'impl':<15}{'median':>11}{'vs best anchor':>16}" + "".join(f"{c:>12}" for c in res.columns)
            + f"{'min':>11}")
    lines = [f"{res.id}: {res.title}", head, "-" * len(head)]
    for r in res.rows:
        if r.seconds is None:
            lines.append(f"{r.impl:<15}{'-':>11}   {r.status}: {r.note}")
            continue
        ratio = fmt_ratio(r.seconds / best.seconds) if best else "-"
        cells = "".join(f"{fmt.format(r.metrics[c]) if c in r.metrics else '-':>12}"
                        for c, fmt in res.columns.items())
        lines.append(f"{r.impl:<15}{fmt_time(r.seconds):>11}{ratio:>16}{cells}{fmt_time(r.min_seconds):>11}")
    lines += [f"  {n}" for n in res.notes]
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    """kiln next to the best anchor for every workload, with the issue's goal."""
    head = (f"{'workload':<26}{'kiln':>10}{'best anchor':>26}{'kiln/best':>11}  {'goal':<31}met")
    lines = ["Summary", head, "-" * len(head)]
    for res in results:
        k, b = res.row("kiln"), res.best_anchor()
        status = next((r.status for r in res.rows if r.impl == "kiln"), "-")
        kiln = fmt_time(k.seconds) if k else {"not yet supported": "n/a"}.get(status, status)
        anchor = f"{b.impl} {fmt_time(b.seconds)}" if b else "-"
        met = {True: "yes", False: "NO", None: "-"}[res.met]
        lines.append(f"{res.id + ' ' + (res.short or res.title):<26.26}{kiln:>10}{anchor:>26}"
                     f"{fmt_ratio(res.kiln_ratio()):>11}  {res.goal:<31}{met}")
    return "\n".join(lines)
