"""llvmlite.binding: parse LLVM IR, optimise (O2 + vectorizers) for the host's CPU and features, JIT it,
and hand back entry addresses.

Memory: each loaded program has an MCJIT engine of its own holding its machine code, so
dropping the program frees its code (an engine cannot remove what it loaded). Modules are
optimised and compiled to object code by forked compile servers, each replaced after SERVED
modules: llvmlite's pass pipeline keeps ~70 kB per optimised module for the life of the
process that ran it.
"""
from __future__ import annotations

import ctypes
import functools
import os
import select
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import llvmlite.binding as llvm

from ..ir.target import Target

_lock = threading.RLock()  # llvmlite use, forks included (see Loaded.__del__)


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


def _engine():
    """A fresh engine that only links object files compiled by `_machine()`: its own target machine
    (which it owns and frees) never generates code, so the cheapest one serves."""
    machine = llvm.Target.from_triple(host_target().triple).create_target_machine(codemodel="jitdefault")
    return llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)


Source = Callable[[], str]  # a module's LLVM IR text, made where it is compiled


@dataclass
class Loaded:
    """A program's machine code in its engine (the first part holds the entry); the code lives
    as long as this object. Its IR as emitted, optimised IR and assembly are made again on
    request (a program's modules are not kept: most are never looked at)."""

    sources: list[Source]
    address: int
    engine: object  # the llvmlite ExecutionEngine owning the code
    modules: dict[int, object] = field(default_factory=dict)  # part -> its optimised module, once asked
    texts: dict[int, str] = field(default_factory=dict)  # part -> its IR as emitted, once asked

    def __del__(self, finalizing=sys.is_finalizing) -> None:
        # NOTE: released under the lock that forks compile servers: a server forked while another
        # thread is inside llvmlite would inherit llvmlite's lock held and never answer
        if finalizing():
            return
        with _lock:
            for module in self.modules.values():
                module.close()
            self.engine.close()

    def global_address(self, name: str) -> int:
        """Where a global of this program lives (profiling counters)."""
        with _lock:
            return _address(self.engine.get_global_value_address(name), name)

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
    """Emit the modules of one program, have compile servers parse, verify, optimise and compile
    them to object code (at the same time: LLVM in one process runs one module at a time, as
    llvmlite serializes every call), and link them in an engine of their own; return its
    entry's address. A module no server could compile is compiled here."""
    _init()
    with _lock:
        objects = _compile_all([source() for source in sources])
        engine = _engine()
        for obj in objects:
            engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        # NOTE: no finalize_object(): it would generate code for the empty backing module; the
        # first address lookup resolves the objects' relocations and sets page permissions
        return Loaded(sources, _address(engine.get_function_address(entry), entry), engine)


def _object(text: str) -> bytes:
    return _machine().emit_object(_optimized(text))


def _address(address: int, name: str) -> int:
    if not address:  # calling it would jump to 0
        raise RuntimeError(f"kiln: symbol {name!r} not found in the compiled program")
    return address


CHILD_TIMEOUT = 120.0  # seconds a compile server may take for a module before this process compiles it
SERVED = 256  # modules a compile server compiles before it is replaced (its memory grows with each)


class _Server:
    """A forked process that optimises modules sent to it and answers with their object code:
    llvmlite's leaks stay there, and a long-lived process has no copy-on-write faults to pay
    (a fork per module made small programs compile 2.5x slower)."""

    def __init__(self) -> None:  # raises OSError where the platform cannot fork, or the fork fails
        requests, results = os.pipe(), os.pipe()
        try:
            with warnings.catch_warnings():
                # NOTE: Python's and JAX's "fork with threads" warnings: the child only runs LLVM
                warnings.simplefilter("ignore")
                pid = os.fork()
        except OSError:
            for fd in (*requests, *results):
                os.close(fd)
            raise
        if pid == 0:  # the server: serve until this process closes the pipe, leave without cleanup
            code = 1
            try:
                _close_fds_but(requests[0], results[1])
                _serve(requests[0], results[1])
                code = 0
            finally:
                os._exit(code)
        os.close(requests[0])
        os.close(results[1])
        self.pid, self.requests, self.results, self.served = pid, requests[1], results[0], 0

    def send(self, text: str) -> bool:
        self.served += 1
        try:
            _write_message(self.requests, text.encode())
            return True
        except OSError:  # the server died
            return False

    def receive(self) -> bytes | None:
        """The object code of the module sent last; None if the server failed or timed out."""
        data = _read_message(self.results, time.monotonic() + CHILD_TIMEOUT)
        return data or None

    def stop(self, wait: bool = True) -> None:
        os.close(self.requests)
        os.close(self.results)
        if wait and not _exited(self.pid):  # it leaves once its pipe is closed; one that hangs is killed
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)


_servers: list[_Server] = []


def _take_servers(n: int) -> list[_Server]:
    """Up to `n` compile servers, replacing the ones that have served SERVED modules."""
    for server in [s for s in _servers if s.served >= SERVED]:
        _servers.remove(server)
        server.stop()
    while len(_servers) < n and hasattr(os, "fork"):
        try:
            _servers.append(_Server())
        except OSError:  # out of processes, memory or file descriptors: this process compiles
            break
    return _servers[:n]


def _drop(server: _Server) -> None:
    if server in _servers:
        _servers.remove(server)
        os.kill(server.pid, signal.SIGKILL)
        server.stop()


def _forget_servers() -> None:
    """In a forked child: the parent's servers are not this process's to use."""
    for server in _servers:
        server.stop(wait=False)
    _servers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_servers)


def _compile_all(texts: list[str]) -> list[bytes]:
    """Object code of each module, compiled at the same time by the servers where possible."""
    servers = _take_servers(len(texts))
    sent = [server.send(text) for server, text in zip(servers, texts)]
    objects = []
    for i, text in enumerate(texts):
        obj = servers[i].receive() if i < len(servers) and sent[i] else None
        if obj is None:  # no server, or it failed: compile the module in this process
            if i < len(servers):
                _drop(servers[i])
            obj = _object(text)
        objects.append(obj)
    return objects


def _close_fds_but(*keep: int) -> None:
    """Close every inherited descriptor but stdio and `keep`: a server holding a copy of the
    user's pipe or socket would keep it open after the user closed it."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1 << 16)


def _serve(requests: int, results: int) -> None:
    while (message := _read_message(requests, None)) is not None:
        try:
            data = _object(message.decode())
        except Exception:  # noqa: BLE001 - the parent compiles the module itself and reports the error
            data = b""
        _write_message(results, data)


def _write_message(fd: int, data: bytes) -> None:
    view = memoryview(len(data).to_bytes(8, "little") + data)
    while view:
        view = view[os.write(fd, view):]


def _read_message(fd: int, deadline: float | None) -> bytes | None:
    """One length-prefixed message; None at end of file, on error, or past the deadline."""
    chunks, need, size = [], 8, None
    while need:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if deadline is not None and not select.select([fd], [], [], wait)[0]:
            return None
        try:
            chunk = os.read(fd, min(need, 1 << 20))
        except OSError:
            return None
        if not chunk:
            return None
        chunks.append(chunk)
        need -= len(chunk)
        if not need and size is None:
            size = need = int.from_bytes(b"".join(chunks), "little")
            chunks = []
    return b"".join(chunks)


def _exited(pid: int) -> bool:
    """Reap `pid` if it exits within a second."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return True
        time.sleep(0.001)
    return False


_pool: list[Loaded] = []  # the thread pool's code: loaded once, kept for the process
_pool_lock = threading.Lock()


def start_pool(pool_ir: str, threads: int) -> None:
    """Load the thread pool module once, register `kiln_parallel_for` for generated code and
    start its workers (threads - 1 of them; the caller is the last), once even when threads
    compile their first functions at the same time."""
    with _pool_lock:
        if _pool:
            return
        loaded = load([lambda: pool_ir], "kiln_parallel_for")
        llvm.add_symbol("kiln_parallel_for", loaded.address)
        with _lock:
            start_address = _address(loaded.engine.get_function_address("kiln_pool_start"), "kiln_pool_start")
        start = ctypes.CFUNCTYPE(None, ctypes.c_int32)(start_address)
        start(threads)
        # a forked child has no worker threads: it runs every kernel on its own thread
        os.register_at_fork(after_in_child=lambda: start(1))
        _pool.append(loaded)
