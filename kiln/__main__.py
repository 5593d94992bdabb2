"""`python -m kiln opt --passes=a,b FILE.kir` (text in, text out) and
`python -m kiln dump SCRIPT.py:FN --args "f32[256,784],i32[256]"` (every stage)."""
from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import time

import numpy as np


def _opt(ns: argparse.Namespace) -> int:
    from .errors import KilnError
    from .ir.parser import parse
    from .ir.printer import print_graph
    from .ir.verify import verify
    from .passes import PASSES, run_pipeline

    if ns.list_passes:
        print("\n".join(sorted(PASSES)))
        return 0
    try:
        if ns.file in (None, "-"):
            text = sys.stdin.buffer.read()
        else:
            with open(ns.file, "rb") as f:
                text = f.read()
    except OSError as e:
        print(f"error: cannot read {ns.file}: {e.strerror}", file=sys.stderr)
        return 1
    try:
        g = verify(parse(text))  # bytes: the parser reports text that is not UTF-8 at its line:col
        shown = "all" if ns.print_changed else ns.print_after
        g = run_pipeline(g, [p for p in (ns.passes or "").split(",") if p], print_after=shown,
                         sink=lambda text: print(text, file=sys.stderr))
        verify(g)
    except (KilnError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(print_graph(g))
    return 0


def _example(spec: str) -> np.ndarray:
    m = re.fullmatch(r"(\w+)\[([\d,]*)\]", spec.strip())
    if not m:
        raise SystemExit(f"bad --args entry {spec!r}; expected e.g. f32[256,784]")
    from .ir.dtypes import as_dtype
    shape = tuple(int(n) for n in m.group(2).split(",") if n)
    return np.zeros(shape, dtype=as_dtype(m.group(1)).np)


def _dump(ns: argparse.Namespace) -> int:
    path, _, fn_name = ns.target.rpartition(":")
    spec = importlib.util.spec_from_file_location("kiln_dump_target", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    fn = getattr(mod, fn_name)
    from .frontend.jit import JitFunction
    if not isinstance(fn, JitFunction):
        fn = JitFunction(fn)
    args = [_example(a) for a in re.split(r",(?![^\[]*\])", ns.args)] if ns.args else []
    t0 = time.perf_counter()
    traced = fn.trace(*args)
    t1 = time.perf_counter()
    lowered = fn.lower(*args)
    t2 = time.perf_counter()
    compiled = lowered.compile()
    t3 = time.perf_counter()
    counts = lowered.kernel_counts()
    print("== traced IR ==", traced.as_text(), sep="\n")
    print("== optimised IR ==", lowered.as_text(), sep="\n")
    print(f"== kernels: {counts['fused']} (unfused: {counts['unfused']}) ==", lowered.as_kernels(), sep="\n")
    print("== memory ==", lowered.memory(), sep="\n")
    from .passes.rewrite import HITS
    print("== rewrite rules fired ==", ", ".join(f"{k} x{n}" for k, n in HITS.most_common()) or "none", sep="\n")
    print(f"== compile time: trace {t1 - t0:.3f}s, passes+kernels {t2 - t1:.3f}s, "
          f"LLVM+load {t3 - t2:.3f}s ==")
    print("== LLVM IR ==", compiled.as_llvm_ir(), sep="\n")
    print("== assembly ==", compiled.as_asm(), sep="\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m kiln")
    sub = ap.add_subparsers(dest="cmd", required=True)
    o = sub.add_parser("opt", help="run passes over textual IR")
    o.add_argument("file", nargs="?")
    o.add_argument("--passes", default="")
    o.add_argument("--list-passes", action="store_true")
    o.add_argument("--print-after", default="", help="PASS,PASS or all: IR after those passes, if changed "
                   "(to stderr)")
    o.add_argument("--print-changed", action="store_true", help="IR after every pass that changed it")
    d = sub.add_parser("dump", help="print every stage of a function")
    d.add_argument("target", help="SCRIPT.py:FN")
    d.add_argument("--args", default="")
    ns = ap.parse_args(argv)
    return _opt(ns) if ns.cmd == "opt" else _dump(ns)


if __name__ == "__main__":
    sys.exit(main())
