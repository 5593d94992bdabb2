"""kn.random: shapes, dtypes, ranges and statistics (NumPy has no counter-based twin to compare with).

Statistical bounds are 6 sigma (a false alarm about once in 10^8 draws); they are only
checked when a draw has at least MIN_STATS elements.
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from .harness import Case, Example, kn, shape

MIN_STATS = 2000
TRUNC_STD = 0.8796256610342398  # std of a standard normal truncated to [-2, 2]


def _draw_shape(data):
    big = data.draw(st.sampled_from([None, (4000,), (50, 80), (2, 30, 40)]), label="large_shape")
    return big if big is not None else shape(data, max_dims=3)


def _draw(with_dtype: bool, params):
    def draw(data):
        static = {"shape": _draw_shape(data), "seed": data.draw(st.integers(0, 2**31 - 1), label="seed")}
        static.update({k: data.draw(v, label=k) for k, v in params.items()})
        if with_dtype:
            static["dtype"] = data.draw(st.sampled_from([None, "float32", "float64"]), label="dtype")
        return Example((), static)
    return draw


def _kw(static, names):
    kw = {k: static[k] for k in names}
    if static.get("dtype") is not None:
        kw["dtype"] = static["dtype"]
    return kw


def _common(ex, got, float_result: bool = True) -> np.ndarray:
    g = np.asarray(got)
    want_shape = (ex.static["shape"],) if isinstance(ex.static["shape"], int) else tuple(ex.static["shape"])
    assert g.shape == want_shape, f"shape {g.shape}, expected {want_shape}"
    if float_result:
        want = np.dtype(ex.static.get("dtype") or "float32")
        assert g.dtype == want, f"dtype {g.dtype}, expected {want}"
        assert np.isfinite(g).all(), "non-finite random numbers"
    return g.astype(np.float64)


def _near(name: str, got: float, want: float, sigma: float) -> None:
    assert abs(got - want) <= 6 * sigma + 1e-12, f"{name} {got:.6g}, expected {want:.6g} +- {6 * sigma:.3g}"


def _uncorrelated(g: np.ndarray) -> None:
    """Neighbouring draws must not be correlated (a reused Philox counter shows up here)."""
    flat = g.ravel()
    if flat.std() == 0:
        return
    c = np.corrcoef(flat[:-1], flat[1:])[0, 1]
    _near("lag-1 correlation", c, 0.0, 1 / math.sqrt(flat.size))
    half = flat.size // 2
    if half > 1 and flat[:half].std() > 0:
        c2 = np.corrcoef(flat[:half], flat[half:2 * half])[0, 1]
        _near("correlation of the two halves", c2, 0.0, 1 / math.sqrt(half))


def _check_normal(ex, got, mode):
    g = _common(ex, got)
    mu, sd, n = ex.static["mean"], ex.static["stddev"], g.size
    if n >= MIN_STATS:
        _near("mean", g.mean(), mu, sd / math.sqrt(n))
        _near("std", g.std(), sd, sd / math.sqrt(2 * n))
        _near("P(|z|<1)", np.mean(np.abs(g - mu) < sd), 0.6826894921, math.sqrt(0.6827 * 0.3173 / n))
        _uncorrelated(g)


def _check_truncated(ex, got, mode):
    g = _common(ex, got)
    mu, sd, n = ex.static["mean"], ex.static["stddev"], g.size
    assert (np.abs(g - mu) <= 2 * sd * (1 + 1e-6)).all(), "truncated_normal drew beyond 2 stddev"
    if n >= MIN_STATS:
        _near("mean", g.mean(), mu, TRUNC_STD * sd / math.sqrt(n))
        _near("std", g.std(), TRUNC_STD * sd, sd / math.sqrt(2 * n))
        _uncorrelated(g)


def _check_uniform(ex, got, mode):
    g = _common(ex, got)
    lo, hi, n = ex.static["minval"], ex.static["maxval"], g.size
    assert ((g >= lo) & (g <= hi)).all(), f"uniform outside [{lo}, {hi}): {g.min()}..{g.max()}"
    assert n < 10 or (g < hi).mean() > 0.999, "uniform returns maxval too often"
    if n >= MIN_STATS:
        w = hi - lo
        _near("mean", g.mean(), (lo + hi) / 2, w / math.sqrt(12 * n))
        _near("P(x < mid)", np.mean(g < lo + w / 2), 0.5, 0.5 / math.sqrt(n))
        _near("P(x < lo + w/10)", np.mean(g < lo + w / 10), 0.1, 0.3 / math.sqrt(n))
        _uncorrelated(g)


def _check_bernoulli(ex, got, mode):
    g = np.asarray(got)
    want_shape = tuple(ex.static["shape"])
    assert g.shape == want_shape, f"shape {g.shape}, expected {want_shape}"
    # NOTE: API.md does not fix bernoulli's dtype; JAX returns bool. Any 0/1 dtype passes.
    assert g.dtype in (np.dtype(bool), np.dtype("float32"), np.dtype("int32")), f"dtype {g.dtype}"
    g = g.astype(np.float64)
    assert np.isin(g, (0.0, 1.0)).all(), "bernoulli drew values other than 0/1"
    p, n = ex.static["p"], g.size
    if p in (0.0, 1.0):
        assert (g == p).all(), f"bernoulli(p={p}) is not constant"
    elif n >= MIN_STATS:
        _near("mean", g.mean(), p, math.sqrt(p * (1 - p) / n))
        _uncorrelated(g)


def cases() -> list[Case]:
    locs = {"mean": st.sampled_from([0.0, 1.5, -3.0]), "stddev": st.sampled_from([1.0, 0.5, 4.0])}
    return [
        Case("random.normal", _draw(True, locs),
             lambda *, shape, seed, mean, stddev, dtype: kn.random.normal(
                 shape, **_kw(locals(), ["mean", "stddev"])),
             kind="random", check=_check_normal, examples=8),
        Case("random.truncated_normal", _draw(True, locs),
             lambda *, shape, seed, mean, stddev, dtype: kn.random.truncated_normal(
                 shape, **_kw(locals(), ["mean", "stddev"])),
             kind="random", check=_check_truncated, examples=8),
        Case("random.uniform", _draw(True, {"minval": st.sampled_from([0.0, -2.0, 0.5]),
                                            "maxval": st.sampled_from([1.0, 12.5])}),
             lambda *, shape, seed, minval, maxval, dtype: kn.random.uniform(
                 shape, **_kw(locals(), ["minval", "maxval"])),
             kind="random", check=_check_uniform, examples=8),
        Case("random.bernoulli", _draw(False, {"p": st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0])}),
             lambda *, shape, seed, p: kn.random.bernoulli(p, shape),
             kind="random", check=_check_bernoulli, examples=8),
    ]
