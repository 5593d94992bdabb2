"""The one place the stages meet: graph → passes → kernels → LLVM → native Executable."""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import time
from dataclasses import dataclass

from .. import config as cfg
from ..codegen.cpu import emit_part, profile_symbol
from ..codegen.pool import pool_module
from ..ir.export import to_dot
from ..ir.graph import Graph
from ..ir.printer import print_graph
from ..ir.program import Program
from ..ir.target import Target
from ..passes import FusionPolicy, PassReport, lower, plan, run_pipeline
from ..passes.pipelines import DEFAULT
from ..runtime import blas, llvm_jit
from ..runtime.cache import CACHE, key_of
from ..runtime.executable import Executable
from ..runtime.profile import Profiled

log = logging.getLogger("kiln.compile")


@dataclass
class Compiled:
    """A native executable plus every stage that produced it."""

    graph: Graph
    program: Program
    executable: Executable

    @property
    def llvm_text(self) -> str:
        """The LLVM IR as emitted, before optimisation."""
        loaded = self.executable.loaded
        return "\n".join(loaded.text(p) for p in range(len(loaded.sources)))

    def as_llvm_ir(self) -> str:
        """The optimised LLVM IR that was compiled to native code."""
        return self.executable.loaded.llvm_ir()

    def as_asm(self) -> str:
        return self.executable.loaded.asm()

    def as_kernels(self) -> str:
        return self.program.as_text()


@dataclass
class Lowered:
    graph: Graph
    program: Program
    report: PassReport

    def as_text(self) -> str:
        return print_graph(self.graph)

    def to_dot(self) -> str:
        return to_dot(self.graph, self.program)

    def render(self, path: str, fmt: str = "svg") -> str:
        """Draw the graph with its kernel clusters using the optional `graphviz` package."""
        try:
            import graphviz
        except ImportError:
            raise ImportError("rendering needs the graphviz package (pip install graphviz) and Graphviz's "
                              "`dot`; to_dot() gives the DOT text without them") from None
        return graphviz.Source(self.to_dot()).render(outfile=path, format=fmt, cleanup=True)

    def as_kernels(self) -> str:
        return self.program.as_text()

    def memory(self) -> dict[str, int]:
        return {"arena_bytes": self.program.arena_bytes, **self.program.stats}

    def kernel_counts(self) -> dict[str, int]:
        """Kernels of the fused program, and of the same graph with one kernel per compute op."""
        return {"fused": len(self.program.kernels),
                "unfused": len(lower(self.graph, FusionPolicy(fuse_elementwise=False)).kernels)}

    def compile(self) -> Compiled:
        return _compile_program(self.graph, self.program)


def lower_graph(graph: Graph) -> Lowered:
    dump_dir = _dump_dir(graph)
    report = PassReport()
    g = run_pipeline(graph, DEFAULT, dump_dir, report)
    program = plan(lower(g, _policy()))
    outputs = set(g.outputs)
    program.stats["intermediate_bytes"] = sum(  # what one buffer per value would take
        v.type.nbytes for n in g.nodes if n.op != "constant" for v in n.outputs if v not in outputs)
    if dump_dir:
        _write(dump_dir, "kernels.txt", program.as_text())
    return Lowered(g, program, report)


def _policy() -> FusionPolicy:
    """Fusion for this process: matmuls call BLAS when the runtime has it."""
    return FusionPolicy(gemm=blas.available())


@functools.cache
def _threads() -> int:
    """Threads for kernels (KILN_NUM_THREADS, default all cores), with the pool started."""
    n = cfg.get().num_threads or os.cpu_count() or 1
    if n > 1:
        llvm_jit.start_pool(str(pool_module(llvm_jit.host_target().triple)), n)
    return n


PARALLEL_KERNELS = 16  # kernels from which a program's LLVM work is split over two processes


def _parts(program: Program) -> int:
    """Modules to compile at the same time: two for a large program on a machine with
    cores to spare; forking costs a few milliseconds, more than a small program's LLVM time."""
    return 2 if len(program.kernels) >= PARALLEL_KERNELS and (os.cpu_count() or 1) > 1 else 1


def _compile_program(graph: Graph, program: Program) -> Compiled:
    target = llvm_jit.host_target()
    profile = cfg.get().profile
    key = key_of(print_graph(graph), f"{target} {_policy()} threads={_threads()} profile={profile}")

    def build() -> Compiled:
        t0 = time.perf_counter()
        sym = f"kiln_{graph.name}_{key[:16]}"
        parts, threads = _parts(program), _threads()
        loaded = llvm_jit.load([functools.partial(_part_text, program, target, sym, threads, profile, parts, p)
                                for p in range(parts)], sym)
        exe = Executable(program, loaded)
        if profile:
            exe = Profiled(exe, graph.name, loaded.global_address(profile_symbol(sym)))
        log.debug("compiled %s: codegen and llvm %.1f ms", graph.name, (time.perf_counter() - t0) * 1e3)
        return Compiled(graph, program, exe)
    compiled = CACHE.get_or_build(key, build)
    d = _dump_dir(graph)
    if d:  # written on every compile request, cached code or not
        _write(d, "module.ll", compiled.llvm_text)
        _write(d, "module.opt.ll", compiled.as_llvm_ir())
        _write(d, "module.s", compiled.as_asm())
    return compiled


def _part_text(program: Program, target: Target, sym: str, threads: int, profile: bool, parts: int, part: int) -> str:
    return str(emit_part(program, target, sym, threads, profile, parts, part))


def _dump_dir(graph: Graph) -> str | None:
    """One folder per function and signature: name plus a hash of the traced IR."""
    conf = cfg.get()
    if not conf.dump:
        return None
    digest = hashlib.sha256(print_graph(graph).encode()).hexdigest()[:10]
    return os.path.join(conf.dump, f"{graph.name}_{digest}")


def compile_graph(graph: Graph) -> Compiled:
    """Graph as traced → native code (cached on the optimised graph's text)."""
    lowered = lower_graph(graph)
    return _compile_program(lowered.graph, lowered.program)


def _write(dirname: str, fname: str, text: str) -> None:
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, fname), "w") as f:
        f.write(text)
