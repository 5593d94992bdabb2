"""OpenBLAS from the scipy-openblas32 wheel, for GEMM: loaded with ctypes, its entry points
given to LLVM under kiln's own symbol names (`kiln_sgemm`, `kiln_dgemm`), which generated
code calls directly. Without the wheel, matmuls stay loop kernels."""
from __future__ import annotations

import ctypes
import functools
import os

import llvmlite.binding as llvm


SYMBOLS = {"kiln_sgemm": "scipy_cblas_sgemm", "kiln_dgemm": "scipy_cblas_dgemm"}
_loaded: list[ctypes.CDLL] = []  # keeps the library alive


@functools.cache
def available() -> bool:
    """Load OpenBLAS once, single-threaded (generated code calls it from kiln's own pool, one
    band of the product per thread), and register the GEMM symbols; False without the wheel."""
    try:
        import scipy_openblas32
    except ImportError:
        return False
    lib = ctypes.CDLL(os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(True)))
    for ours, theirs in SYMBOLS.items():
        llvm.add_symbol(ours, ctypes.cast(getattr(lib, theirs), ctypes.c_void_p).value)
    lib.scipy_openblas_set_num_threads(ctypes.c_int(1))
    _loaded.append(lib)
    return True
