"""Known differences from NumPy the fuzzer found and kiln has not settled yet: an op application
matching one of these is not added to a fuzzed graph. Remove an entry once it is fixed (the fuzz
test then covers the case again); each entry names where the fix lies and a minimal repro."""
from __future__ import annotations

from typing import Callable

from kiln.ir.types import TensorType

Pred = Callable[[str, list[TensorType], dict], bool]


def _axis_on_scalar(op: str, types: list[TensorType], attrs: dict) -> bool:
    return bool(types) and types[0].ndim == 0 and ("axis" in attrs or bool(attrs.get("axes")))


KNOWN: dict[str, tuple[str, Pred]] = {
    # NumPy lets some functions take axis 0 (or -1) of a 0-d array: np.argmax(0-d, axis=0) is 0,
    # np.take(0-d, [0], axis=0) is [x], np.cumsum(0-d, axis=0) has shape (1,). kiln's type rules
    # refuse take, concatenate, cumsum and reductions there with a ShapeError, and argmax/argmin
    # with "empty sequence"; following NumPy's special case is still open.
    "axis-on-0d": ("open (ir/ops/reduce.py argmax, index.py take)", _axis_on_scalar),
}


def known(op: str, types: list[TensorType], attrs: dict) -> str | None:
    for name, (_, pred) in KNOWN.items():
        if pred(op, types, attrs):
            return name
    return None


# Sums start from +0.0, so a float sum (or cumsum, matmul, scatter) of negative zeros is +0.0
# where NumPy gives -0.0 (IEEE's additive identity is -0.0): `sum(f32[1] [-0.0])` -> 0.0.
# Until the reductions start from -0.0 the fuzzer compares sums' zeros without their sign.
ZERO_SIGN_OF_SUMS = "open (codegen/reduce.py: the sum identity)"
