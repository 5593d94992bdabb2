"""Input values for fuzzed graphs: every kiln dtype, with the special floats (NaN, ±Inf, -0.0,
subnormals, extremes) and the integer edges (0, ±1, min, max) drawn often."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kiln.ir import dtypes as dt


def _special_floats(np_type: type) -> list[float]:
    info = np.finfo(np_type)
    tiny_sub = float(np.nextafter(np_type(0), np_type(1)))
    return [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5, -2.0, 3.0, tiny_sub, -tiny_sub,
            float(info.tiny), float(info.tiny) / 4, float(info.max), float(-info.max), 1e-3, 88.5, -104.0]


def floats(d: dt.DType) -> st.SearchStrategy:
    """Ordinary values most of the time (small magnitudes, exact grid values), specials often."""
    width = d.bits
    ordinary = st.floats(-100, 100, width=width, allow_subnormal=False)
    grid = st.integers(-8, 8).map(lambda k: k * 0.5)
    wide = st.floats(width=width, allow_nan=True, allow_infinity=True, allow_subnormal=True)
    return st.one_of(ordinary, grid, st.sampled_from(_special_floats(d.np.type)), wide)


def ints(d: dt.DType) -> st.SearchStrategy:
    info = np.iinfo(d.np)
    edges = [0, 1, -1, 2, int(info.min), int(info.max), int(info.min) + 1, int(info.max) - 1]
    return st.one_of(st.integers(-10, 10), st.sampled_from(edges), st.integers(int(info.min), int(info.max)))


def elements(d: dt.DType) -> st.SearchStrategy:
    if d.is_float:
        return floats(d)
    if d.is_int:
        return ints(d)
    return st.booleans()


def array(d: dt.DType, shape: tuple[int, ...], elems: st.SearchStrategy | None = None) -> st.SearchStrategy:
    return hnp.arrays(d.np, shape, elements=elems if elems is not None else elements(d)).map(np.asarray)


DTYPES = st.sampled_from(dt.ALL)
SIDE = st.one_of(st.integers(0, 4), st.just(1))  # size-1 dims often (broadcasting), size 0 sometimes
