"""A traced kn.Tensor used outside the trace that made it (stored on self or in a global, then
used by another jitted function, eagerly, or after its trace ended) raises kn.TraceError that
says a tracer leaked, names the function whose trace made it and the user's line; never an
AttributeError or a wrong graph."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn


class Leaky(kn.nn.Module):
    def forward(self, x, training=False):
        self.saved = x * 2  # the classic leak: a traced value kept on the module
        return x + 1


@pytest.fixture
def leaked():
    m = Leaky()
    kn.jit(m)(np.ones(3, np.float32))
    return m.saved


VAR = kn.Variable(np.ones(3, np.float32))
USES = {
    "another jit, op": lambda t: kn.jit(lambda x: x + t)(np.ones(3, np.float32)),
    "another jit, method": lambda t: kn.jit(lambda x: t.sum() + x)(np.ones(3, np.float32)),
    "another jit, np.sum": lambda t: kn.jit(lambda x: np.sum(t) + x)(np.ones(3, np.float32)),
    "another jit, assign": lambda t: kn.jit(lambda x: VAR.assign(t))(np.ones(3)),
    "grad": lambda t: kn.grad(lambda x: kn.sum(x * t))(np.ones(3, np.float32)),
    "eager op": lambda t: kn.exp(t),
    "eager operator": lambda t: t * 3,
    "eager method": lambda t: t.reshape(3, 1),
    "eager index": lambda t: t[0],
    "np.asarray": lambda t: np.asarray(t),
    "np.mean": lambda t: np.mean(t),
    "float": lambda t: float(t),
    "bool": lambda t: bool(t),
    "numpy()": lambda t: t.numpy(),
    "Variable.assign": lambda t: VAR.assign(t),
    "jit argument": lambda t: kn.jit(lambda x: x)(t),
}


@pytest.mark.parametrize("use", sorted(USES))
def test_a_leaked_tracer_is_named_at_every_entry_point(leaked, use: str) -> None:
    message = r"leaked tracer: .* made while tracing 'Leaky'.*\(at test_tracer_leaks.py:\d+\)"
    with pytest.raises(kn.TraceError, match=message):
        USES[use](leaked)


def test_an_argument_tracer_leaked_from_one_function_into_another() -> None:
    store = []

    @kn.jit
    def first(x):
        store.append(x)
        return x + 1

    @kn.jit
    def second(x):
        return x * store[0]

    first(np.ones(2))
    with pytest.raises(kn.TraceError, match="made while tracing 'first' is used while tracing 'second'"):
        second(np.ones(2))


def test_a_branch_on_a_tracer_in_its_own_trace_names_cond() -> None:
    with pytest.raises(kn.TraceError, match="kn.cond"):
        kn.jit(lambda x: x if x.sum() > 0 else -x)(np.ones(2))


def test_nested_jit_and_grad_inside_jit_are_not_leaks() -> None:
    inner = kn.jit(lambda x: x * 2)

    @kn.jit
    def outer(x):
        return kn.grad(lambda y: kn.sum(inner(y) ** 2))(x) + inner(x)
    np.testing.assert_allclose(np.asarray(outer(np.ones(2))), np.full(2, 10.0))


def test_an_argument_stored_but_unused_in_its_own_trace_is_still_caught() -> None:
    store = []
    kn.jit(lambda x, y: store.append(x) or y)(np.ones(2), np.ones(2))
    with pytest.raises(kn.TraceError, match="leaked tracer"):
        kn.jit(lambda x: x + store[0])(np.ones(2))
