"""Containers keep their types through kn.jit, kn.grad and GradientTape: namedtuples stay
namedtuples (arguments and results), dicts keep their key order, tuples stay tuples and lists
lists; the jit signature tells two namedtuple types apart."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

import kiln as kn
from kiln.frontend import pytree

Point = namedtuple("Point", "x y")
Other = namedtuple("Other", "x y")


def test_flatten_round_trips_every_container() -> None:
    tree = {"b": Point(1, [2, (3,)]), "a": OrderedDict(z=4, y=None), "c": (5, [6])}
    leaves, td = pytree.flatten(tree)
    assert leaves == [1, 2, 3, 4, 5, 6]
    back = pytree.unflatten(td, leaves)
    assert back == tree and list(back) == ["b", "a", "c"]
    assert type(back["b"]) is Point and type(back["b"].y[1]) is tuple and type(back["a"]) is OrderedDict
    assert pytree.flatten(Point(1, 2))[1] != pytree.flatten(Other(1, 2))[1] != pytree.flatten((1, 2))[1]


def test_namedtuple_argument_and_result_through_jit() -> None:
    seen = []

    @kn.jit
    def step(p, d):
        seen.append((type(p), list(d)))
        return Point(p.x + p.y, p.x), {"z": d["z"] * 2, "a": d["a"]}, [p.y]

    out = step(Point(np.ones(2), np.full(2, 2.0)), {"z": np.ones(1), "a": np.zeros(1)})
    assert seen == [(Point, ["z", "a"])]
    assert type(out) is tuple and type(out[0]) is Point and type(out[2]) is list
    assert list(out[1]) == ["z", "a"]
    np.testing.assert_array_equal(np.asarray(out[0].x), [3.0, 3.0])
    step(Other(np.ones(2), np.ones(2)), {"z": np.ones(1), "a": np.zeros(1)})
    assert step.trace_count == 2 and seen[1][0] is Other  # another namedtuple type retraces


def test_namedtuple_through_grad_and_tape() -> None:
    g = kn.grad(lambda p: kn.sum(p.x * p.y))(Point(np.ones(2), np.full(2, 3.0)))
    assert type(g) is Point
    np.testing.assert_array_equal(np.asarray(g.x), [3.0, 3.0])
    x = kn.asarray(np.ones(2))
    with kn.GradientTape() as tape:
        tape.watch(x)
        y = kn.sum(x * x)
    assert type(tape.gradient(y, Point(x, x))) is Point
