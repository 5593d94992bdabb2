"""One fuzz case end to end: type-rule refusals agree with NumPy, then every pipeline's
results are within the oracle's bounds of the NumPy evaluation."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .graphs import Case, refusal_is_shared
from .oracle import evaluate, mismatch
from .pipelines import Pipeline, run


class Mismatch(AssertionError):
    pass


@dataclass
class Stats:
    """What the checked cases covered: ops applied, refusals compared, elements compared
    bitwise, within a bound, or not comparable (an inexact operand could flip them)."""

    ops: Counter = field(default_factory=Counter)
    refusals: int = 0
    elements: Counter = field(default_factory=Counter)

    def add(self, case: Case, env: dict) -> None:
        self.ops.update(n.op for n in case.graph.nodes)
        self.refusals += len(case.refused)
        for v in case.graph.outputs:
            bound = env[v][1]
            exact = int((bound == 0).sum())
            self.elements.update(exact=exact, bounded=int(np.isfinite(bound).sum()) - exact,
                                 unchecked=int(np.isinf(bound).sum()))

    def __str__(self) -> str:
        ops = ", ".join(f"{k} {n}" for k, n in sorted(self.ops.items()))
        return (f"elements: {dict(self.elements)}; type-rule refusals compared with NumPy: {self.refusals}\n"
                f"ops: {ops}")


def check(case: Case, pipes: list[Pipeline], stats: Stats | None = None) -> None:
    for op, types, attrs, err in case.refused:
        msg = refusal_is_shared(op, types, attrs, err)
        if msg:
            raise Mismatch(msg)
    env = evaluate(case.graph, case.inputs)
    for p in pipes:
        got = run(case.graph, p, case.inputs)
        for k, (v, g) in enumerate(zip(case.graph.outputs, got)):
            want, bound = env[v]
            msg = mismatch(np.asarray(g), want, bound)
            if msg:
                raise Mismatch(f"pipeline {p.name}, output {k}: {msg}\n{case.text()}")
    if stats is not None:
        stats.add(case, env)
