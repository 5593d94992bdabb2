"""kn.nn.init: shapes, dtypes, the variance-scaling formulas on large draws, get() by name."""
from __future__ import annotations

import math

import numpy as np
import pytest

import kiln as kn
from .helpers import np_of

I = kn.nn.init
NAMES = ["zeros", "ones", "normal", "truncated_normal", "uniform", "glorot_uniform", "glorot_normal",
         "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "kaiming_uniform", "kaiming_normal"]

DENSE = (300, 500)       # (in, out): fan_in 300, fan_out 500
CONV = (64, 32, 5, 5)    # OIHW: fan_in 32*25 = 800, fan_out 64*25 = 1600
# truncation at two standard deviations keeps this fraction of the variance
TRUNC_VAR = 1.0 - 4.0 * math.exp(-2.0) / math.sqrt(2 * math.pi) / math.erf(2 / math.sqrt(2))


@pytest.mark.parametrize("name", NAMES)
def test_get_by_name_shapes_and_dtypes(name) -> None:
    init = I.get(name)
    for shape, dtype, want in [((3, 4), kn.float32, kn.float32), ((2, 3, 3, 3), kn.float64, kn.float64),
                               ((5,), "float32", kn.float32), ((), np.float64, kn.float64)]:
        v = init(shape, dtype)
        assert isinstance(v, kn.Array)
        assert v.shape == shape and v.dtype == want
        assert np.all(np.isfinite(np_of(v)))


def test_default_dtype_is_float32_and_shape_may_be_a_list() -> None:
    v = I.glorot_uniform()([4, 6])
    assert v.shape == (4, 6) and v.dtype == kn.float32


def test_constant_initializers() -> None:
    np.testing.assert_array_equal(np_of(I.zeros()((2, 3), kn.float32)), np.zeros((2, 3)))
    np.testing.assert_array_equal(np_of(I.ones()((2, 3), kn.float64)), np.ones((2, 3)))
    np.testing.assert_array_equal(np_of(I.constant(0.25)((4,), kn.float32)), np.full(4, 0.25))


def test_get_unknown_name_raises_and_callables_pass_through() -> None:
    with pytest.raises(ValueError, match="unknown initializer"):
        I.get("glorot_uniformish")

    def custom(shape, dtype=kn.float32):
        return kn.full(shape, 3.0, dtype=dtype)
    assert I.get(custom) is custom
    d = kn.nn.Dense(2, kernel_initializer=custom, bias_initializer="ones")
    d(np.zeros((1, 3), np.float32))
    np.testing.assert_array_equal(d.kernel.numpy(), np.full((3, 2), 3.0))
    np.testing.assert_array_equal(d.bias.numpy(), np.ones(2))


# (name, expected variance as a function of (fan_in, fan_out), uniform?)
SCALING = [
    ("glorot_uniform", lambda fi, fo: 2.0 / (fi + fo), True),
    ("glorot_normal", lambda fi, fo: 2.0 / (fi + fo), False),
    ("xavier_uniform", lambda fi, fo: 2.0 / (fi + fo), True),
    ("he_uniform", lambda fi, fo: 2.0 / fi, True),
    ("he_normal", lambda fi, fo: 2.0 / fi, False),
    ("kaiming_normal", lambda fi, fo: 2.0 / fi, False),
]


@pytest.mark.parametrize("name,variance,is_uniform", SCALING, ids=[s[0] for s in SCALING])
@pytest.mark.parametrize("shape,fans", [(DENSE, (300, 500)), (CONV, (800, 1600))], ids=["dense", "oihw"])
def test_variance_scaling_statistics(name, variance, is_uniform, shape, fans) -> None:
    kn.random.seed(11)
    v = np_of(I.get(name)(shape, kn.float64))
    var = variance(*fans)
    n = v.size
    assert abs(v.mean()) < 5 * math.sqrt(var / n)
    # relative standard error of a sample variance: sqrt((kurtosis - 1)/n); 1.8 for uniform, 3 for normal
    kurt = 1.8 if is_uniform else 3.0
    assert abs(v.var() / var - 1.0) < 5 * math.sqrt((kurt - 1.0) / n)
    if is_uniform:
        limit = math.sqrt(3.0 * var)
        assert np.abs(v).max() <= limit
        assert np.abs(v).max() > 0.99 * limit
    else:
        assert np.abs(v).max() > 3.0 * math.sqrt(var)  # a real normal tail, not a uniform


def test_plain_normal_and_uniform_parameters() -> None:
    kn.random.seed(0)
    n = np_of(I.normal(mean=1.5, stddev=0.2)((400, 400), kn.float64))
    assert abs(n.mean() - 1.5) < 0.002 and abs(n.std() / 0.2 - 1.0) < 0.01
    u = np_of(I.uniform(-0.3, 0.7)((400, 400), kn.float64))
    assert u.min() >= -0.3 and u.max() <= 0.7
    assert abs(u.mean() - 0.2) < 0.003 and abs(u.var() / (1.0 / 12) - 1.0) < 0.01


@pytest.mark.parametrize("mean,stddev", [(0.0, 0.05), (2.0, 3.0)])
def test_truncated_normal_within_two_stddev(mean, stddev) -> None:
    kn.random.seed(3)
    v = np_of(I.truncated_normal(mean, stddev)((400, 400), kn.float64))
    assert np.all(np.abs(v - mean) <= 2.0 * stddev * (1 + 1e-9))
    assert np.abs(v - mean).max() > 1.95 * stddev
    assert abs(v.mean() - mean) < 0.01 * stddev
    assert abs(v.var() / (stddev ** 2 * TRUNC_VAR) - 1.0) < 0.015


def test_seeded_draws_repeat() -> None:
    init = I.he_normal()
    kn.random.seed(42)
    a = np_of(init((8, 8)))
    b = np_of(init((8, 8)))
    kn.random.seed(42)
    np.testing.assert_array_equal(np_of(init((8, 8))), a)
    assert not np.array_equal(a, b)


def test_initializer_called_inside_jit_gives_concrete_values() -> None:
    """A layer building itself during tracing still gets concrete initial values."""
    d = kn.nn.Dense(3, kernel_initializer="ones")
    f = kn.jit(lambda x: d(x))
    out = f(np.ones((2, 4), np.float32))
    np.testing.assert_array_equal(d.kernel.numpy(), np.ones((4, 3)))
    np.testing.assert_array_equal(np_of(out), np.full((2, 3), 4.0))
