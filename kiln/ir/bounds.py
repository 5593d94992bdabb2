"""Checked indices: where an index is checked (an `IndexSite`: op, axis, bound, the user's
line), NumPy's rule for which values are valid, and the error both constant folding and
the runtime raise for a bad one, so the two give the same message.

Valid values: [-bound, bound) where negatives count from the end (NumPy's take, fancy
indexing, gather_nd/scatter_nd coordinates), or [0, bound) (`negative=False`: labels).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import OutOfBoundsError
from .graph import Loc

GATHER_MODES = ("raise", "clip", "wrap", "fill")  # fill: out of range reads give `fill`
SCATTER_MODES = ("raise", "clip", "wrap", "drop")  # drop: out of range updates are dropped


@dataclass(frozen=True)
class IndexSite:
    """One checked index of one node: the kernel IR `check` op's attr, and what an error names."""

    op: str
    axis: int | None
    bound: int
    negative: bool = True
    noun: str = "index"
    loc: Loc | None = None

    def __str__(self) -> str:  # as kernel text shows it
        low = -self.bound if self.negative else 0
        where = f" axis {self.axis}" if self.axis is not None else ""
        return f"{self.op}{where} [{low}, {self.bound}) at {self.loc}"

    def error(self, index: int) -> OutOfBoundsError:
        if self.negative:
            where = f"axis {self.axis} with size {self.bound}" if self.axis is not None else f"size {self.bound}"
            text = f"{self.noun} {index} is out of bounds for {where}"
        else:
            text = f"{self.noun} {index} is out of range [0, {self.bound})"
        return OutOfBoundsError(text, op=self.op, loc=self.loc)


def normalize(site: IndexSite, idx: np.ndarray) -> np.ndarray:
    """The indices as offsets in [0, bound), negatives counted from the end; the first bad one
    (in C order) raises `site.error` — what the compiled check does, for constant folding."""
    idx = np.asarray(idx).astype(np.int64)
    low = -site.bound if site.negative else 0
    bad = (idx < low) | (idx >= site.bound)
    if bad.any():
        raise site.error(int(idx[bad].flat[0]))
    return np.where(idx < 0, idx + site.bound, idx)


def apply_mode(idx: np.ndarray, bound: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """NumPy/JAX modes on indices into an axis of `bound`: (offsets in [0, bound) or 0, in-range
    mask). clip clamps (negatives to 0, as NumPy's clip), wrap takes them modulo bound,
    fill/drop wrap negatives once and mark the rest out of range."""
    idx = np.asarray(idx).astype(np.int64)
    if mode == "clip":
        return np.clip(idx, 0, max(bound - 1, 0)), np.full(idx.shape, bound > 0)
    if mode == "wrap":
        return (np.mod(idx, bound) if bound else np.zeros_like(idx)), np.full(idx.shape, bound > 0)
    idx = np.where(idx < 0, idx + bound, idx)
    ok = (idx >= 0) & (idx < bound)
    return np.where(ok, idx, 0), ok


def mode_of(mode: str | None, modes: tuple[str, ...], op: str) -> str:
    """A public op's `mode` argument ("raise" when None), checked."""
    mode = "raise" if mode is None else mode
    if mode not in modes:
        raise ValueError(f"{op}: mode must be one of {modes}, got {mode!r}")
    return mode


def fill_attr(fill_value, dtype: np.dtype):
    """A gather's `fill` attr: the value as a `dtype` scalar, or None (the dtype's default) when
    omitted or NaN, so equal fills give equal attrs (NaN != NaN would defeat the caches)."""
    if fill_value is None:
        return None
    v = np.asarray(fill_value, dtype=dtype).item()
    return None if isinstance(v, float) and v != v else v


def default_fill(dtype: np.dtype):
    """JAX's fill for out of range reads: NaN for floats, the most negative value for signed
    integers, True for bools."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return float("nan")
    if dtype.kind == "b":
        return True
    return int(np.iinfo(dtype).min)
