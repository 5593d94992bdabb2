"""Shared helpers for the tensor-chapter examples: an Example record and a NumPy checker.

Each example script builds a list of ``Example`` records, (name, kiln_fn, numpy_fn, args),
so that running the script prints and checks every result and the e2e tests can
parametrise over the very same list.  Imports numpy and kiln's public API only.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

import kiln as kn

# Tolerances: plain float32 arithmetic vs. transcendental functions (exp, sin, pow, ...).
F32 = {"rtol": 1e-5, "atol": 1e-6}
TRANSCENDENTAL = {"rtol": 1e-4, "atol": 1e-5}


class Example(NamedTuple):
    """One kiln computation paired with the NumPy computation it must reproduce."""

    name: str
    kiln_fn: Callable[..., Any]
    numpy_fn: Callable[..., Any]
    args: tuple = ()
    rtol: float = F32["rtol"]
    atol: float = F32["atol"]
    kwargs: Mapping[str, Any] | None = None

    def run_kiln(self) -> Any:
        """Call the kiln function (jitted, or eager for the ``eager/`` examples)."""
        return self.kiln_fn(*self.args, **(self.kwargs or {}))

    def run_numpy(self) -> Any:
        """Call the NumPy reference on NumPy copies of the same arguments."""
        args = tuple(to_numpy(a) for a in self.args)
        kwargs = {k: to_numpy(v) for k, v in (self.kwargs or {}).items()}
        return self.numpy_fn(*args, **kwargs)


def to_numpy(tree: Any) -> Any:
    """Convert a pytree of kn.Arrays (tuples, lists, dicts) to the same tree of ndarrays."""
    if isinstance(tree, (list, tuple)):
        return type(tree)(to_numpy(t) for t in tree)
    if isinstance(tree, dict):
        return {k: to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, (int, float, bool, str)) or tree is None:
        return tree
    return np.asarray(tree)


def _same_dtype_family(got: np.dtype, want: np.dtype) -> bool:
    """Floats must match exactly (float32 stays float32); ints may differ in width."""
    if np.issubdtype(want, np.floating):
        return got == want
    if np.issubdtype(want, np.integer):
        return np.issubdtype(got, np.integer)
    return got.kind == want.kind


def assert_matches(got: Any, want: Any, rtol: float, atol: float, where: str = "") -> None:
    """Assert that a kiln result tree equals a NumPy result tree (structure, shape, dtype, values)."""
    if isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)), f"{where}: expected a sequence, got {type(got).__name__}"
        assert len(got) == len(want), f"{where}: expected {len(want)} results, got {len(got)}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_matches(g, w, rtol, atol, f"{where}[{i}]")
        return
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: dict keys differ"
        for k in want:
            assert_matches(got[k], want[k], rtol, atol, f"{where}[{k!r}]")
        return
    want = np.asarray(want)
    got_np = np.asarray(got)
    assert got_np.shape == want.shape, f"{where}: shape {got_np.shape} != expected {want.shape}"
    assert _same_dtype_family(got_np.dtype, want.dtype), (
        f"{where}: dtype {got_np.dtype} != expected {want.dtype}"
    )
    if want.dtype == np.bool_ or np.issubdtype(want.dtype, np.integer):
        np.testing.assert_array_equal(got_np, want, err_msg=where)
    else:
        np.testing.assert_allclose(got_np, want, rtol=rtol, atol=atol, err_msg=where)


def check(example: Example) -> Any:
    """Run one example under kiln and NumPy, assert they agree, and return kiln's result."""
    got = example.run_kiln()
    want = example.run_numpy()
    assert_matches(to_numpy(got), want, example.rtol, example.atol, example.name)
    return got


def _show(result: Any) -> str:
    """Print kiln results the way d2l does: the array itself (kn.Array prints like NumPy)."""
    if isinstance(result, (list, tuple)):
        return "[" + ",\n ".join(_show(r) for r in result) + "]"
    return str(result)


def run_all(title: str, examples: Iterable[Example], verbose: bool = True) -> list[str]:
    """Run, print and check every example; return the names of those that failed."""
    examples = list(examples)
    failures: list[str] = []
    if verbose:
        print(f"==== {title} ====")
    for ex in examples:
        try:
            result = check(ex)
            if verbose:
                print(f"-- {ex.name}\n{_show(result)}")
        except Exception:  # noqa: BLE001 - report every failing example, then fail at the end
            failures.append(ex.name)
            print(f"-- {ex.name}: FAILED")
            traceback.print_exc()
    if verbose:
        print(f"{len(failures)} of {len(examples)} examples failed" if failures
              else "all examples match NumPy")
    return failures


def main_for(title: str, examples: list[Example]) -> None:
    """Entry point shared by the scripts: exit non-zero when any example disagrees with NumPy."""
    failures = run_all(title, examples)
    if failures:
        raise SystemExit(f"{title}: {len(failures)} example(s) failed: {', '.join(failures)}")


__all__ = ["Example", "F32", "TRANSCENDENTAL", "assert_matches", "check", "main_for", "run_all",
           "to_numpy", "kn"]
