"""End-to-end: d2l's CNN basics (conv-layer, padding-and-strides, channels, pooling), compiled.

The hand-written loops of ``examples/conv_basics.py`` and kiln's `kn.nn` ops must give d2l's
exact numbers and agree with NumPy; the edge kernel is learned back by compiled gradient
descent from several random starts; and the script runs as a user runs it.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kiln as kn

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"kiln_examples_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cb = _load("conv_basics")


def np_corr2d(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Float64 reference cross-correlation of one 2-D channel."""
    h, w = k.shape
    out = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), (h, w))
    return np.einsum("ijhw,hw->ij", out, k.astype(np.float64))


def np_corr2d_multi_in_out(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    return np.stack([sum(np_corr2d(xc, kc) for xc, kc in zip(x, ko)) for ko in k])


def np_gd(start: np.ndarray, steps: int, lr: float):
    """The same gradient descent in float64 NumPy: loss = sum((corr2d(X, w) - Y)^2)."""
    x = np.ones((6, 8))
    x[:, 2:6] = 0
    y = np_corr2d(x, np.array([[1.0, -1.0]]))
    w, losses = start.astype(np.float64).copy(), []
    for _ in range(steps):
        r = np_corr2d(x, w) - y
        losses.append(float((r ** 2).sum()))
        w -= lr * np.array([[2 * (r * x[:, :-1]).sum(), 2 * (r * x[:, 1:]).sum()]])
    return w, losses


# ---------------------------------------------------------------- conv-layer
EDGE_Y = np.zeros((6, 7), np.float32)
EDGE_Y[:, 1], EDGE_Y[:, 5] = 1, -1


def test_edge_image_is_d2ls() -> None:
    x = cb.edge_image().numpy()
    want = np.ones((6, 8), np.float32)
    want[:, 2:6] = 0
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, want)


def test_edge_detection_exact() -> None:
    y = cb.corr2d_jit(cb.edge_image(), cb.EDGE_KERNEL).numpy()
    assert y.shape == (6, 7) and y.dtype == np.float32
    np.testing.assert_array_equal(y, EDGE_Y)


def test_transposed_image_has_no_vertical_edges() -> None:
    y = cb.corr2d_jit(cb.edge_image().T, cb.EDGE_KERNEL).numpy()
    assert y.shape == (8, 5)
    np.testing.assert_array_equal(y, np.zeros((8, 5), np.float32))


def test_corr2d_matches_conv2d_on_random_data() -> None:
    rng = np.random.default_rng(0)
    x, k = rng.standard_normal((7, 9), np.float32), rng.standard_normal((3, 2), np.float32)
    loops = cb.corr2d_jit(x, k).numpy()
    conv = kn.nn.conv2d(x[None, None], k[None, None]).numpy()[0, 0]
    np.testing.assert_allclose(loops, np_corr2d(x, k), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(conv, loops, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_learning_the_edge_kernel(seed: int) -> None:
    got = cb.learn_kernel(seed, steps=10, lr=3e-2, quiet=True)
    assert got["traces"] == 1
    assert len(got["losses"]) == 10
    assert got["losses"][-1] < 0.1, got["losses"]
    assert all(b < a for a, b in zip(got["losses"], got["losses"][1:])), got["losses"]
    np.testing.assert_allclose(got["kernel"], [[1.0, -1.0]], atol=0.1)
    # the compiled step is exactly gradient descent: same path as float64 NumPy from the same start
    want_w, want_losses = np_gd(got["start"], 10, 3e-2)
    np.testing.assert_allclose(got["losses"], want_losses, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got["kernel"], want_w, rtol=1e-4, atol=1e-5)


def test_different_seeds_start_from_different_kernels() -> None:
    starts = [cb.learn_kernel(s, steps=1, quiet=True)["start"] for s in (0, 1)]
    assert not np.array_equal(*starts)


# ---------------------------------------------------------------- padding-and-strides
@pytest.mark.parametrize("name,conv,expected", cb.PADDING_CASES, ids=[c[0] for c in cb.PADDING_CASES])
def test_padding_and_stride_shapes(name: str, conv: dict, expected: tuple) -> None:
    x = kn.random.uniform((8, 8))
    assert tuple(cb.comp_conv2d(x, **dict(conv)).shape) == expected


# ---------------------------------------------------------------- channels
D2L_MULTI_IN = np.array([[56.0, 72.0], [104.0, 120.0]], np.float32)
D2L_MULTI_IN_OUT = np.array([[[56, 72], [104, 120]], [[76, 100], [148, 172]], [[96, 128], [192, 224]]],
                            np.float32)


def test_multi_input_channels() -> None:
    got = cb.multi_in_jit(cb.CHANNEL_X, cb.CHANNEL_K).numpy()
    np.testing.assert_array_equal(got, D2L_MULTI_IN)
    np.testing.assert_array_equal(got, np_corr2d_multi_in_out(cb.CHANNEL_X, cb.CHANNEL_K[None])[0])


def test_multi_input_output_channels() -> None:
    k = np.stack([cb.CHANNEL_K, cb.CHANNEL_K + 1, cb.CHANNEL_K + 2], 0)
    got = cb.multi_in_out_jit(cb.CHANNEL_X, k).numpy()
    assert got.shape == (3, 2, 2)
    np.testing.assert_array_equal(got, D2L_MULTI_IN_OUT)
    np.testing.assert_array_equal(got, np_corr2d_multi_in_out(cb.CHANNEL_X, k))
    np.testing.assert_array_equal(kn.nn.conv2d(cb.CHANNEL_X[None], k).numpy()[0], D2L_MULTI_IN_OUT)


@pytest.mark.parametrize("c_i,h,w,c_o", [(3, 3, 3, 2), (1, 4, 5, 3), (5, 2, 7, 4), (8, 1, 1, 1)])
def test_1x1_convolution_is_a_matmul(c_i: int, h: int, w: int, c_o: int) -> None:
    rng = np.random.default_rng(c_i * 100 + h * 10 + w)
    x, k = rng.standard_normal((c_i, h, w), np.float32), rng.standard_normal((c_o, c_i, 1, 1), np.float32)
    y1 = cb.one_by_one_jit(x, k).numpy()
    y2 = cb.multi_in_out_jit(x, k).numpy()
    y3 = kn.nn.conv2d(x[None], k).numpy()[0]
    assert y1.shape == y2.shape == y3.shape == (c_o, h, w)
    assert np.abs(y1 - y2).max() < 1e-6
    assert np.abs(y1 - y3).max() < 1e-6
    np.testing.assert_allclose(y1, np_corr2d_multi_in_out(x, k), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- pooling
D2L_3X3 = np.arange(9, dtype=np.float32).reshape(3, 3)


@pytest.mark.parametrize("mode,want", [("max", [[4, 5], [7, 8]]), ("avg", [[2, 3], [5, 6]])])
def test_pool2d_loops(mode: str, want) -> None:
    want = np.array(want, np.float32)
    np.testing.assert_array_equal(cb.pool2d_jit(D2L_3X3, (2, 2), mode).numpy(), want)
    op = kn.nn.max_pool2d if mode == "max" else kn.nn.avg_pool2d
    np.testing.assert_array_equal(op(D2L_3X3[None, None], 2, stride=1).numpy()[0, 0], want)


def _x16():
    return kn.arange(16, dtype=kn.float32).reshape(1, 1, 4, 4)


def test_max_pool_3x3_default_stride() -> None:
    got = kn.nn.max_pool2d(_x16(), 3).numpy()
    assert got.shape == (1, 1, 1, 1)
    np.testing.assert_array_equal(got, [[[[10.0]]]])


@pytest.mark.parametrize("kw", [{"kernel": 3, "padding": 1, "stride": 2},
                                {"kernel": (2, 3), "padding": (0, 1), "stride": (2, 3)}],
                         ids=["3x3-pad1-stride2", "2x3-pad01-stride23"])
def test_max_pool_padding_stride(kw: dict) -> None:
    got = kn.nn.max_pool2d(_x16(), kw["kernel"], stride=kw["stride"], padding=kw["padding"]).numpy()
    np.testing.assert_array_equal(got, [[[[5.0, 7.0], [13.0, 15.0]]]])


def test_max_pool_padding_is_not_zero() -> None:
    """Padded cells never win a max: on negative data the answer is still a data value."""
    got = kn.nn.max_pool2d(-_x16(), 3, stride=2, padding=1).numpy()
    np.testing.assert_array_equal(got, [[[[0.0, -1.0], [-4.0, -5.0]]]])


def test_multi_channel_pooling() -> None:
    x = _x16()
    got = kn.nn.max_pool2d(kn.concatenate([x, x + 1], 1), 3, padding=1, stride=2).numpy()
    assert got.shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(got, [[[[5, 7], [13, 15]], [[6, 8], [14, 16]]]])


def test_avg_pool_counts_padding() -> None:
    """count_include_pad as in PyTorch: a corner window holds 4 values but divides by 9."""
    got = kn.nn.avg_pool2d(_x16(), 3, stride=2, padding=1).numpy()
    np.testing.assert_allclose(got, [[[[10 / 9, 24 / 9], [51 / 9, 90 / 9]]]], rtol=1e-6)


# ---------------------------------------------------------------- the script
def test_example_script_runs(tmp_path) -> None:
    """Exit status 0 within 120 s (subprocess timeout; pytest-timeout is not a dependency)."""
    out = subprocess.run([sys.executable, str(EXAMPLES / "conv_basics.py")], check=False, capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    for line in ("epoch 10, loss", "learned kernel", "[[ 56.  72.]", "[[[[10.]]]]", "max |Y1 - Y2|"):
        assert line in out.stdout, (line, out.stdout[-2000:])
