"""The "grad" graph pass (`python -m kiln opt --passes=grad`) and the backward driver."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import kiln as kn
from kiln.frontend.compile import compile_graph
from kiln.ir.parser import parse
from kiln.ir.printer import print_graph
from kiln.ir.verify import verify
from kiln.passes import PASSES

TEXT = """func @f(%0: f64[2,3], %1: f64[3], %2: i64[2]) {
  %3 = multiply %0, %1 : f64[2,3]
  %4 = tanh %3 : f64[2,3]
  %5 = sum %4 {axes=(0, 1), keepdims=false} : f64[]
  return %5
}
"""


def test_grad_pass_appends_gradients_of_every_float_arg() -> None:
    g = PASSES["grad"](verify(parse(TEXT)))
    verify(g)
    assert [str(v.type) for v in g.outputs] == ["f64[]", "f64[2,3]", "f64[3]"]
    assert print_graph(parse(print_graph(g))) == print_graph(g)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=3)
    val, ga, gb = compile_graph(g).executable([a, b, np.zeros(2, np.int64)], [])
    d = 1 - np.tanh(a * b) ** 2
    np.testing.assert_allclose(val, np.tanh(a * b).sum())
    np.testing.assert_allclose(ga, d * b)
    np.testing.assert_allclose(gb, (d * a).sum(0))


def test_grad_pass_gives_zeros_for_unconnected_args_and_keeps_assigns_last() -> None:
    w = kn.Variable(np.array([1.0, 2.0]))

    def f(x, unused):
        w.assign_add(1.0)
        return kn.sum(x * x)
    graph = kn.jit(f).trace(np.array([1.0, 3.0]), np.array(2.0)).graph
    g = PASSES["grad"](graph)
    verify(g)
    assert g.nodes[-1].op == "assign"
    outs = compile_graph(g).executable([np.array([1.0, 3.0]), np.array(2.0)], [w.data])
    np.testing.assert_allclose(outs[1], [2.0, 6.0])
    np.testing.assert_allclose(outs[2], 0.0)
    np.testing.assert_allclose(w.numpy(), [2.0, 3.0])


def test_grad_pass_needs_a_float_scalar_output() -> None:
    with pytest.raises(ValueError, match="float scalar"):
        PASSES["grad"](parse(TEXT.replace("return %5", "return %4")))


def test_kiln_opt_cli(tmp_path) -> None:
    path = tmp_path / "f.kir"
    path.write_text(TEXT)
    out = subprocess.run([sys.executable, "-m", "kiln", "opt", "--passes=grad", str(path)],
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[0] == TEXT.splitlines()[0]
    ret = out.strip().splitlines()[-2].strip()
    assert ret.startswith("return %5, ") and len(ret.split(",")) == 3
