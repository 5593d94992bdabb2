"""Verifier: every value defined before use, every node's types re-inferred from the registry."""
from __future__ import annotations

from ..errors import KilnError
from .graph import Graph
from .opdef import get


class VerifyError(KilnError, AssertionError):
    """The graph breaks an IR invariant (a compiler bug, not a user error)."""


def verify(g: Graph) -> Graph:
    defined = set(g.inputs)
    for i, n in enumerate(g.nodes):
        for v in n.inputs:
            if v not in defined:
                raise VerifyError(f"node {i} ({n.op}) uses a value defined later or elsewhere: {v}")
        inferred = get(n.op).infer([v.type for v in n.inputs], n.attrs)
        if inferred != [v.type for v in n.outputs]:
            raise VerifyError(f"node {i} ({n.op}) declares {[str(v.type) for v in n.outputs]}, "
                              f"registry infers {[str(t) for t in inferred]}")
        for v in n.outputs:
            if v.producer is not n:
                raise VerifyError(f"node {i} ({n.op}) output {v} has another producer")
        if n.op == "assign" and n.inputs[0].role != "state":
            raise VerifyError(f"node {i}: assign to a value that is not a state input")
        defined.update(n.outputs)
    for v in g.outputs:
        if v not in defined:
            raise VerifyError(f"graph output {v} is not defined")
    return g
