"""The conformance harness: the Case record, hypothesis strategies, the NumPy comparison.

kiln is imported lazily (first attribute use of `kn`), so the case table can be built,
listed and checked without a working compiler.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FLOATS = ("float32", "float64")
INTS = ("int32", "int64")
NUMERIC = FLOATS + INTS
ALL = NUMERIC + ("bool",)

# Relative tolerances by (result dtype, op class); ints and bools compare exactly.
RTOL = {
    ("float32", "ordinary"): 1e-5,
    ("float32", "transcendental"): 1e-4,
    ("float64", "ordinary"): 1e-12,
    ("float64", "transcendental"): 1e-10,
}


class _LazyKiln:
    """`kn.<name>` imports kiln on first use."""

    def __getattr__(self, name: str) -> Any:
        import kiln

        return getattr(kiln, name)


kn: Any = _LazyKiln()


@dataclass
class Example:
    """One drawn input: `args` are traced under jit; `static` is closed over (shapes, axes...)."""

    args: tuple = ()
    static: dict = field(default_factory=dict)

    def describe(self) -> str:
        return f"args={describe(self.args)} static={self.static!r}"


def describe(x: Any) -> str:
    """Short text for an input: dtype[shape] for arrays, repr for the rest."""
    if isinstance(x, np.ndarray):
        return f"{x.dtype}{list(x.shape)}"
    if isinstance(x, (list, tuple)):
        inner = ", ".join(describe(v) for v in x)
        return f"[{inner}]" if isinstance(x, list) else f"({inner})"
    return repr(x)


# --- elements --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dom:
    """The values an input may take: a closed range, optionally a grid, optionally no zero."""

    lo: float = -10.0
    hi: float = 10.0
    step: float | None = None  # values are multiples of step (exact in float32)
    nonzero: bool = False
    int_lo: int | None = None  # integer range when it differs from [lo, hi]
    int_hi: int | None = None
    min_abs: float = 0.0  # floats only: |v| >= min_abs (keeps long products finite and nonzero)

    def elements(self, dtype: str) -> st.SearchStrategy:
        kind = np.dtype(dtype).kind
        if kind == "b":
            return st.just(True) if self.nonzero else st.booleans()
        if kind == "i" or self.step is not None:
            lo = self.int_lo if self.int_lo is not None and kind == "i" else self.lo
            hi = self.int_hi if self.int_hi is not None and kind == "i" else self.hi
            step = 1 if kind == "i" or self.step is None else self.step
            k_lo, k_hi = math.ceil(lo / step), math.floor(hi / step)
            s = st.integers(k_lo, k_hi)
            if self.nonzero:
                s = s.filter(lambda k: k != 0)
            if kind == "i":
                return s
            return s.map(lambda k: k * step)
        width = 32 if dtype == "float32" else 64
        if self.min_abs > 0:
            top = max(abs(self.lo), abs(self.hi))
            mag = st.floats(_inward(self.min_abs, 1, dtype), _inward(top, -1, dtype), width=width)
            return st.tuples(mag, st.booleans()).map(lambda t: -t[0] if t[1] else t[0]).filter(
                lambda v: self.lo <= v <= self.hi)
        s = st.floats(_inward(self.lo, 1, dtype), _inward(self.hi, -1, dtype), width=width,
                      allow_nan=False, allow_infinity=False, allow_subnormal=False)
        if self.nonzero:
            return s.filter(lambda v: abs(v) >= 1e-3)
        # NOTE: tiny magnitudes become 0 so that no product or quotient lands in the subnormal
        # range, where flush-to-zero is allowed and a relative comparison is meaningless.
        return s.map(lambda v: 0.0 if abs(v) < 1e-6 else v)


def _inward(v: float, direction: int, dtype: str) -> float:
    """v rounded to dtype, moved inward (direction +1: up, -1: down) if rounding left the range."""
    r = np.dtype(dtype).type(v)
    if (direction > 0 and r < v) or (direction < 0 and r > v):
        r = np.nextafter(r, np.dtype(dtype).type(direction * np.inf))
    return float(r)


ANY = Dom()
POS = Dom(1e-3, 1e3, int_lo=1, int_hi=1000)          # log, sqrt on ints too
SMALL = Dom(-3.0, 3.0)


def array(data: st.DataObject, dtype: str, shape: tuple[int, ...], dom: Dom = ANY,
          label: str | None = None) -> np.ndarray:
    """Draw one array; 0-d arrays come back as 0-d ndarrays (not NumPy scalars)."""
    out = data.draw(hnp.arrays(np.dtype(dtype), shape, elements=dom.elements(dtype)), label=label)
    return np.asarray(out)


def scalar(data: st.DataObject, dtype: str, dom: Dom = ANY, label: str | None = None):
    """A Python scalar of the class of dtype (weakly typed in kiln)."""
    kind = np.dtype(dtype).kind
    v = data.draw(dom.elements("float32" if kind == "f" else dtype), label=label)  # exact in float32
    return {"b": bool, "i": int, "f": float}[np.dtype(dtype).kind](v)


# --- shapes and axes -------------------------------------------------------------------------

def shape(data: st.DataObject, *, min_dims: int = 0, max_dims: int = 4, min_side: int = 0,
          max_side: int = 4, label: str = "shape") -> tuple[int, ...]:
    return data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                      max_side=max_side), label=label)


def broadcast_shapes(data: st.DataObject, n: int = 2, *, max_dims: int = 4, min_side: int = 0,
                     max_side: int = 4, label: str = "shapes") -> tuple[tuple[int, ...], ...]:
    """n shapes that broadcast together (incl. 0-d, size-0 and size-1 dims)."""
    shapes = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=0, max_dims=max_dims, min_side=min_side, max_side=max_side), label=label)
    return shapes.input_shapes


def axis_int(data: st.DataObject, ndim: int, label: str = "axis") -> int:
    """A valid axis, negative half the time."""
    assert ndim > 0
    return data.draw(st.integers(-ndim, ndim - 1), label=label)


def axes(data: st.DataObject, ndim: int, *, allow_none: bool = True, allow_tuple: bool = True,
         label: str = "axis"):
    """None, an int (maybe negative) or a tuple of distinct axes (maybe negative, maybe empty)."""
    options = []
    if allow_none:
        options.append(st.none())
    if ndim > 0:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).flatmap(
                lambda ax: st.tuples(*[st.sampled_from([a, a - ndim]) for a in ax])))
    elif allow_tuple:
        options.append(st.just(()))
    return data.draw(st.one_of(options), label=label)


def reduced(ndim: int, axis) -> tuple[int, ...]:
    """The non-negative axes an `axis` argument reduces over."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(a % ndim for a in axis))


def nonempty_along(shp: tuple[int, ...], axis) -> tuple[int, ...]:
    """shp with every reduced dim of size 0 made 1 (other dims may stay empty)."""
    red = reduced(len(shp), axis)
    return tuple(1 if (d in red and n == 0) else n for d, n in enumerate(shp))


# --- references and comparison ---------------------------------------------------------------

def upcast(x: Any) -> Any:
    """float32 arrays -> float64, recursively: the reference is computed in float64."""
    if isinstance(x, np.ndarray) and x.dtype == np.float32:
        return x.astype(np.float64)
    if isinstance(x, list):
        return [upcast(v) for v in x]
    if isinstance(x, tuple):
        return tuple(upcast(v) for v in x)
    return x


def as_list(x: Any) -> tuple[list, bool]:
    """(outputs, is_multi): multi-output ops return lists/tuples of arrays."""
    if isinstance(x, (list, tuple)):
        return list(x), True
    return [x], False


def compare(got: Any, want: np.ndarray, want_exact: np.ndarray, dtype: np.dtype, tol: str,
            scale: np.ndarray | None, atol: float, where: str) -> None:
    """Assert one output matches: shape, dtype, then values (exact or within rtol * scale)."""
    g = np.asarray(got)
    dtype = np.dtype(dtype)
    want = np.asarray(want)
    assert g.shape == want.shape, f"{where}: shape {g.shape}, expected {want.shape}"
    assert g.dtype == dtype, f"{where}: dtype {g.dtype}, expected {dtype}"
    if dtype.kind in "biu":
        w = np.asarray(want_exact)
        if not np.array_equal(g, w):
            bad = np.argwhere(g != w)
            i = tuple(bad[0]) if bad.size else ()
            raise AssertionError(f"{where}: {len(bad)} of {g.size} elements differ (exact compare); "
                                 f"first at {i}: got {g[i]!r}, expected {w[i]!r}\ngot:\n{g}\nexpected:\n{w}")
        return
    rtol = RTOL[(dtype.name, tol)]
    g64 = g.astype(np.float64)
    w64 = want.astype(np.float64)
    s = np.abs(w64) if scale is None else np.abs(np.broadcast_to(np.asarray(scale, np.float64), w64.shape))
    bound = rtol * (s + atol)
    same_nonfinite = (np.isnan(g64) & np.isnan(w64)) | ((g64 == w64) & ~np.isfinite(w64))
    err = np.where(same_nonfinite, 0.0, np.abs(g64 - w64))
    err = np.where(np.isnan(err), np.inf, err)
    bad = err > bound
    if bad.any():
        idx = np.argwhere(bad)
        i = tuple(idx[0])
        raise AssertionError(
            f"{where}: {len(idx)} of {g.size} elements outside rtol={rtol:g} (scale {s[i]:.6g}); "
            f"first at {i}: got {g64[i]!r}, expected {w64[i]!r}, |err|={err[i]:.3g} > {bound[i]:.3g}"
            + (f"\ngot:\n{g}\nexpected:\n{want}" if g.size <= 64 else ""))


def reference(ref: Callable, ex: Example) -> tuple[Any, Any]:
    """(float64 reference, reference in the inputs' own dtypes): values vs exact/dtype checks."""
    with np.errstate(all="ignore"):
        exact = ref(*ex.args, **ex.static)
        wide = ref(*upcast(ex.args), **ex.static)
    return wide, exact


# --- the case record -------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One op (or one variant of it, key `op:variant`) checked against NumPy.

    `call(*args, **static)` is the kiln call and `ref(*args, **static)` its NumPy reference
    (run once in the inputs' own dtypes for exact/int results and once in float64 for
    float results). `dtype(ex)` gives the expected result dtype(s) where kiln's documented
    conventions differ from NumPy (weak Python scalars, float32/int32 creation defaults);
    otherwise NumPy's result dtype is expected. `scale(*args64, **static)` bounds the
    rounding error (default |ref|), e.g. sum(|x|) for a sum; `atol` is an absolute floor in
    the same units. `kind` says how the op is spelled: a `kn.` function, a Tensor operator
    or method, basic indexing, or a `kn.random` draw (checked by `check` statistically).
    """

    name: str
    draw: Callable[[st.DataObject], Example]
    call: Callable[..., Any]
    ref: Callable[..., Any] | None = None
    kind: str = "function"  # function | operator | method | indexing | random
    tol: str = "ordinary"  # ordinary | transcendental
    dtype: Callable[[Example], Any] | None = None
    scale: Callable[..., Any] | None = None
    atol: float = 0.0
    data_dependent: bool = False  # output shape depends on values: eager only, ShapeError in jit
    examples: int | None = None  # max_examples override (None: the suite default)
    check: Callable[[Example, Any, str], None] | None = None

    @property
    def op(self) -> str:
        """The API/registry name this case exercises (`take:negative` -> `take`)."""
        return self.name.split(":", 1)[0]
