"""Emitter: builds registry ops through any `add(op, inputs, attrs) -> outputs` callable.

Gradient rules are written against it, so the same rule emits nodes into a trace, into a
plain node list (graph passes) or runs ops eagerly. Imports numpy and ir only.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .dtypes import DType
from .graph import Node, make_node
from .opdef import REGISTRY, broadcast_shapes, get

AddFn = Callable[[str, list, dict], list]


class Emitter:
    """`e.<registry op>(*values, **attrs)` returns the op's single output value."""

    def __init__(self, add: AddFn):
        self._add = add

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in REGISTRY:
            raise AttributeError(f"Emitter has no op {name!r}")

        def op(*values: Any, **attrs: Any) -> Any:
            outs = self._add(name, list(values), attrs)
            return outs[0] if outs else None
        op.__name__ = name
        return op

    # helpers ---------------------------------------------------------------------------------
    def const(self, value: Any, dtype: DType) -> Any:
        """A 0-d (or literal-shaped) constant of exactly `dtype` (IR ops do not promote)."""
        return self._add("constant", [], {"value": np.asarray(value, dtype=dtype.np)})[0]

    def full(self, shape: tuple[int, ...], value: Any, dtype: DType) -> Any:
        return self.broadcast(self.const(value, dtype), tuple(shape))

    def zeros_like(self, v: Any) -> Any:
        return self.full(tuple(v.shape), 0, v.dtype)

    def ones_like(self, v: Any) -> Any:
        return self.full(tuple(v.shape), 1, v.dtype)

    def reshape_to(self, v: Any, shape: tuple[int, ...]) -> Any:
        shape = tuple(shape)
        return v if tuple(v.shape) == shape else self.reshape(v, shape=shape)

    def broadcast(self, v: Any, shape: tuple[int, ...]) -> Any:
        shape = tuple(shape)
        return v if tuple(v.shape) == shape else self.broadcast_to(v, shape=shape)

    def transpose_to(self, v: Any, perm: tuple[int, ...]) -> Any:
        perm = tuple(perm)
        return v if perm == tuple(range(len(perm))) else self.transpose(v, perm=perm)

    def unbroadcast(self, g: Any, shape: tuple[int, ...]) -> Any:
        """Sum `g` over the dimensions that broadcasting added or stretched, giving `shape`."""
        shape = tuple(shape)
        if tuple(g.shape) == shape:
            return g
        full = broadcast_shapes(tuple(g.shape), shape)
        g = self.broadcast(g, full)
        lead = len(full) - len(shape)
        stretched = tuple(lead + d for d, n in enumerate(shape) if n == 1 and full[lead + d] != 1)
        axes = tuple(range(lead)) + stretched
        if axes:
            g = self.sum(g, axes=axes, keepdims=False)
        return self.reshape_to(g, shape)


def node_adder(nodes: list[Node], loc: Any = None) -> AddFn:
    """An `add` that type-checks through the registry and appends the node to `nodes`."""
    def add(op: str, inputs: list, attrs: dict) -> list:
        types = get(op).infer([v.type for v in inputs], attrs)
        node = make_node(op, tuple(inputs), attrs, types, loc)
        nodes.append(node)
        return list(node.outputs)
    return add
