"""llvmlite.binding: parse LLVM IR, optimise (O2 + vectorizers) for the host's CPU and features, JIT it,
and hand back entry addresses. One MCJIT engine for the process; modules are added to it.
"""
from __future__ import annotations

import ctypes
import functools
import os
import select
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

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


Source = Callable[[], str]  # a module's LLVM IR text, made where it is compiled


@dataclass
class Loaded:
    """Modules living in the engine (the first holds the entry): their IR as emitted, their
    optimised IR and assembly on request. A part a child process emitted and compiled is
    emitted and optimised again here if asked."""

    sources: list[Source]
    address: int
    modules: dict[int, object] = field(default_factory=dict)  # part -> its optimised module here
    texts: dict[int, str] = field(default_factory=dict)  # part -> its IR as emitted

    def text(self, part: int) -> str:
        if part not in self.texts:
            self.texts[part] = self.sources[part]()
        return self.texts[part]

    def _module(self, part: int):
        if part not in self.modules:
            with _lock:
                self.modules[part] = _optimized(self.text(part))
        return self.modules[part]

    def llvm_ir(self) -> str:
        return "\n".join(str(self._module(p)) for p in range(len(self.sources)))

    def asm(self) -> str:
        modules = [self._module(p) for p in range(len(self.sources))]
        with _lock:
            return "\n".join(_machine().emit_assembly(m) for m in modules)


def optimize(mod) -> None:
    pto = llvm.create_pipeline_tuning_options(speed_level=2)  # O3 doubles compile time, gains nothing here
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(_machine(), pto)
    pb.getModulePassManager().run(mod, pb)


def _optimized(text: str):
    mod = llvm.parse_assembly(text)
    mod.verify()
    mod.triple = host_target().triple
    mod.data_layout = str(_machine().target_data)
    optimize(mod)
    return mod


def load(sources: list[Source], entry: str) -> Loaded:
    """Emit, parse, verify, optimise and JIT the modules of one program; return its entry's
    address. The parts after the first are emitted and compiled to object code by forked
    children meanwhile (LLVM in one process runs one module at a time: llvmlite serializes
    every call)."""
    _init()
    with _lock:
        children = [_fork_compile(source) for source in sources[1:]]
        loaded = Loaded(sources, 0)
        loaded.modules[0] = _optimized(loaded.text(0))
        engine = _engine()
        if not children:
            engine.add_module(loaded.modules[0])
        else:  # this part's machine code while the children finish theirs
            engine.add_object_file(llvm.ObjectFileRef.from_data(_machine().emit_object(loaded.modules[0])))
        for part, child in enumerate(children, 1):
            obj = _collect(child)
            if obj is None:  # no fork here, or the child failed: compile the part in this process
                loaded.modules[part] = _optimized(loaded.text(part))
                engine.add_module(loaded.modules[part])
            else:
                engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
        loaded.address = engine.get_function_address(entry)
        return loaded


CHILD_TIMEOUT = 120.0  # seconds a compiling child may take before this process compiles its part itself


def _fork_compile(source: Source) -> tuple[int, int] | None:
    """(pid, pipe) of a child that emits `source` and compiles it to an object file written
    to the pipe; None where the platform cannot fork or the fork fails."""
    if not hasattr(os, "fork"):
        return None
    try:
        r, w = os.pipe()
    except OSError:  # out of file descriptors
        return None
    try:
        with warnings.catch_warnings():
            # NOTE: Python's and JAX's "fork with threads" warnings: the child only emits IR and runs LLVM
            warnings.simplefilter("ignore")
            pid = os.fork()
    except OSError:  # out of processes or memory: this process compiles the part
        os.close(r)
        os.close(w)
        return None
    if pid == 0:  # the child: compile, write, leave without running any Python cleanup
        code = 1
        try:
            os.close(r)
            data = _machine().emit_object(_optimized(source()))
            with os.fdopen(w, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def _collect(child: tuple[int, int] | None) -> bytes | None:
    """The child's object file, or None if it failed or took longer than CHILD_TIMEOUT."""
    if child is None:
        return None
    pid, r = child
    chunks, deadline = [], time.monotonic() + CHILD_TIMEOUT
    with os.fdopen(r, "rb") as pipe:
        while time.monotonic() < deadline:
            if select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))[0]:
                chunk = os.read(pipe.fileno(), 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        else:
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return b"".join(chunks) if status == 0 and chunks else None


def global_address(name: str) -> int:
    """Where a global of a loaded module lives (profiling counters)."""
    return _engine().get_global_value_address(name)


_pool_threads: list[int] = []
_pool_lock = threading.Lock()


def start_pool(pool_ir: str, threads: int) -> None:
    """Load the thread pool module once, register `kiln_parallel_for` for generated code and
    start its workers (threads - 1 of them; the caller is the last), once even when threads
    compile their first functions at the same time."""
    with _pool_lock:
        if _pool_threads:
            return
        loaded = load([lambda: pool_ir], "kiln_parallel_for")
        llvm.add_symbol("kiln_parallel_for", loaded.address)
        start = ctypes.CFUNCTYPE(None, ctypes.c_int32)(_engine().get_function_address("kiln_pool_start"))
        start(threads)
        # a forked child has no worker threads: it runs every kernel on its own thread
        os.register_at_fork(after_in_child=lambda: start(1))
        _pool_threads.append(threads)
