"""Known bugs the fuzzer found that another part of issue 15 fixes: an op application matching
one of these is not added to a fuzzed graph. Remove an entry once its fix is merged (the fuzz
test then covers the case again); each entry names the owner and a minimal repro."""
from __future__ import annotations

from typing import Callable

from kiln.ir.types import TensorType

Pred = Callable[[str, list[TensorType], dict], bool]


def _axis_on_scalar(op: str, types: list[TensorType], attrs: dict) -> bool:
    return bool(types) and types[0].ndim == 0 and ("axis" in attrs or bool(attrs.get("axes")))


KNOWN: dict[str, tuple[str, Pred]] = {
    # opdef.norm_axis accepts axis 0 for a 0-d operand: the take and concatenate type rules then
    # raise a raw IndexError (`take(f32[], i32[1], axis=0)`), sum/max/... over axes=(0,) of a
    # 0-d array succeed where NumPy raises AxisError, cumsum keeps shape () where NumPy gives (1,).
    "axis-on-0d": ("lead (ir/opdef.py norm_axis; index.py, shape.py type rules)", _axis_on_scalar),
    # scatter_nd of bool updates: the accumulating store adds an i1 to the i8 in memory and
    # llvmlite raises "Operands must be the same type, got (i8, i1)" at codegen.
    "scatter-bool": ("index (codegen/cpu.py store, ir/ops/index.py)",
                     lambda op, t, a: op == "scatter_nd" and t[1].dtype.is_bool),
    # scatter_nd with index rows of length 0 (`indices: i32[0]`): the reference's np.add.at(out, (), upd)
    # raises "array is not broadcastable to correct shape".
    "scatter-m0": ("index (ir/ops/index.py _scatter_nd_ref)", lambda op, t, a: op == "scatter_nd" and
                   t[0].ndim > 0 and t[0].shape[-1] == 0),
    # pad of a 0-d array (pads=()): the type rule accepts it, NumPy's np.pad raises TypeError.
    "pad-0d": ("lead (ir/ops/shape.py pad)", lambda op, t, a: op == "pad" and t[0].ndim == 0),
    # iota's type rule never checks `axis`: iota{shape=(2,), axis=-1} makes a graph whose
    # reference fails, axis=3 one whose codegen raises IndexError.
    "iota-axis": ("lead (ir/ops/shape.py iota)", lambda op, t, a: op == "iota" and
                  not 0 <= a["axis"] < len(a["shape"])),
    # matmul of bool operands: the IR type rule accepts it (the frontend refuses it), and the
    # sum combiner adds i1 values, i.e. XORs them: bool[1,2] @ bool[2,1] of all True gives False
    # (NumPy: True). Either the rule refuses bool or the bool sum is an OR.
    "matmul-bool": ("lead (ir/ops/linalg.py type rule, or codegen/reduce.py _combine)",
                    lambda op, t, a: op == "matmul" and t[0].dtype.is_bool),
    # gather_nd from a size-0 dim with indices to read: the type rule accepts it (take's refuses,
    # NumPy raises IndexError) and the compiled code clamps the index into an empty buffer and
    # reads past it: gather_nd(i32[1,0,5,1], i64[1,4] [[0,0,-4,0]]).
    "gather-empty-dim": ("index (ir/ops/index.py _gather_nd_shape)", lambda op, t, a: op == "gather_nd" and
                         t[1].ndim > 0 and 0 in t[0].shape[:t[1].shape[-1]] and t[1].size > 0),
}


def known(op: str, types: list[TensorType], attrs: dict) -> str | None:
    for name, (_, pred) in KNOWN.items():
        if pred(op, types, attrs):
            return name
    return None


# Sums start from +0.0, so a float sum (or cumsum, matmul, scatter) of negative zeros is +0.0
# where NumPy gives -0.0 (IEEE's additive identity is -0.0): `sum(f32[1] [-0.0])` -> 0.0.
# Until the reductions start from -0.0 the fuzzer compares sums' zeros without their sign.
ZERO_SIGN_OF_SUMS = "reduce (codegen/reduce.py: the sum identity)"
