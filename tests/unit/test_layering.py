"""DESIGN.md's import star, enforced on the source with `ast`:

    ir  <-  {passes, codegen, runtime}  <-  frontend  <-  kiln/__init__

`kiln/ir` imports numpy, the stdlib, kiln.errors and kiln.config only (networkx only in
ir/export.py); passes, codegen and runtime import only ir (+ errors/config, stdlib, numpy) and
themselves; `llvmlite.ir` only in codegen, `llvmlite.binding` and ctypes only in runtime.
Every import counts: module level, inside functions, relative (resolved), `from X import y`
(resolved to the submodule X.y when it is one).
"""
from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

KILN = Path(__file__).resolve().parents[2] / "kiln"
STDLIB = set(sys.stdlib_module_names)


def module_name(path: Path, root: Path = KILN) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str, root: Path) -> bool:
    """Does `name` name a module or package (not an attribute)?"""
    top = name.split(".")[0]
    if top == root.name:
        p = root.parent.joinpath(*name.split("."))
        return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def imports_of(source: str, modname: str, is_package: bool, root: Path = KILN) -> list[tuple[str, int]]:
    """Every module the source imports, fully resolved, with its line number."""
    out: list[tuple[str, int]] = []
    package = modname if is_package else modname.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend((a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                if node.level - 1 > len(parts) - 1:
                    raise AssertionError(f"{modname}:{node.lineno}: relative import beyond the top package")
                base_parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.append((sub if a.name != "*" and _is_module(sub, root) else base, node.lineno))
    return out


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _any_under(name: str, prefixes) -> bool:
    return any(_under(name, p) for p in prefixes)


BASE = ("kiln.errors", "kiln.config")


def allowed(layer: str, modname: str, imported: str) -> bool:
    """The import star for the four lower layers (other kiln modules are unrestricted)."""
    top = imported.split(".")[0]
    if imported == "__future__":
        return True
    if layer == "base":  # kiln.errors, kiln.config: the very bottom
        return top in STDLIB and top != "ctypes"
    if top in STDLIB and top != "ctypes":
        return True
    if top == "numpy" or _any_under(imported, BASE):
        return True
    if layer == "ir":
        if top == "networkx":
            return modname == "kiln.ir.export"
        return _under(imported, "kiln.ir")
    own = {"passes": "kiln.passes", "codegen": "kiln.codegen", "runtime": "kiln.runtime"}[layer]
    if _under(imported, "kiln.ir") or _under(imported, own):
        return True
    if layer == "codegen":
        return _under(imported, "llvmlite.ir")
    if layer == "runtime":  # scipy_openblas32: the BLAS library the runtime loads for GEMM
        return _under(imported, "llvmlite.binding") or top in ("ctypes", "scipy_openblas32")
    return False


def layer_of(modname: str) -> str | None:
    if modname in BASE:
        return "base"
    parts = modname.split(".")
    if len(parts) >= 2 and parts[1] in ("ir", "passes", "codegen", "runtime"):
        return parts[1]
    return None


def violations(root: Path = KILN) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        modname = module_name(path, root)
        layer = layer_of(modname)
        imports = imports_of(path.read_text(), modname, path.name == "__init__.py", root)
        for imported, line in imports:
            where = f"{path.relative_to(root.parent)}:{line}"
            if layer is not None and not allowed(layer, modname, imported):
                found.append(f"{where}: {layer} layer imports {imported}")
            # anywhere in kiln: llvmlite.ir only in codegen; llvmlite.binding and ctypes only in runtime
            if _under(imported, "llvmlite.ir") and layer != "codegen":
                found.append(f"{where}: llvmlite.ir outside kiln/codegen")
            if (_under(imported, "llvmlite.binding") or imported.split(".")[0] == "ctypes") \
                    and layer != "runtime":
                found.append(f"{where}: {imported} outside kiln/runtime")
            if imported == "llvmlite":
                found.append(f"{where}: bare `import llvmlite` (say llvmlite.ir or llvmlite.binding)")
    return found


# --- the real tree ----------------------------------------------------------------------------

def test_kiln_tree_is_found():
    files = list(KILN.rglob("*.py"))
    layers = {layer_of(module_name(p)) for p in files}
    assert {"ir", "passes", "codegen", "runtime", "base"} <= layers, layers
    assert (KILN / "ir" / "export.py").is_file()


def test_import_star():
    bad = violations()
    assert not bad, "layering violations:\n" + "\n".join(bad)


def test_networkx_only_in_ir_export():
    users = set()
    for path in KILN.rglob("*.py"):
        modname = module_name(path)
        if layer_of(modname) is None:
            continue
        for imported, _ in imports_of(path.read_text(), modname, path.name == "__init__.py"):
            if imported.split(".")[0] == "networkx":
                users.add(modname)
    assert users <= {"kiln.ir.export"}, users


# --- the checker itself -----------------------------------------------------------------------

def _fake_tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "kiln"
    for rel in ["__init__.py", "errors.py", "config.py", "ir/__init__.py", "ir/graph.py", "ir/export.py",
                "passes/__init__.py", "codegen/__init__.py", "runtime/__init__.py", "frontend/__init__.py"]:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("")
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_relative_imports_are_resolved(tmp_path):
    root = _fake_tree(tmp_path, {})
    src = ("from ..ir import graph\nfrom .. import config as cfg\nfrom . import sibling\n"
           "from ..ir.graph import X\n")
    got = [m for m, _ in imports_of(src, "kiln.passes.dce", False, root)]
    assert got == ["kiln.ir.graph", "kiln.config", "kiln.passes", "kiln.ir.graph"]
    got = [m for m, _ in imports_of("from . import graph\nfrom .graph import Y\n", "kiln.ir", True, root)]
    assert got == ["kiln.ir.graph", "kiln.ir.graph"]
    got = [m for m, _ in imports_of("from ...errors import E\n", "kiln.ir.ops.shape", False, root)]
    assert got == ["kiln.errors"]


def test_submodule_from_imports_are_resolved():
    got = [m for m, _ in imports_of("from llvmlite import ir\nfrom llvmlite import binding as llvm\n"
                                    "from numpy import float32\n", "kiln.codegen.cpu", False)]
    assert got == ["llvmlite.ir", "llvmlite.binding", "numpy"]


@pytest.mark.parametrize("rel, text, needle", [
    ("ir/types.py", "from ..frontend import tensor\n", "kiln.frontend"),
    ("ir/types.py", "import networkx\n", "networkx"),
    ("ir/types.py", "def f():\n    from ..passes import dce\n", "kiln.passes"),
    ("ir/types.py", "import llvmlite.ir\n", "llvmlite.ir"),
    ("passes/fold.py", "from ..codegen import cpu\n", "kiln.codegen"),
    ("passes/fold.py", "from ..runtime.cache import CACHE\n", "kiln.runtime"),
    ("passes/fold.py", "import ctypes\n", "ctypes"),
    ("codegen/cpu.py", "import llvmlite.binding as llvm\n", "llvmlite.binding"),
    ("codegen/cpu.py", "from llvmlite import binding\n", "llvmlite.binding"),
    ("codegen/cpu.py", "from ..passes import fusion\n", "kiln.passes"),
    ("codegen/cpu.py", "import llvmlite\n", "llvmlite"),
    ("runtime/jit.py", "from llvmlite import ir\n", "llvmlite.ir"),
    ("runtime/jit.py", "from ..codegen.cpu import emit\n", "kiln.codegen"),
    ("runtime/jit.py", "from ..frontend import jit\n", "kiln.frontend"),
    ("errors.py", "from .ir import graph\n", "kiln.ir"),
    ("frontend/x.py", "import ctypes\n", "ctypes"),
])
def test_checker_catches_violations(tmp_path, rel, text, needle):
    root = _fake_tree(tmp_path, {rel: text})
    bad = violations(root)
    assert bad and any(needle in b for b in bad), bad


@pytest.mark.parametrize("rel, text", [
    ("ir/types.py", "import math\nimport numpy as np\nfrom ..errors import E\nfrom .. import config\n"
                    "from .graph import G\n"),
    ("ir/export.py", "import networkx as nx\n"),
    ("passes/fold.py", "from ..ir.graph import Graph\nfrom .dce import x\nimport logging\n"),
    ("codegen/cpu.py", "from llvmlite import ir\nimport llvmlite.ir as lir\nfrom ..ir import graph\n"),
    ("runtime/jit.py", "import ctypes\nimport llvmlite.binding as llvm\nfrom ..ir.graph import G\n"),
    ("frontend/x.py", "from ..passes import dce\nfrom ..codegen import cpu\nfrom ..runtime import jit\n"),
])
def test_checker_accepts_allowed_imports(tmp_path, rel, text):
    root = _fake_tree(tmp_path, {rel: text, "passes/dce.py": "", "codegen/cpu.py": "", "runtime/jit.py": ""}
                      | {rel: text})
    assert violations(root) == []
