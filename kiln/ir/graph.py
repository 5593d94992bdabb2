"""The graph IR: SSA Values produced by Nodes, collected in a Graph.

A Graph's inputs are arguments (`role="arg"`) or Variables captured by reference
(`role="state"`); `assign` nodes write new state. Graphs are built once, then treated
as immutable: passes return new Graphs.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Iterator

from .types import TensorType

_ids = itertools.count()


@dataclass(frozen=True)
class Loc:
    """Where the user's code created a node."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(eq=False)
class Value:
    """One SSA value; identity is the object (names are assigned when printing)."""

    type: TensorType
    producer: "Node | None" = None
    role: str = "tmp"  # "arg", "state" (graph inputs) or "tmp"
    name: str | None = None  # state inputs: the Variable's name, for printing
    uid: int = field(default_factory=lambda: next(_ids))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self):
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return len(self.type.shape)

    def __repr__(self) -> str:
        return f"Value#{self.uid}:{self.type}"


@dataclass(eq=False)
class Node:
    op: str
    inputs: tuple[Value, ...]
    attrs: dict[str, Any]
    outputs: tuple[Value, ...]
    loc: Loc | None = None

    @property
    def out(self) -> Value:
        return self.outputs[0]

    def __repr__(self) -> str:
        return f"Node({self.op}, {self.attrs})"


@dataclass(eq=False)
class Graph:
    name: str
    inputs: list[Value]
    nodes: list[Node]
    outputs: list[Value]

    @property
    def args(self) -> list[Value]:
        return [v for v in self.inputs if v.role == "arg"]

    @property
    def states(self) -> list[Value]:
        return [v for v in self.inputs if v.role == "state"]

    def users(self) -> dict[Value, list[Node]]:
        out: dict[Value, list[Node]] = {}
        for n in self.nodes:
            for v in n.inputs:
                out.setdefault(v, []).append(n)
        return out

    def walk(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __str__(self) -> str:
        from .printer import print_graph

        return print_graph(self)


def make_node(op: str, inputs: tuple[Value, ...], attrs: dict[str, Any], out_types: list[TensorType],
              loc: Loc | None = None) -> Node:
    """Create a node and its output Values (the shape/dtype rules ran before this)."""
    node = Node(op, tuple(inputs), dict(attrs), (), loc)
    node.outputs = tuple(Value(t, node) for t in out_types)
    return node
