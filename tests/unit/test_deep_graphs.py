"""Deep graphs compile at Python's default recursion limit: every walk of a graph or a kernel
body is iterative, and fusion cuts a chain deeper than FusionPolicy.max_depth into kernels of
bounded depth whose results are bit for bit those of the uncut chain. A crash would take the
process down, so the compiled chains run in a subprocess that must exit cleanly."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from unittest import mock

import numpy as np
from llvmlite import ir

from kiln.codegen.scalar import ScalarEmitter
from kiln.frontend import compile as kc
from kiln.ir import dtypes as dt
from kiln.ir.kernel import KernelBuilder, Store, body_size, format_kernel, make_kernel, retarget
from kiln.ir.parser import parse
from kiln.ir.printer import print_graph
from kiln.ir.verify import verify
from kiln.passes import FusionPolicy, lower, run_pipeline
from kiln.passes.coalesce import coalesce

CHAIN = textwrap.dedent("""
    import sys
    import numpy as np
    import kiln as kn

    assert sys.getrecursionlimit() == 1000
    N = 20_000
    UNARY = (kn.sin, kn.negative, kn.abs, kn.tanh, kn.sqrt)
    UNARY_NP = (np.sin, np.negative, np.abs, np.tanh, np.sqrt)

    def affine(x):
        for _ in range(N):
            x = x * 1.0001 + 0.5
        return kn.sum(x)

    def mixed(x):
        for i in range(1_000):
            x = UNARY[i % 5](x) + 0.25
        return x

    x = np.linspace(-1, 1, 8).astype(np.float32)
    value, grad = kn.jit(kn.value_and_grad(affine))(x)
    ref, slope = x.copy(), np.float32(1)
    for _ in range(N):
        ref = ref * np.float32(1.0001) + np.float32(0.5)
        slope = slope * np.float32(1.0001)
    assert abs(float(value) - float(ref.sum())) <= 1e-5 * abs(float(ref.sum())), (value, ref.sum())
    np.testing.assert_allclose(np.asarray(grad), np.full(8, slope), rtol=1e-5)

    got, ref = np.asarray(kn.jit(mixed)(x)), x.copy()
    for i in range(1_000):
        ref = UNARY_NP[i % 5](ref) + np.float32(0.25)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    print("ok")
""")


def test_twenty_thousand_op_chain_and_its_gradient_compile_and_run():
    run = subprocess.run([sys.executable, "-c", CHAIN], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-3000:]


def _chain_text(n: int) -> str:
    lines = ["func @chain(%0: f32[8]) {", "  %1 = constant {value=dense<1.5>} : f32[]",
             "  %2 = broadcast_to %1 {shape=(8,)} : f32[8]"]
    prev = "%0"
    for i in range(n):
        name = f"%{i + 3}"
        lines.append(f"  {name} = {'multiply' if i % 2 else 'add'} {prev}, %2 : f32[8]")
        prev = name
    return "\n".join(lines + [f"  return {prev}", "}"]) + "\n"


def test_deep_graph_text_passes_and_lowering_need_no_recursion():
    text = _chain_text(20_000)
    g = verify(parse(text))
    assert print_graph(g) == text
    g = run_pipeline(g, ["simplify", "fold", "cse", "dce"])
    program = lower(g, FusionPolicy(max_depth=64))
    assert len(program.kernels) >= 20_000 // 64
    assert all(body_size(k.roots()) < 64 * 4 for k in program.kernels)


def test_cut_chain_computes_what_the_uncut_chain_does():
    """A chain cut by max_depth stores float32 values between kernels, as the uncut kernel
    rounds each op to float32: the programs differ only in where the values live."""
    g = verify(parse(_chain_text(300)))
    x = np.linspace(-1, 1, 8).astype(np.float32)
    ref = x.copy()
    for i in range(300):
        ref = ref * np.float32(1.5) if i % 2 else ref + np.float32(1.5)
    kernels = []
    for depth in (8, 64, 1000):
        with mock.patch.object(kc, "_policy", lambda: FusionPolicy(max_depth=depth)):
            compiled = kc.compile_graph(g)
        kernels.append(len(compiled.program.kernels))
        np.testing.assert_array_equal(compiled.executable([x.copy()], [])[0], ref)
    assert kernels[0] > kernels[1] > kernels[2] == 1


def test_kernel_walks_of_a_deep_body_are_iterative():
    b = KernelBuilder()
    i = b.idx(0)
    value = b.load(0, i, dt.float32)
    for k in range(20_000):
        value = b.binary("add" if k % 2 else "mul", value, b.load(1, i, dt.float32))
    k = make_kernel("deep", (8,), (Store(2, i, value),))
    assert k.reads == (0, 1)
    assert body_size(k.roots()) == 20_000 + 2
    assert format_kernel(k).count("\n") > 20_000
    assert retarget(k, 1, 3).reads == (0, 3)
    assert coalesce(k) is k or coalesce(k).shape == (8,)
    module = ir.Module("deep")
    fn = ir.Function(module, ir.FunctionType(ir.FloatType(), [ir.FloatType(), ir.FloatType()]), "f")
    builder = ir.IRBuilder(fn.append_basic_block())
    leaf = {0: fn.args[0], 1: fn.args[1]}
    builder.ret(ScalarEmitter(builder, lambda e: leaf[e.attr] if e.op == "load" else None)(value))
    assert str(module).count("fadd") == 10_000
