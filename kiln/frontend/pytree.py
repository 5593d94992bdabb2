"""Pytrees: nested tuples, lists and dicts of leaves, flattened with a hashable structure."""
from __future__ import annotations

from typing import Any, Callable, Iterator

Treedef = tuple


def flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, Treedef]:
    leaves: list = []

    def walk(x):
        if is_leaf is not None and is_leaf(x):
            leaves.append(x)
            return ("*",)
        if isinstance(x, (tuple, list)):
            return (type(x).__name__, tuple(walk(v) for v in x))
        if isinstance(x, dict):
            keys = sorted(x, key=repr)
            return ("dict", tuple(keys), tuple(walk(x[k]) for k in keys))
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
    if kind == "dict":
        return {k: _build(s, it) for k, s in zip(t[1], t[2])}
    items = [_build(s, it) for s in t[1]]
    return tuple(items) if kind == "tuple" else items


def tree_map(fn: Callable, tree: Any) -> Any:
    leaves, td = flatten(tree)
    return unflatten(td, [fn(x) for x in leaves])
