"""Reverse-mode autodiff as a graph transformation: `backward` walks nodes in reverse and
emits each op's registry VJP; the "grad" pass appends gradients to a graph. Imports ir only.

The driver owns what every rule would otherwise repeat: summing cotangents of values used
more than once, summing gradients back over broadcast dimensions, skipping integer and bool
values, and pruning nodes that do not depend on a source.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..ir.builder import Emitter, node_adder
from ..ir.graph import Graph
from ..ir.opdef import get
from .manager import graph_pass

AddFn = Callable[[str, list, dict], list]


def _float(v: Any) -> bool:
    return v.dtype.is_float


def depends_on(nodes: Sequence[Any], sources: Sequence[Any]) -> set[int]:
    """ids of the float values (sources included) that some float source flows into."""
    live = {id(s) for s in sources if s is not None and _float(s)}
    for n in nodes:
        if any(id(x) in live for x in n.inputs) and get(n.op).grad is not None:
            live.update(id(y) for y in n.outputs if _float(y))
    return live


def backward(nodes: Sequence[Any], target: Any, sources: Sequence[Any], emit_add: AddFn,
             seed: Any = None) -> list[Any | None]:
    """Cotangents of `sources` for `target` (a value or a list of values, summed), or None
    where a source does not reach it.

    `nodes` are in topological order; any objects with `op`, `inputs`, `attrs`, `outputs`
    work (graph Nodes, or eager records of concrete arrays when `emit_add` runs ops eagerly).
    `seed` is the target's cotangent (ones when None; one per target for a list). A rule of
    an op with several outputs receives tuples of cotangents and outputs.
    """
    e = Emitter(emit_add)
    targets = list(target) if isinstance(target, (list, tuple)) else [target]
    seeds = list(seed) if isinstance(seed, (list, tuple)) else [seed] * len(targets)
    live = depends_on(nodes, sources)
    ct: dict[int, Any] = {}
    for t, s in zip(targets, seeds):
        if id(t) in live:
            _accumulate(e, ct, t, e.ones_like(t) if s is None else s)
    for node in reversed(nodes):
        if not any(id(y) in ct for y in node.outputs):
            continue
        rule = get(node.op).grad
        if rule is None or not any(id(x) in live for x in node.inputs):
            continue
        if len(node.outputs) == 1:
            g, y = ct[id(node.outputs[0])], node.outputs[0]
        else:  # NOTE: multi-output rules get tuples; outputs without a cotangent get zeros
            y = tuple(node.outputs)
            g = tuple(ct.get(id(v)) if id(v) in ct or not _float(v) else e.zeros_like(v) for v in y)
        dxs = rule(e, g, y, *node.inputs, **node.attrs)
        for x, dx in zip(node.inputs, dxs):
            if dx is not None and id(x) in live:
                _accumulate(e, ct, x, e.unbroadcast(dx, tuple(x.shape)))
    return [ct.get(id(s)) if s is not None else None for s in sources]


def _accumulate(e: Emitter, ct: dict[int, Any], x: Any, g: Any) -> None:
    # NOTE: rules must return cotangents of the input's dtype; a mismatch is a rule bug.
    if g.dtype != x.dtype:
        raise TypeError(f"gradient of dtype {g.dtype} for a value of dtype {x.dtype}")
    prev = ct.get(id(x))
    ct[id(x)] = g if prev is None else e.add(prev, g)


@graph_pass("grad")
def grad_pass(g: Graph) -> Graph:
    """Outputs := the original outputs, then d(first output)/d(arg) for every float arg."""
    if not g.outputs or g.outputs[0].shape != () or not _float(g.outputs[0]):
        raise ValueError(f"pass 'grad': @{g.name}'s first output must be a float scalar, got "
                         + (str(g.outputs[0].type) if g.outputs else "no outputs"))
    # NOTE: state writes stay last so the backward nodes read the values from before them.
    body = [n for n in g.nodes if n.op != "assign"]
    writes = [n for n in g.nodes if n.op == "assign"]
    new = list(body)
    add = node_adder(new)
    args = [v for v in g.args if _float(v)]
    grads = backward(body, g.outputs[0], args, add)
    e = Emitter(add)
    grads = [d if d is not None else e.zeros_like(a) for a, d in zip(args, grads)]
    return Graph(g.name, g.inputs, new + writes, list(g.outputs) + grads)
