"""THE op registry: one `defop` record per op, read by verify, fold, autodiff, lowering,
the printer/parser and the test suites. Nothing else is edited to add an op.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import DTypeError, ShapeError
from .dtypes import DType
from .types import TensorType

Rule = Callable[..., Any]


@dataclass(frozen=True)
class OpDef:
    """An op: type rules, NumPy reference, gradient, and exactly one lowering form.

    Lowering forms: `scalar(b, *xs)` for elementwise ops; `index(b, node, ix) -> ix_in`
    for movement ops (a view of input 0); `emit(b, node, ix, operand)` for ops whose point
    value needs computed indices (gather, pad, concat); `reduce(b, node, ix, rix, operand)`
    with `rshape(node)` and `combiner` for reductions; `kernels(...)` for ops that write
    their output by scatter.
    """

    name: str
    shape: Rule
    dtype: Rule
    ref: Callable | None = None
    grad: Callable | None = None
    scalar: Callable | None = None
    index: Callable | None = None
    emit: Callable | None = None
    reduce: Callable | None = None
    rshape: Callable | None = None
    combiner: str | Callable | None = None
    scatter: Callable | None = None
    traits: frozenset[str] = field(default_factory=frozenset)
    attrs: tuple[str, ...] = ()

    def infer(self, types: list[TensorType], attrs: dict[str, Any]) -> list[TensorType]:
        """Result types; rules raise ShapeError/DTypeError naming this op."""
        try:
            shape = self.shape(types, **attrs)
            dtype = self.dtype(types, **attrs)
        except (ShapeError, DTypeError) as e:
            raise e.at(self.name, None)
        if dtype is None:
            return []
        return [TensorType(tuple(int(n) for n in shape), dtype)]


REGISTRY: dict[str, OpDef] = {}


def defop(name: str, **fields: Any) -> OpDef:
    """Register an op once; a second definition of the same name is a bug."""
    assert name not in REGISTRY, f"op {name} defined twice"
    fields["traits"] = frozenset(fields.get("traits", ()))
    op = OpDef(name=name, **fields)
    REGISTRY[name] = op
    return op


def get(name: str) -> OpDef:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}") from None


# --- shared type rules -------------------------------------------------------------------

def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting of shapes; ShapeError names every shape when they clash."""
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(nd):
        sizes = {s[d - nd + len(s)] for s in shapes if d - nd + len(s) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            raise ShapeError("operands could not be broadcast together with shapes "
                             + " ".join(str(tuple(s)) for s in shapes))
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_shape(types: list[TensorType], **_: Any) -> tuple[int, ...]:
    return broadcast_shapes(*[t.shape for t in types])


def same_dtype(types: list[TensorType], **_: Any) -> DType:
    """Operands of an elementwise IR op share one dtype (the frontend promotes first)."""
    ds = {t.dtype for t in types}
    if len(ds) != 1:
        raise DTypeError("operands must share one dtype, got " + ", ".join(str(t.dtype) for t in types))
    return types[0].dtype


def norm_axis(axis: int, ndim: int) -> int:
    if not isinstance(axis, (int, np.integer)):
        raise ShapeError(f"axis {axis!r} is not an integer")
    if not -ndim <= axis < max(ndim, 1):
        raise ShapeError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    return axis % max(ndim, 1)
