"""Pytrees: nested tuples, namedtuples, lists and dicts of leaves, flattened with a hashable
structure that rebuilds the same containers: a namedtuple stays its own type and a dict keeps
its key order (so the structure, and a compiled function's signature, tell them apart)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator

Treedef = tuple


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and isinstance(getattr(type(x), "_fields", None), tuple)


def flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, Treedef]:
    leaves: list = []

    def walk(x):
        if is_leaf is not None and is_leaf(x):
            leaves.append(x)
            return ("*",)
        if _is_namedtuple(x):
            return ("namedtuple", type(x), tuple(walk(v) for v in x))
        if isinstance(x, (tuple, list)):
            return ("tuple" if isinstance(x, tuple) else "list", tuple(walk(v) for v in x))
        if isinstance(x, dict):
            keys = tuple(x)  # insertion order: the rebuilt dict iterates as the user's did
            kind = "ordereddict" if isinstance(x, OrderedDict) else "dict"
            return (kind, keys, tuple(walk(x[k]) for k in keys))
        if x is None:
            return ("none",)
        leaves.append(x)
        return ("*",)
    return leaves, walk(tree)


def unflatten(treedef: Treedef, leaves: list) -> Any:
    return _build(treedef, iter(leaves))


def _build(t: Treedef, it: Iterator) -> Any:
    """Module-level (no closure cycle), so results are freed as soon as the caller drops them."""
    kind = t[0]
    if kind == "*":
        return next(it)
    if kind == "none":
        return None
    if kind in ("dict", "ordereddict"):
        items = [(k, _build(s, it)) for k, s in zip(t[1], t[2])]
        return OrderedDict(items) if kind == "ordereddict" else dict(items)
    if kind == "namedtuple":
        return t[1](*[_build(s, it) for s in t[2]])
    items = [_build(s, it) for s in t[1]]
    return tuple(items) if kind == "tuple" else items


def tree_map(fn: Callable, tree: Any) -> Any:
    leaves, td = flatten(tree)
    return unflatten(td, [fn(x) for x in leaves])
