"""llvmlite.binding: parse LLVM IR, optimise (O2 + vectorizers) for the host's CPU and features, JIT it,
and hand back entry addresses. One MCJIT engine for the process; modules are added to it.
"""
from __future__ import annotations

import ctypes
import functools
import os
import threading
from dataclasses import dataclass

import llvmlite.binding as llvm

from ..ir.target import Target

_lock = threading.Lock()


@functools.cache
def _init() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@functools.cache
def host_target() -> Target:
    _init()
    features = llvm.get_host_cpu_features().flatten()
    return Target(llvm.get_process_triple(), llvm.get_host_cpu_name(), features)


@functools.cache
def _machine():
    t = host_target()
    target = llvm.Target.from_triple(t.triple)
    return target.create_target_machine(cpu=t.cpu, features=t.features, opt=3, reloc="default",
                                        codemodel="jitdefault")


@functools.cache
def _engine():
    backing = llvm.parse_assembly("")
    return llvm.create_mcjit_compiler(backing, _machine())


@dataclass
class Loaded:
    """A module living in the engine: its optimised IR and assembly on request."""

    module: object
    address: int

    def llvm_ir(self) -> str:
        return str(self.module)

    def asm(self) -> str:
        return _machine().emit_assembly(self.module)


def optimize(mod) -> None:
    pto = llvm.create_pipeline_tuning_options(speed_level=2)  # O3 doubles compile time, gains nothing here
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(_machine(), pto)
    pb.getModulePassManager().run(mod, pb)


def load(llvm_ir: str, entry: str) -> Loaded:
    """Parse, verify, optimise and JIT one module; return its entry function's address."""
    _init()
    with _lock:
        mod = llvm.parse_assembly(llvm_ir)
        mod.verify()
        mod.triple = host_target().triple
        mod.data_layout = str(_machine().target_data)
        optimize(mod)
        engine = _engine()
        engine.add_module(mod)
        engine.finalize_object()
        return Loaded(mod, engine.get_function_address(entry))


def global_address(name: str) -> int:
    """Where a global of a loaded module lives (profiling counters)."""
    return _engine().get_global_value_address(name)


_pool_threads: list[int] = []


def start_pool(pool_ir: str, threads: int) -> None:
    """Load the thread pool module once, register `kiln_parallel_for` for generated code and
    start its workers (threads - 1 of them; the caller is the last)."""
    if _pool_threads:
        return
    loaded = load(pool_ir, "kiln_parallel_for")
    llvm.add_symbol("kiln_parallel_for", loaded.address)
    start = ctypes.CFUNCTYPE(None, ctypes.c_int32)(_engine().get_function_address("kiln_pool_start"))
    start(threads)
    # a forked child has no worker threads: it runs every kernel on its own thread
    os.register_at_fork(after_in_child=lambda: start(1))
    _pool_threads.append(threads)
