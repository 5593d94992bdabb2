"""The fuzz loop, run as a child process by test_fuzz_graphs.py so that a crash of compiled code
is seen as a signal by the parent: `python -m tests.fuzz.worker EXAMPLES SEED CASE_FILE`.

Before each case runs, its graph text goes to CASE_FILE; the first line printed on success is
`fuzz: N graphs`. Hypothesis runs from SEED and keeps no database: the same graphs every run.
(One process runs a chunk of graphs: compiled modules stay in the JIT engine, issue 15 point 5.)"""
from __future__ import annotations

import sys
import time

from hypothesis import HealthCheck, given, seed, settings

from .check import Mismatch, Stats, check
from .graphs import cases
from .pipelines import pipelines


def main(examples: int, seed_: int, case_file: str) -> int:
    pipes = pipelines()
    count, stats = [0], Stats()

    @seed(seed_)
    @settings(max_examples=examples, derandomize=False, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def fuzz(case) -> None:
        with open(case_file, "w") as f:
            f.write(case.text())
        try:
            check(case, pipes, stats)
        except Mismatch:
            raise
        except Exception as e:  # a raw error of kiln (or of a reference) on this graph
            raise Mismatch(f"{type(e).__name__}: {e}\n{case.text()}") from e
        count[0] += 1

    t0 = time.perf_counter()
    fuzz()
    print(f"fuzz: {count[0]} graphs, {len(pipes)} pipelines ({', '.join(p.name for p in pipes)}), "
          f"{time.perf_counter() - t0:.0f} s\n{stats}")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
