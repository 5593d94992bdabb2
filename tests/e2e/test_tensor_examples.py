"""End-to-end: every example of the tensor chapters runs under kn.jit and matches NumPy.

Parametrises over the (name, kiln_fn, numpy_fn, args) records that each script in
``examples/`` exposes as ``EXAMPLES``, and runs each script as a subprocess so that its
``main()`` (which prints and self-checks) is exercised exactly as a user would run it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = ROOT / "examples"
SCRIPTS = ["tensors", "linear_algebra", "tensor_manipulation", "sinc_surface"]

if str(EXAMPLES_DIR) not in sys.path:
    sys.path.insert(0, str(EXAMPLES_DIR))   # the scripts import their sibling _harness
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))              # kiln itself, when it is not pip-installed

from _harness import assert_matches, to_numpy  # noqa: E402


def _load(name: str):
    """Import examples/<name>.py under a unique module name (no clash with other tests)."""
    spec = importlib.util.spec_from_file_location(f"kiln_examples_{name}", EXAMPLES_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MODULES = {name: _load(name) for name in SCRIPTS}
CASES = [(script, ex) for script, mod in MODULES.items() for ex in mod.EXAMPLES]


def test_every_chapter_topic_is_covered():
    """The acceptance list: each topic has at least one example."""
    names = " ".join(f"{s}:{ex.name}" for s, ex in CASES)
    topics = ["arange", "broadcast", "reduce_sum", "reduce_mean", "reduce_max", "norm", "reshape",
              "transpose", "expand_dims", "squeeze", "tile", "broadcast_to", "concat", "stack",
              "split", "unstack", "gather", "gather_nd", "scatter_nd", "pad", "clip", "maximum",
              "one_hot", "argmax", "accuracy", "meshgrid", "sinc", "eager/"]
    missing = [t for t in topics if t not in names]
    assert not missing, f"no example for {missing}"


def test_example_names_unique():
    for script, mod in MODULES.items():
        names = [ex.name for ex in mod.EXAMPLES]
        assert len(names) == len(set(names)), f"{script}: duplicate example names"


@pytest.mark.parametrize("script,example", CASES, ids=[f"{s}:{ex.name}" for s, ex in CASES])
def test_example_matches_numpy(script, example):
    """The kiln result has NumPy's structure, shapes, dtype family and values."""
    got = example.run_kiln()
    want = example.run_numpy()
    assert_matches(to_numpy(got), want, example.rtol, example.atol, f"{script}:{example.name}")
    # A second call with the same signature runs the cached compiled code: same answer.
    again = example.run_kiln()
    assert_matches(to_numpy(again), want, example.rtol, example.atol,
                   f"{script}:{example.name} (cached call)")


def test_jitted_examples_are_compiled_functions():
    """Everything except the eager/ examples and Variable wrappers goes through kn.jit."""
    jitted = [ex for _, ex in CASES if not ex.name.startswith("eager/")
              and ex.name != "variable_in_place"]
    for ex in jitted:
        assert hasattr(ex.kiln_fn, "lower") and hasattr(ex.kiln_fn, "trace"), (
            f"{ex.name}: {ex.kiln_fn!r} is not a kn.jit function")


def test_eager_results_are_kiln_arrays():
    import kiln as kn

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = kn.exp(x)
    assert isinstance(y, kn.Array)
    assert y.shape == (2, 3) and np.asarray(y).dtype == np.float32
    np.testing.assert_allclose(np.asarray(y), np.exp(x), rtol=1e-5)


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_main_runs(script):
    """`python examples/<script>.py` exits 0: its main() checks every result itself."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [env.get("PYTHONPATH", ""), str(ROOT)] if p)
    proc = subprocess.run([sys.executable, str(EXAMPLES_DIR / f"{script}.py")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{script}.py failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}"
    assert "all examples match NumPy" in proc.stdout
