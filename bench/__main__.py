"""`python -m bench [--quick] [--only W1,W3,compile] [--json PATH]`: run the workloads for kiln
and every installed anchor (NumPy, PyTorch eager, torch.compile, jax.jit), print one table per
workload and a summary; exit status 1 if any implementation failed or computed a wrong result."""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys

from . import compile_time, w1_elementwise, w2_softmax_ce, w3_mlp, w4_lenet, w5_matmul, w6_overhead
from .common import QUICK, Settings, summary, table

WORKLOADS = {"W1": w1_elementwise, "W2": w2_softmax_ce, "W3": w3_mlp, "W4": w4_lenet,
             "W5": w5_matmul, "W6": w6_overhead, "compile": compile_time}


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for mod in ("kiln", "numpy", "torch", "jax"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            out[mod] = "not installed"
        except AttributeError:
            out[mod] = "?"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smoke run: few timed calls, one compile repeat")
    ap.add_argument("--only", help=f"comma-separated subset of {','.join(WORKLOADS)}")
    ap.add_argument("--json", metavar="PATH", help="also write every row as JSON to PATH")
    args = ap.parse_args(argv)

    chosen = list(WORKLOADS)
    if args.only:
        names = {k.lower(): k for k in WORKLOADS}
        wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
        unknown = [w for w in wanted if w not in names]
        if unknown:
            ap.error(f"unknown workload(s) {unknown}; choose from {','.join(WORKLOADS)}")
        chosen = [names[w] for w in wanted]
    settings = QUICK if args.quick else Settings()

    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": platform.machine(),
            "cpus": os.cpu_count(), "quick": args.quick, "settings": dataclasses.asdict(settings),
            "versions": versions()}
    print(f"kiln benchmark suite, {meta['date']}, {meta['cpus']} CPUs, "
          + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
          + (" (quick)" if args.quick else ""), flush=True)

    results = []
    for name in chosen:
        for res in WORKLOADS[name].run(settings):
            print("\n" + table(res), flush=True)
            results.append(res)
    print("\n" + summary(results))

    failures = [(res.id, r) for res in results for r in res.failures()]
    for wid, r in failures:
        print(f"FAILED {wid} {r.impl}: {r.status}: {r.note}", file=sys.stderr)
    if args.json:
        doc = {**meta, "results": [{**dataclasses.asdict(r), "kiln_ratio": r.kiln_ratio()} for r in results]}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
