"""Conformance of kn.nn's convolution and pooling over Hypothesis-drawn configurations.

conv2d over batch, channels, spatial sizes, output channels, kernel sizes, strides,
asymmetric paddings, dilations, groups (depthwise included) and optional bias; max / avg
pooling over windows, strides and paddings of at most half the window; global average
pooling. Each is checked eagerly and under kn.jit, in float32 and float64, against the
float64 NumPy references of conv_ref.py and (optionally) torch.nn.functional; gradients
against central differences in float64; the layers against the functional ops; and the
shape errors, which must name the op and the shapes rather than crash.

(test_conv.py holds the fixed cases, d2l's pooling examples and the 1x1-conv-as-matmul check.)
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiln as kn
from kiln.errors import DTypeError, ShapeError

from .conv_ref import pads, ref_avg_pool, ref_conv, ref_max_pool
from .helpers import central_diff

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
DTYPES = [np.float32, np.float64]
# float32 inputs against a float64 reference: ~1e-4 relative; float64 against float64: 1e-10.
TOL = {np.float32: {"rtol": 1e-4, "atol": 1e-4}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}


def _np(a) -> np.ndarray:
    return np.asarray(a.numpy() if hasattr(a, "numpy") else a)


# ----------------------------------------------------------------------------- strategies
def _spelled_pair(draw, a: int, b: int):
    """(a, b) as kiln accepts it: an int when equal (sometimes), else a pair."""
    return a if a == b and draw(st.booleans()) else (a, b)


def _spelled_padding(draw, p):
    """((top, bottom), (left, right)) in one of kiln's three spellings where it can be."""
    (pt, pb), (pl, pr) = p
    if pt == pb == pl == pr and draw(st.booleans()):
        return pt
    if pt == pb and pl == pr and draw(st.booleans()):
        return (pt, pl)
    return p


def _draw_padding(draw, max_h: int, max_w: int):
    """((top, bottom), (left, right)), symmetric half of the time (PyTorch's own padding)."""
    if draw(st.booleans()):
        ph, pw = draw(st.integers(0, max_h)), draw(st.integers(0, max_w))
        return (ph, ph), (pw, pw)
    return ((draw(st.integers(0, max_h)), draw(st.integers(0, max_h))),
            (draw(st.integers(0, max_w)), draw(st.integers(0, max_w))))


def _spatial(draw, k: int, d: int, lo: int, hi: int, max_extra: int = 4) -> int:
    """An input size for which the (dilated) window fits the padded input at least once."""
    need = max(1, d * (k - 1) + 1 - lo - hi)
    return draw(st.integers(need, need + max_extra))


@st.composite
def conv_cases(draw):
    """A conv2d configuration: shapes, the kiln spellings of its arguments and their pairs."""
    if draw(st.booleans()):  # depthwise: one input channel per group, a multiplier of outputs
        groups, cg = draw(st.integers(1, 4)), 1
    else:
        # up to 5 channels per group: C/G·KH·KW spans small direct sums and larger GEMMs
        groups, cg = draw(st.sampled_from([1, 1, 2, 3])), draw(st.sampled_from([1, 2, 3, 5]))
    og = draw(st.integers(1, 3))
    n = draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    p = _draw_padding(draw, 3, 3)
    h, w = _spatial(draw, kh, dh, *p[0]), _spatial(draw, kw, dw, *p[1])
    return {"x": (n, groups * cg, h, w), "w": (groups * og, cg, kh, kw), "bias": draw(st.booleans()),
                "stride": _spelled_pair(draw, sh, sw), "padding": _spelled_padding(draw, p),
                "dilation": _spelled_pair(draw, dh, dw), "groups": groups}


@st.composite
def pool_cases(draw):
    """A pooling configuration with padding at most half the window on every side."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = None
    if draw(st.booleans()):
        stride = _spelled_pair(draw, draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = _draw_padding(draw, kh // 2, kw // 2)
    h, w = _spatial(draw, kh, 1, *p[0]), _spatial(draw, kw, 1, *p[1])
    return {"x": (n, c, h, w), "kernel": _spelled_pair(draw, kh, kw), "stride": stride,
                "padding": _spelled_padding(draw, p)}


def _conv_args(case, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(case["x"]).astype(dtype)
    w = rng.standard_normal(case["w"]).astype(dtype)
    b = rng.standard_normal(case["w"][0]).astype(dtype) if case["bias"] else None
    return x, w, b


def _conv_fn(case):
    kw = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    return lambda x, w, b: kn.nn.conv2d(x, w, b, **kw)


def _conv_ref(case, x, w, b):
    f64 = (lambda a: None if a is None else a.astype(np.float64))
    return ref_conv(f64(x), f64(w), f64(b), case["stride"], case["padding"], case["dilation"], case["groups"])


def _pool_fn(kind, case):
    pool = kn.nn.max_pool2d if kind == "max" else kn.nn.avg_pool2d
    return lambda x: pool(x, case["kernel"], stride=case["stride"], padding=case["padding"])


def _pool_ref(kind, case, x):
    ref = ref_max_pool if kind == "max" else ref_avg_pool
    return ref(x.astype(np.float64), case["kernel"], case["stride"], case["padding"])


def _check_both_modes(fn, args, want, dtype):
    """fn(*args) eagerly and under a fresh kn.jit: dtype kept, shape and values as `want`."""
    for mode in ("eager", "jit"):
        got = (fn if mode == "eager" else kn.jit(fn))(*args)
        assert isinstance(got, kn.Array), (mode, type(got))
        assert got.dtype == dtype, (mode, got.dtype)
        assert got.shape == want.shape, (mode, got.shape, want.shape)
        np.testing.assert_allclose(_np(got), want, **TOL[dtype], err_msg=mode)


# ----------------------------------------------------------------------------- vs NumPy
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@settings(max_examples=25, **SETTINGS)
@given(case=conv_cases(), seed=st.integers(0, 2 ** 16))
def test_conv2d_matches_numpy(dtype, case, seed) -> None:
    x, w, b = _conv_args(case, dtype, seed)
    _check_both_modes(_conv_fn(case), (x, w, b), _conv_ref(case, x, w, b), dtype)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@settings(max_examples=15, **SETTINGS)
@given(case=pool_cases(), seed=st.integers(0, 2 ** 16))
def test_pool2d_matches_numpy(kind, dtype, case, seed) -> None:
    x = np.random.default_rng(seed).standard_normal(case["x"]).astype(dtype)
    _check_both_modes(_pool_fn(kind, case), (x,), _pool_ref(kind, case, x), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@settings(max_examples=10, **SETTINGS)
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6)),
       keepdims=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_global_avg_pool2d_matches_numpy(dtype, shape, keepdims, seed) -> None:
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    want = x.astype(np.float64).mean(axis=(2, 3), keepdims=keepdims)
    _check_both_modes(lambda x: kn.nn.global_avg_pool2d(x, keepdims=keepdims), (x,), want, dtype)


def test_global_avg_pool2d_keeps_dims_by_default() -> None:
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    got = kn.nn.global_avg_pool2d(x)
    assert got.shape == (2, 3, 1, 1)
    np.testing.assert_array_equal(_np(got)[..., 0, 0], x.mean(axis=(2, 3)))


def test_max_pool2d_of_integers_pads_with_the_minimum() -> None:
    x = -np.arange(1, 26, dtype=np.int32).reshape(1, 1, 5, 5) * 1000  # all negative: padding must not win
    got = kn.nn.max_pool2d(x, 3, stride=2, padding=1)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(_np(got), ref_max_pool(x.astype(np.float64), 3, 2, 1).astype(np.int32))


def test_max_pool2d_all_negative_window_in_padding_corner() -> None:
    # Each corner window is mostly padding; the maximum is the one real (negative) element.
    x = np.full((1, 1, 3, 3), -5.0, np.float32)
    got = kn.jit(lambda x: kn.nn.max_pool2d(x, 2, stride=2, padding=1))(x)
    np.testing.assert_array_equal(_np(got), np.full((1, 1, 2, 2), -5.0, np.float32))


# ----------------------------------------------------------------------------- vs PyTorch
def _torch_padded(torch, x, padding, fill):
    (pt, pb), (pl, pr) = pads(padding)
    return torch.nn.functional.pad(x, (pl, pr, pt, pb), value=fill)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@settings(max_examples=12, **SETTINGS)
@given(case=conv_cases(), seed=st.integers(0, 2 ** 16))
def test_conv2d_matches_torch(dtype, case, seed) -> None:
    torch = pytest.importorskip("torch")
    x, w, b = _conv_args(case, dtype, seed)
    (pt, pb), (pl, pr) = pads(case["padding"])
    tx, tw = torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64))
    tb = None if b is None else torch.from_numpy(b.astype(np.float64))
    s, d, g = case["stride"], case["dilation"], case["groups"]
    if pt == pb and pl == pr:  # torch pads symmetrically itself; otherwise pad first
        want = torch.nn.functional.conv2d(tx, tw, tb, s, (pt, pl), d, g)
    else:
        want = torch.nn.functional.conv2d(_torch_padded(torch, tx, case["padding"], 0.0), tw, tb, s, 0, d, g)
    _check_both_modes(_conv_fn(case), (x, w, b), want.numpy(), dtype)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@settings(max_examples=10, **SETTINGS)
@given(case=pool_cases(), seed=st.integers(0, 2 ** 16))
def test_pool2d_matches_torch(kind, dtype, case, seed) -> None:
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.random.default_rng(seed).standard_normal(case["x"]).astype(dtype)
    tx = torch.from_numpy(x.astype(np.float64))
    (pt, pb), (pl, pr) = pads(case["padding"])
    k, s = case["kernel"], case["kernel"] if case["stride"] is None else case["stride"]
    if pt == pb and pl == pr:  # torch's own (symmetric) padding, at most half the window
        want = (F.max_pool2d(tx, k, s, (pt, pl)) if kind == "max"
                else F.avg_pool2d(tx, k, s, (pt, pl), count_include_pad=True))
    else:
        tp = _torch_padded(torch, tx, case["padding"], float("-inf") if kind == "max" else 0.0)
        want = F.max_pool2d(tp, k, s) if kind == "max" else F.avg_pool2d(tp, k, s)
    _check_both_modes(_pool_fn(kind, case), (x,), want.numpy(), dtype)


@settings(max_examples=6, **SETTINGS)
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.integers(1, 6)),
       seed=st.integers(0, 2 ** 16))
def test_global_avg_pool2d_matches_torch(shape, seed) -> None:
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(seed).standard_normal(shape)
    want = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(x), 1).numpy()
    _check_both_modes(kn.nn.global_avg_pool2d, (x,), want, np.float64)


# ----------------------------------------------------------------------------- gradients
def _check_grads(loss, args, argnums, rtol=1e-5, atol=1e-7):
    """kn.grad of loss w.r.t. args[argnums] (eagerly) against central differences (through
    one compiled loss, so the difference loop runs cached native code)."""
    grads = kn.grad(loss, argnums=argnums)(*args)
    compiled = kn.jit(loss)
    for k, g in zip(argnums, grads):
        def at(a, k=k):
            return compiled(*[a if i == k else v for i, v in enumerate(args)])
        assert g.shape == np.shape(args[k]), (k, g.shape)
        np.testing.assert_allclose(_np(g), central_diff(at, args[k]), rtol=rtol, atol=atol,
                                   err_msg=f"arg {k}")


@st.composite
def small_conv_cases(draw):
    """conv_cases kept small, so the difference loop over x, w and b stays short."""
    groups = draw(st.sampled_from([1, 2]))
    cg, og = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    p = _draw_padding(draw, 2, 2)
    h, w = _spatial(draw, kh, dh, *p[0], max_extra=2), _spatial(draw, kw, dw, *p[1], max_extra=2)
    return {"x": (draw(st.integers(1, 2)), groups * cg, h, w), "w": (groups * og, cg, kh, kw), "bias": True,
            "stride": _spelled_pair(draw, draw(st.integers(1, 2)), draw(st.integers(1, 2))),
            "padding": _spelled_padding(draw, p), "dilation": _spelled_pair(draw, dh, dw), "groups": groups}


@settings(max_examples=8, **SETTINGS)
@given(case=small_conv_cases(), seed=st.integers(0, 2 ** 16))
def test_conv2d_gradients_match_finite_differences(case, seed) -> None:
    x, w, b = _conv_args(case, np.float64, seed)
    c = np.random.default_rng(seed + 1).standard_normal(_conv_ref(case, x, w, b).shape)
    conv = _conv_fn(case)
    _check_grads(lambda x, w, b: (conv(x, w, b) * c).sum(), (x, w, b), (0, 1, 2))


def _distinct(shape, seed):
    """Values 0.1 apart in random order: no ties in any window, at any difference step."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2) * 0.1


@pytest.mark.parametrize("kind", ["max", "avg"])
@settings(max_examples=6, **SETTINGS)
@given(case=pool_cases(), seed=st.integers(0, 2 ** 16))
def test_pool2d_gradients_match_finite_differences(kind, case, seed) -> None:
    x = _distinct(case["x"], seed)
    c = np.random.default_rng(seed + 1).standard_normal(_pool_ref(kind, case, x).shape)
    pool = _pool_fn(kind, case)
    _check_grads(lambda x: (pool(x) * c).sum(), (x,), (0,))


@settings(max_examples=4, **SETTINGS)
@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)),
       keepdims=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_global_avg_pool2d_gradients_match_finite_differences(shape, keepdims, seed) -> None:
    rng = np.random.default_rng(seed)
    x, c = rng.standard_normal(shape), rng.standard_normal(shape[:2] + ((1, 1) if keepdims else ()))
    _check_grads(lambda x: (kn.nn.global_avg_pool2d(x, keepdims=keepdims) * c).sum(), (x,), (0,))


def test_conv2d_gradient_compiled_equals_eager() -> None:
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    c = rng.standard_normal((2, 6, 3, 5))

    def loss(x, w, b):
        y = kn.nn.conv2d(x, w, b, stride=(2, 1), padding=((1, 0), (1, 1)), dilation=(1, 2), groups=2)
        return (y * c).sum()
    eager = kn.grad(loss, argnums=(0, 1, 2))(x, w, b)
    compiled = kn.jit(kn.grad(loss, argnums=(0, 1, 2)))(x, w, b)
    for e, j in zip(eager, compiled):
        np.testing.assert_allclose(_np(j), _np(e), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- layers
@pytest.mark.parametrize("kwargs", [
    {"channels": 4, "kernel_size": 3},
    {"channels": 6, "kernel_size": (2, 3), "stride": (2, 1), "padding": ((1, 0), (0, 2)), "dilation": (1, 2),
     "groups": 2},
    {"channels": 4, "kernel_size": 3, "padding": 1, "groups": 4, "use_bias": False},  # depthwise
    {"channels": 3, "kernel_size": 1, "activation": "relu"},
], ids=["plain", "grouped", "depthwise", "relu"])
@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_conv2d_layer_matches_functional(kwargs, mode) -> None:
    x = np.random.default_rng(1).standard_normal((2, 4, 7, 6)).astype(np.float32)
    layer = kn.nn.Conv2D(**kwargs)
    got = _np((kn.jit(lambda x: layer(x)) if mode == "jit" else layer)(x))
    k = kwargs["kernel_size"]
    k = (k, k) if isinstance(k, int) else k
    groups = kwargs.get("groups", 1)
    assert layer.kernel.shape == (kwargs["channels"], 4 // groups) + k
    use_bias = kwargs.get("use_bias", True)
    want_shapes = [layer.kernel.shape] + ([(kwargs["channels"],)] if use_bias else [])
    assert [v.shape for v in layer.trainable_variables] == want_shapes
    want = ref_conv(x.astype(np.float64), layer.kernel.numpy().astype(np.float64),
                    layer.bias.numpy().astype(np.float64) if use_bias else None, kwargs.get("stride", 1),
                    kwargs.get("padding", 0), kwargs.get("dilation", 1), groups)
    if kwargs.get("activation") == "relu":
        want = np.maximum(want, 0.0)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_pooling_layers_match_functional(mode) -> None:
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 8)).astype(np.float32)
    run = (lambda m: kn.jit(lambda x: m(x))(x)) if mode == "jit" else (lambda m: m(x))
    np.testing.assert_array_equal(_np(run(kn.nn.MaxPool2D())), ref_max_pool(x, 2).astype(np.float32))
    got = run(kn.nn.MaxPool2D(3, stride=2, padding=1))
    np.testing.assert_allclose(_np(got), ref_max_pool(x, 3, 2, 1), rtol=1e-6)
    got = run(kn.nn.AvgPool2D((3, 2), stride=(2, 3), padding=(1, 1)))
    np.testing.assert_allclose(_np(got), ref_avg_pool(x.astype(np.float64), (3, 2), (2, 3), (1, 1)),
                               rtol=1e-5, atol=1e-6)
    gap = run(kn.nn.GlobalAvgPool2D())
    assert gap.shape == (2, 3, 1, 1)
    np.testing.assert_allclose(_np(gap), x.mean(axis=(2, 3), keepdims=True), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- errors
def _z(*shape, dtype=np.float32):
    return np.zeros(shape, dtype)


def _raises(exc, fn, *words):
    """fn() raises exc (a kiln error, never a crash), its message naming every word."""
    with pytest.raises(exc) as info:
        fn()
    text = str(info.value)
    for word in words:
        assert word in text, (word, text)
    return info.value


SHAPE_ERRORS = {  # name: (call, words its message must hold)
    "conv2d input rank": (lambda: kn.nn.conv2d(_z(3, 5, 5), _z(2, 3, 3, 3)), ["conv2d", "(3, 5, 5)"]),
    "conv2d kernel rank": (lambda: kn.nn.conv2d(_z(1, 3, 5, 5), _z(2, 3, 3)), ["conv2d", "(2, 3, 3)"]),
    "conv2d channels": (lambda: kn.nn.conv2d(_z(1, 3, 5, 5), _z(2, 2, 3, 3)),
                        ["conv2d", "(2, 2, 3, 3)", "3"]),
    "conv2d groups split channels": (lambda: kn.nn.conv2d(_z(1, 4, 5, 5), _z(4, 3, 3, 3), groups=2),
                                     ["conv2d", "(4, 3, 3, 3)", "groups=2"]),
    "conv2d groups split outputs": (lambda: kn.nn.conv2d(_z(1, 4, 5, 5), _z(3, 2, 3, 3), groups=2),
                                    ["conv2d", "(3, 2, 3, 3)", "groups=2"]),
    "conv2d groups 0": (lambda: kn.nn.conv2d(_z(1, 4, 5, 5), _z(4, 2, 3, 3), groups=0),
                        ["conv2d", "groups=0"]),
    "conv2d depthwise channels": (lambda: kn.nn.conv2d(_z(1, 3, 5, 5), _z(4, 1, 3, 3), groups=4),
                                  ["conv2d", "(4, 1, 3, 3)"]),
    "conv2d kernel too large": (lambda: kn.nn.conv2d(_z(1, 1, 3, 3), _z(1, 1, 5, 5)),
                                ["conv2d", "(1, 1, 3, 3)"]),
    "conv2d kernel too large after padding": (lambda: kn.nn.conv2d(_z(1, 1, 3, 3), _z(1, 1, 6, 6), padding=1),
                                              ["conv2d", "(1, 1, 3, 3)"]),
    "conv2d dilated kernel too large": (lambda: kn.nn.conv2d(_z(1, 1, 5, 5), _z(1, 1, 3, 3), dilation=3),
                                        ["conv2d", "(1, 1, 5, 5)"]),
    "conv2d negative padding": (lambda: kn.nn.conv2d(_z(1, 1, 5, 5), _z(1, 1, 3, 3), padding=-1), ["conv2d"]),
    "max_pool2d rank": (lambda: kn.nn.max_pool2d(_z(1, 5, 5), 2), ["max_pool2d", "(1, 5, 5)"]),
    "avg_pool2d rank": (lambda: kn.nn.avg_pool2d(_z(2, 1, 1, 5, 5), 2), ["avg_pool2d", "(2, 1, 1, 5, 5)"]),
    "max_pool2d kernel too large": (lambda: kn.nn.max_pool2d(_z(1, 1, 2, 5), 3),
                                    ["max_pool2d", "(1, 1, 2, 5)"]),
    "avg_pool2d kernel too large": (lambda: kn.nn.avg_pool2d(_z(1, 1, 5, 2), (2, 3)),
                                    ["avg_pool2d", "(1, 1, 5, 2)"]),
    "max_pool2d padding over half": (lambda: kn.nn.max_pool2d(_z(1, 1, 5, 5), 2, padding=2),
                                     ["max_pool2d", "(2, 2)"]),
    "max_pool2d one-sided padding over half": (
        lambda: kn.nn.max_pool2d(_z(1, 1, 5, 5), 3, padding=((0, 2), (1, 1))), ["max_pool2d", "(3, 3)"]),
    "avg_pool2d padding over half": (lambda: kn.nn.avg_pool2d(_z(1, 1, 8, 8), (4, 2), padding=(1, 2)),
                                     ["avg_pool2d", "(4, 2)"]),
    "global_avg_pool2d rank": (lambda: kn.nn.global_avg_pool2d(_z(2, 3)), ["global_avg_pool2d", "(2, 3)"]),
}


@pytest.mark.parametrize("name", list(SHAPE_ERRORS))
def test_shape_errors_name_the_op_and_shapes(name) -> None:
    call, words = SHAPE_ERRORS[name]
    err = _raises(ShapeError, call, *words)
    assert isinstance(err, kn.ShapeError)
    assert "test_conv_conformance.py" in str(err), str(err)  # the user's line


def test_shape_errors_under_jit_name_the_op_and_shapes() -> None:
    _raises(ShapeError, lambda: kn.jit(lambda x, w: kn.nn.conv2d(x, w))(_z(1, 3, 5, 5), _z(2, 2, 3, 3)),
            "conv2d", "(2, 2, 3, 3)")
    _raises(ShapeError, lambda: kn.jit(lambda x: kn.nn.max_pool2d(x, 3, padding=2))(_z(1, 1, 6, 6)),
            "max_pool2d")
    _raises(ShapeError, lambda: kn.jit(lambda x: kn.nn.avg_pool2d(x, 4))(_z(1, 1, 3, 6)),
            "avg_pool2d", "(1, 1, 3, 6)")


def test_conv2d_dtype_mismatch_is_a_dtype_error() -> None:
    err = _raises(DTypeError, lambda: kn.nn.conv2d(_z(1, 1, 5, 5), _z(1, 1, 3, 3, dtype=np.float64)),
                  "conv2d", "float32", "float64")
    assert isinstance(err, TypeError)


def test_layer_shape_errors_name_the_layer() -> None:
    _raises(ShapeError, lambda: kn.nn.Conv2D(4, 3, groups=3)(_z(1, 4, 5, 5)), "Conv2D", "(1, 4, 5, 5)")
    _raises(ShapeError, lambda: kn.nn.Conv2D(4, 3)(_z(4, 5, 5)), "Conv2D", "(4, 5, 5)")
    _raises(ShapeError, lambda: kn.nn.MaxPool2D(3, padding=2)(_z(1, 1, 6, 6)), "max_pool2d")


def test_conv2d_bias_length_error_names_conv2d() -> None:
    _raises(ShapeError, lambda: kn.nn.conv2d(_z(1, 3, 5, 5), _z(2, 3, 3, 3), _z(3)), "conv2d", "(3,)")


@pytest.mark.parametrize("call", [
    lambda: kn.nn.conv2d(_z(1, 1, 5, 5), _z(1, 1, 3, 3), stride=0),
    lambda: kn.nn.max_pool2d(_z(1, 1, 5, 5), 2, stride=(1, 0)),
    lambda: kn.nn.avg_pool2d(_z(1, 1, 5, 5), 3, stride=0),
    lambda: kn.nn.max_pool2d(_z(1, 1, 5, 5), 0),
], ids=["conv2d-stride", "max_pool2d-stride", "avg_pool2d-stride", "max_pool2d-kernel"])
def test_zero_stride_or_kernel_is_a_shape_error(call) -> None:
    _raises(ShapeError, call)


def test_error_message_names_the_op_once() -> None:
    err = _raises(ShapeError, lambda: kn.nn.conv2d(_z(1, 3, 5, 5), _z(2, 2, 3, 3)), "conv2d")
    assert "conv2d: conv2d" not in str(err), str(err)
