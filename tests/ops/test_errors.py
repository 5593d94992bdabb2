"""Shape errors name the op and the offending shapes, and under jit the user's file:line.

Data-dependent ops (boolean_mask, one-argument where) work eagerly and raise kn.ShapeError
inside a compiled function.
"""
from __future__ import annotations

import inspect
import os
import re

import numpy as np
import pytest

from .harness import kn

HERE = os.path.basename(__file__)


def _shape_texts(shape: tuple[int, ...]) -> list[str]:
    """The ways a message may spell a shape: (2, 3) [2, 3] (2,3) [2,3] 2x3 f32[2,3]."""
    inner = [", ".join(map(str, shape)), ",".join(map(str, shape))]
    out = [f"({s}{',' if len(shape) == 1 else ''})" for s in inner] + [f"[{s}]" for s in inner]
    out += [f"({s})" for s in inner] + ["x".join(map(str, shape))]
    return out


def assert_names(msg: str, op: str, *shapes: tuple[int, ...]) -> None:
    assert re.search(rf"\b{re.escape(op)}\b", msg), f"message does not name the op {op!r}: {msg}"
    for s in shapes:
        assert any(t in msg for t in _shape_texts(s)), f"message does not show the shape {s}: {msg}"


def assert_location(msg: str, line: int) -> None:
    assert HERE in msg, f"message does not name the user's file {HERE}: {msg}"
    assert f"{HERE}:{line}" in msg or re.search(rf"\bline {line}\b", msg), \
        f"message does not give the user's line {line}: {msg}"


def _line_of(fn, needle: str) -> int:
    """Line number of the first source line of fn containing needle."""
    lines, start = inspect.getsourcelines(fn)
    for i, text in enumerate(lines):
        if needle in text:
            return start + i
    raise AssertionError(f"{needle!r} not in {fn.__name__}")


# Each entry: op name, a call that must raise ShapeError, and the shapes the message must show.
MISMATCHES = {
    "add": (lambda a, b: kn.add(a, b), (2, 3), (4,)),
    "multiply": (lambda a, b: kn.multiply(a, b), (5, 1, 3), (2, 4)),
    "matmul": (lambda a, b: kn.matmul(a, b), (2, 3), (4, 5)),
    "matmul_batch": (lambda a, b: kn.matmul(a, b), (2, 3, 4), (5, 4, 2)),
}


def _args(sa, sb):
    return np.ones(sa, np.float32), np.ones(sb, np.float32)


@pytest.mark.parametrize("key", list(MISMATCHES))
def test_shape_mismatch_eager(key: str) -> None:
    call, sa, sb = MISMATCHES[key]
    with pytest.raises(kn.ShapeError) as info:
        call(*_args(sa, sb))
    assert_names(str(info.value), key.split("_")[0], sa, sb)


def test_add_shape_mismatch_under_jit_names_user_line() -> None:
    def g(a, b):
        c = a * 2.0
        return kn.add(c, b)  # the offending line

    with pytest.raises(kn.ShapeError) as info:
        kn.jit(g)(np.ones((2, 3), np.float32), np.ones((4,), np.float32))
    msg = str(info.value)
    assert_names(msg, "add", (2, 3), (4,))
    assert_location(msg, _line_of(g, "the offending line"))


def test_operator_shape_mismatch_under_jit_names_user_line() -> None:
    def g(a, b):
        return a + b  # offending operator

    with pytest.raises(kn.ShapeError) as info:
        kn.jit(g)(np.ones((3,), np.float32), np.ones((2, 2), np.float32))
    msg = str(info.value)
    assert_names(msg, "add", (3,), (2, 2))
    assert_location(msg, _line_of(g, "offending operator"))


def test_matmul_inner_dims_under_jit() -> None:
    def g(a, b):
        h = a @ b  # offending matmul
        return h

    with pytest.raises(kn.ShapeError) as info:
        kn.jit(g)(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))
    msg = str(info.value)
    assert_names(msg, "matmul", (2, 3), (4, 5))
    assert_location(msg, _line_of(g, "offending matmul"))


def test_matmul_function_inner_dims_under_jit() -> None:
    def g(a, b):
        return kn.matmul(a, b)  # offending kn.matmul

    with pytest.raises(kn.ShapeError) as info:
        kn.jit(g)(np.ones((7, 3)), np.ones((2,)))
    msg = str(info.value)
    assert_names(msg, "matmul", (7, 3), (2,))
    assert_location(msg, _line_of(g, "offending kn.matmul"))


OTHER_SHAPE_ERRORS = {
    "reshape": lambda: kn.reshape(np.ones((2, 3)), (4,)),
    "broadcast_to": lambda: kn.broadcast_to(np.ones((3,)), (2, 4)),
    "concatenate": lambda: kn.concatenate([np.ones((2, 3)), np.ones((2, 4))], axis=0),
    "stack": lambda: kn.stack([np.ones((2,)), np.ones((3,))]),
    "transpose": lambda: kn.transpose(np.ones((2, 3)), (0, 2)),
    "sum": lambda: kn.sum(np.ones((2, 3)), axis=2),
    "split": lambda: kn.split(np.ones((5,)), 2),
}


@pytest.mark.parametrize("op", list(OTHER_SHAPE_ERRORS))
def test_other_shape_errors_eager(op: str) -> None:
    with pytest.raises(kn.ShapeError) as info:
        OTHER_SHAPE_ERRORS[op]()
    assert op in str(info.value), f"ShapeError does not name {op}: {info.value}"


# --- data-dependent output shapes -------------------------------------------------------------

def test_boolean_mask_eager_matches_numpy() -> None:
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    m = np.array([True, False, True])
    out = kn.boolean_mask(x, m)
    assert isinstance(out, kn.Array)
    np.testing.assert_array_equal(np.asarray(out), x[m])
    np.testing.assert_array_equal(np.asarray(kn.boolean_mask(x, x > 5)), x[x > 5])


def test_where_one_argument_eager_matches_numpy() -> None:
    c = np.array([[0, 1, 0], [1, 1, 0]], np.int32) > 0
    out = kn.where(c)
    assert len(out) == 2
    for got, want in zip(out, np.nonzero(c)):
        np.testing.assert_array_equal(np.asarray(got), want)


def test_boolean_mask_under_jit_raises() -> None:
    def g(x, m):
        return kn.boolean_mask(x, m)  # offending mask

    with pytest.raises(kn.ShapeError) as info:
        kn.jit(g)(np.ones((3, 2), np.float32), np.array([True, False, True]))
    assert "boolean_mask" in str(info.value)
    assert_location(str(info.value), _line_of(g, "offending mask"))


def test_where_one_argument_under_jit_raises() -> None:
    def g(c):
        return kn.where(c)  # offending where

    with pytest.raises(kn.ShapeError) as info:
        kn.jit(g)(np.array([True, False, True]))
    assert "where" in str(info.value)
    assert_location(str(info.value), _line_of(g, "offending where"))


def test_three_argument_where_under_jit_is_fine() -> None:
    out = kn.jit(lambda c, x: kn.where(c, x, 0.0))(np.array([True, False]), np.array([1.5, 2.5], np.float32))
    np.testing.assert_array_equal(np.asarray(out), np.array([1.5, 0.0], np.float32))
