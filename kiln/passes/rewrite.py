"""Named rewrite rules applied to a fixed point.

A rule is registered for one or more ops under a rule set ("simplify", "fold", ...) with
its file:line, so dumps and logs can say which rule changed what. `rule(node, e)` sees the
node with its inputs already rewritten and returns a replacement Value (an existing one,
or one built with the Emitter `e`, whose nodes land just before the node) or None.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..ir.builder import Emitter
from ..ir.graph import Graph, Node, Value, make_node
from ..ir.opdef import get

log = logging.getLogger("kiln.passes.rewrite")
RuleFn = Callable[[Node, Emitter], "Value | None"]
MAX_ROUNDS = 8


@dataclass(frozen=True)
class Rule:
    name: str
    ops: tuple[str, ...]
    fn: RuleFn
    where: str  # file:line of the rule's definition

    def __str__(self) -> str:
        return f"{self.name} ({self.where})"


RULES: dict[str, list[Rule]] = {}
HITS: Counter[str] = Counter()  # rule name -> times it fired (process-wide, for reports)


def rule(rule_set: str, *ops: str, name: str | None = None) -> Callable[[RuleFn], RuleFn]:
    """Register `fn` in `rule_set` for `ops` (no ops: every op)."""
    def wrap(fn: RuleFn) -> RuleFn:
        code = fn.__code__
        where = f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}"
        RULES.setdefault(rule_set, []).append(Rule(name or fn.__name__, ops, fn, where))
        return fn
    return wrap


def rules_for(rule_set: str) -> dict[str | None, list[Rule]]:
    by_op: dict[str | None, list[Rule]] = {}
    for r in RULES.get(rule_set, []):
        for op in r.ops or (None,):
            by_op.setdefault(op, []).append(r)
    return by_op


def rewrite(g: Graph, rule_set: str) -> Graph:
    """Apply `rule_set` until nothing changes; returns `g` itself when no rule fired."""
    by_op = rules_for(rule_set)
    out = g
    for _ in range(MAX_ROUNDS):
        nxt = _round(out, by_op)
        if nxt is out:
            break
        out = nxt
    return out


def _round(g: Graph, by_op: dict[str | None, list[Rule]]) -> Graph:
    subst: dict[Value, Value] = {}
    nodes: list[Node] = []
    changed = False
    for node in g.nodes:
        n = node
        inputs = tuple(subst.get(v, v) for v in n.inputs)
        if inputs != n.inputs:
            n = copy_node(n, inputs, subst)
            changed = True
        fired = _apply(n, by_op, nodes)
        if fired is None:
            nodes.append(n)
        else:
            subst[node.out] = fired  # later uses name the original Value
            changed = True
    if not changed:
        return g
    return Graph(g.name, g.inputs, nodes, [subst.get(v, v) for v in g.outputs])


def copy_node(n: Node, inputs: tuple[Value, ...], subst: dict[Value, Value]) -> Node:
    """The node over new inputs, with fresh output Values (old graphs stay untouched)."""
    new = make_node(n.op, inputs, n.attrs, [v.type for v in n.outputs], n.loc)
    for old, v in zip(n.outputs, new.outputs):
        subst[old] = v
    return new


def _apply(n: Node, by_op: dict[str | None, list[Rule]], nodes: list[Node]) -> Value | None:
    if "effectful" in get(n.op).traits or len(n.outputs) != 1:
        return None
    for r in by_op.get(n.op, []) + by_op.get(None, []):
        staged: list[Node] = []
        value = r.fn(n, Emitter(_adder(staged, n)))
        if value is None:
            continue
        if value.type != n.out.type:
            raise AssertionError(f"rule {r} replaced {n.out.type} by {value.type}")
        nodes.extend(staged)
        HITS[r.name] += 1
        log.debug("rule %s rewrote %s at %s", r, n.op, n.loc)
        return value
    return None


def _adder(staged: list[Node], at: Node):
    def add(op: str, inputs: list, attrs: dict) -> list:
        types = get(op).infer([v.type for v in inputs], attrs)
        node = make_node(op, tuple(inputs), attrs, types, at.loc)
        staged.append(node)
        return list(node.outputs)
    return add


# pattern helpers shared by the rule sets ---------------------------------------------------------

def producer(v: Value, op: str) -> Node | None:
    """v's producing node when it is an `op` node."""
    p = v.producer
    return p if p is not None and p.op == op else None


def constant_of(v: Value) -> np.ndarray | None:
    """The value of v when it is a constant (possibly reshaped or broadcast), else None."""
    p = v.producer
    while p is not None and p.op in ("broadcast_to", "reshape") and p.inputs[0].type.size == 1:
        p = p.inputs[0].producer  # a one-element constant seen through any chain of these
    if p is None or p.op != "constant":
        return None
    value = np.asarray(p.attrs["value"])
    return value if p.out is v else np.broadcast_to(value.reshape(()), v.shape)


def is_splat(v: Value, x: float) -> bool:
    """Is v a constant whose every element equals x?"""
    c = constant_of(v)
    return c is not None and c.size > 0 and bool(np.all(c == x))
