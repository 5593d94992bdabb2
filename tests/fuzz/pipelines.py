"""One graph compiled every way kiln can compile it: no passes, the DEFAULT pipeline, with and
without elementwise fusion, matmuls as loops or BLAS calls, one thread or the pool.

The code cache is keyed on the graph and the process's policy, not on the pipeline, so each
build here goes straight to codegen and the JIT under a symbol of its own."""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np

from kiln.frontend import compile as kc
from kiln.ir.graph import Graph
from kiln.passes import FusionPolicy, lower, plan, run_pipeline
from kiln.passes.pipelines import DEFAULT
from kiln.runtime import blas, llvm_jit
from kiln.runtime.executable import Executable


@dataclass(frozen=True)
class Pipeline:
    name: str
    passes: tuple[str, ...]
    policy: FusionPolicy
    threads: int = 1


def pipelines() -> list[Pipeline]:
    gemm = blas.available()
    out = [Pipeline("none", (), FusionPolicy(gemm=False)),
           Pipeline("none-unfused", (), FusionPolicy(fuse_elementwise=False, gemm=gemm)),
           Pipeline("default", tuple(DEFAULT), FusionPolicy(gemm=gemm)),
           Pipeline("default-unfused", tuple(DEFAULT), FusionPolicy(fuse_elementwise=False))]
    threads = kc._threads()  # KILN_NUM_THREADS, default all cores; starts the pool
    if threads > 1:
        out.append(Pipeline(f"default-{threads}threads", tuple(DEFAULT), FusionPolicy(gemm=gemm), threads))
    return out


_symbols = itertools.count()


def build(graph: Graph, p: Pipeline) -> Executable:
    g = run_pipeline(graph, list(p.passes), print_after="")
    program = plan(lower(g, p.policy))
    target = llvm_jit.host_target()
    sym = f"kiln_fuzz_{next(_symbols)}"
    source = functools.partial(kc._part_text, program, target, sym, p.threads, False, 1, 0)
    return Executable(program, llvm_jit.load([source], sym))


def run(graph: Graph, p: Pipeline, inputs: list[np.ndarray]) -> list[np.ndarray]:
    exe = build(graph, p)
    args = [np.ascontiguousarray(a) for a, v in zip(inputs, graph.inputs) if v.role == "arg"]
    return [np.array(o) for o in exe(args, [])]
