"""How reductions loop (codegen/reduce.py): a short innermost extent under a long outer one keeps
one running value per innermost position (`lane_pass`); a short innermost output dimension
over a long reduction is jammed into one pass (`jam`). Sums, products, maxima, minima and
two-pass reductions against NumPy, NaN propagation, and which kernels take which path."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn
from kiln.codegen.reduce import JAM, LANES, column_form, jam, lane_width, lanes, row_form

RNG = np.random.default_rng(0)


def _reduce_rows(op: str, axes, width: int):
    """op over `axes` of x's first `width` columns: rows of a wider array, so the innermost
    reduced dimension cannot merge with the one outside it."""
    return kn.jit(lambda x: getattr(kn, op)(x[..., :width], axis=axes))


def _uses_lanes(f, x) -> bool:
    return any(k.reductions and lanes(k.rshape, list(k.reductions)) for k in f.lower(x).lowered.program.kernels)


@pytest.mark.parametrize("shape, axes, width", [((16, 6, 28, 32), (0, 2, 3), 28), ((9, 3, 9), (0, 2), 8),
                                                ((40, 66), (0, 1), 64), ((3, 5, 17, 40), (1, 2, 3), 33)])
@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_matches_numpy(shape, axes, width, op) -> None:
    x = RNG.standard_normal(shape).astype(np.float32)
    f = _reduce_rows(op, axes, width)
    assert _uses_lanes(f, x)
    want = getattr(np, op)(x[..., :width].astype(np.float64), axis=axes)
    np.testing.assert_allclose(np.asarray(f(x)), want, rtol=1e-5, atol=1e-5)


def test_weighted_sum_over_rows_matches_numpy() -> None:
    """The weight-gradient form: a product of two arrays summed over batch and rows."""
    a = RNG.standard_normal((32, 4, 20, 24)).astype(np.float32)
    b = RNG.standard_normal((32, 1, 20, 20)).astype(np.float32)
    f = kn.jit(lambda a, b: (a[..., :20] * b).sum(axis=(0, 2, 3)))
    assert any(k.reductions and lanes(k.rshape, list(k.reductions))
               for k in f.lower(a, b).lowered.program.kernels)
    np.testing.assert_allclose(np.asarray(f(a, b)), (a[..., :20].astype(np.float64) * b).sum(axis=(0, 2, 3)),
                               rtol=1e-5)


@pytest.mark.parametrize("op", ["max", "min", "sum"])
def test_nan_propagates(op) -> None:
    x = RNG.standard_normal((12, 3, 18)).astype(np.float32)
    x[7, 1, 5] = np.nan
    f = _reduce_rows(op, (0, 2), 16)
    assert _uses_lanes(f, x)
    got = np.asarray(f(x))
    assert np.isnan(got[1]) and not np.isnan(got[[0, 2]]).any()


def test_which_spaces_use_lanes() -> None:
    from kiln.ir.kernel import Reduction
    sums = [Reduction("sum", None)]  # type: ignore[arg-type]
    assert lanes((128, 28, 28), sums)
    assert not lanes((4096,), sums)              # one long row: the loop vectorizes it
    assert not lanes((2, 28), sums)              # too few outer steps to pay for the lanes
    assert not lanes((128, LANES + 1), sums)     # a long row again
    assert not lanes((128, 28), [Reduction("argmax", None)])  # type: ignore[arg-type]


def test_lane_width_keeps_running_values_in_registers() -> None:
    assert lane_width(28, 4, 32, 4) == 28                      # one sum: 28 lanes fit
    assert lane_width(32, 5 * 4, 32, 4) == 16                  # five jammed sums: 2 x 16 lanes
    assert lane_width(28, 5 * 4, 32, 4) == 28                  # no whole-vector divisor: all lanes
    assert lane_width(64, 8 * 8, 32, 8) == 4                   # eight float64 sums: one vector each


def test_jammed_lane_chunks_match_numpy() -> None:
    """A padded 5x5 convolution's weight gradient: five kernel columns jammed over 32-wide
    padded rows, so the lanes run in two chunks of 16."""
    x = RNG.standard_normal((16, 1, 28, 28)).astype(np.float32)
    w = RNG.standard_normal((3, 1, 5, 5)).astype(np.float32)
    g = RNG.standard_normal((16, 3, 28, 28)).astype(np.float32)
    f = kn.jit(kn.grad(lambda w, x, g: (kn.nn.conv2d(x, w, padding=2) * g).sum()))
    assert jammed(f, w, x, g)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (2, 2), (2, 2)))
    want = np.array([[[(g[:, o] * xp[:, 0, i:i + 28, j:j + 28]).sum() for j in range(5)] for i in range(5)]
                     for o in range(3)])[:, None]
    np.testing.assert_allclose(np.asarray(f(w, x, g)), want, rtol=1e-4, atol=1e-4)


def jammed(f, *args) -> bool:
    return any(jam(k) for k in f.lower(*args).lowered.program.kernels)


@pytest.mark.parametrize("op", ["sum", "max", "min", "prod", "logsumexp"])
def test_jammed_points_match_numpy(op) -> None:
    x = RNG.uniform(0.5, 1.5, (1500, 3, 7)).astype(np.float32)
    f = kn.jit(lambda v: getattr(kn, op)(v[..., :5], axis=0))  # (3, 5) outputs: not one merged dimension
    assert jammed(f, x)
    x64 = x[..., :5].astype(np.float64)
    want = np.log(np.exp(x64).sum(axis=0)) if op == "logsumexp" else getattr(np, op)(x64, axis=0)
    np.testing.assert_allclose(np.asarray(f(x)), want, rtol=2e-5)


def test_jammed_weight_gradient_matches_numpy() -> None:
    """A convolution's weight gradient: (O, KH, KW) outputs summed over (N, H, W), jammed over
    KW, with lane accumulators over the row."""
    x = RNG.standard_normal((16, 1, 12, 20)).astype(np.float32)
    w = RNG.standard_normal((3, 1, 3, 5)).astype(np.float32)
    dz = RNG.standard_normal((16, 3, 12, 20)).astype(np.float32)
    f = kn.jit(kn.grad(lambda w, x, dz: (kn.nn.conv2d(x, w, padding=(1, 2)) * dz).sum()))
    assert jammed(f, w, x, dz)
    xp = np.pad(x[:, 0].astype(np.float64), ((0, 0), (1, 1), (2, 2)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (3, 5), axis=(1, 2))  # (N, 12, 20, 3, 5)
    want = np.einsum("nohw,nhwij->oij", dz.astype(np.float64), windows)[:, None]
    np.testing.assert_allclose(np.asarray(f(w, x, dz)), want, rtol=1e-4, atol=1e-4)


def test_which_kernels_jam() -> None:
    long = RNG.standard_normal((1500, 3, 7)).astype(np.float32)
    corner = kn.jit(lambda v: v[..., :5].sum(axis=0))
    assert jammed(corner, long)
    assert not jammed(corner, long[:20])                                           # a short reduction
    assert not jammed(kn.jit(lambda v: v.sum(axis=0)), long[:, :, 0])            # one output dim: threads' dim
    assert not jammed(kn.jit(lambda v: v[..., :JAM + 1].sum(axis=0)), np.ones((1500, 3, JAM + 2), np.float32))
    assert not jammed(kn.jit(lambda v: kn.argmax(v[..., :5], axis=0)), long)


def _rowed(f, *args) -> bool:
    return any(row_form(k) is not None for k in f.lower(*args).lowered.program.kernels)


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (1, 2, 1), (1, (1, 3), (2, 1)), (2, 1, 1)])
def test_convolution_input_gradient_matches_torch(stride, padding, dilation) -> None:
    """The data gradient of an im2col + GEMM convolution is a col2im: a guarded window sum that
    runs as rows (stride 1: unit-coefficient bounds) or point by point (stride 2)."""
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((3, 6, 13, 15)).astype(np.float32)
    w = RNG.standard_normal((8, 6, 3, 5)).astype(np.float32)
    f = kn.jit(kn.grad(lambda x, w: (kn.nn.conv2d(x, w, stride=stride, padding=padding, dilation=dilation) ** 2).sum()))
    assert _rowed(f, x, w) == (stride == 1)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(xt, torch.tensor(w, dtype=torch.float64), stride=stride,
                                   padding=padding if isinstance(padding, int) else tuple(padding),
                                   dilation=dilation)
    (y ** 2).sum().backward()
    np.testing.assert_allclose(np.asarray(f(x, w)), xt.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_row_form_needs_unit_bounds_and_the_identity_fill() -> None:
    """Max pooling's padded windows read as -inf (max's identity): rows when stride 1; a zero
    fill under a max is not the identity, so that stays point by point."""
    x = RNG.standard_normal((2, 3, 9, 11)).astype(np.float32)
    pool = kn.jit(lambda x: kn.nn.max_pool2d(x, 3, stride=1, padding=1))
    assert _rowed(pool, x)
    win = np.lib.stride_tricks.sliding_window_view(np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)),
                                                          constant_values=-np.inf), (3, 3), axis=(2, 3))
    np.testing.assert_array_equal(np.asarray(pool(x)), win.max(axis=(-2, -1)))
    zero_fill = kn.jit(lambda x: kn.max(kn.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))[:, :, :, 1:12], axis=1))
    assert not _rowed(zero_fill, x)


def test_softmax_rows_keep_the_exponentials() -> None:
    """Softmax's e^(x - max) is summed by the reduction and divided by the sum in the row
    stores: the reduction pass keeps it in a row array, so each is computed once. Results
    equal a build that recomputes it, bit for bit."""
    import kiln.codegen.reduce as reduce
    from kiln.ir.kernel import refs as _refs
    from kiln.runtime.cache import CACHE
    z = RNG.standard_normal((64, 300)).astype(np.float32) * 4
    y = RNG.integers(0, 300, 64).astype(np.int32)

    def loss_and_grad(z, y):
        return kn.value_and_grad(kn.nn.sparse_softmax_cross_entropy)(z, y)
    f = kn.jit(loss_and_grad)
    (k,) = [k for k in f.lower(z, y).lowered.program.kernels if any(_refs(s.offset, "ridx") for s in k.stores)]
    kept = reduce._row_values(k, [s for s in k.stores if _refs(s.offset, "ridx")])
    assert kept and all(_refs(e, "ridx") and _refs(e, "exp") for e in kept.values())
    loss, grad = f(z, y)
    saved = reduce.ROW_CACHE
    try:
        reduce.ROW_CACHE = 0
        CACHE.clear()
        loss2, grad2 = kn.jit(loss_and_grad)(z, y)
    finally:
        reduce.ROW_CACHE = saved
    np.testing.assert_array_equal(np.asarray(grad), np.asarray(grad2))
    assert float(loss) == float(loss2)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(np.asarray(grad), (p - np.eye(300)[y]) / 64, rtol=1e-4, atol=1e-7)



def test_row_arrays_take_stack_once_not_per_row() -> None:
    """A kept row of 8192 values is 32 KB of stack: allocated per row, 1024 rows would take
    32 MB and overflow the thread's stack; from the entry block it is taken once."""
    z = RNG.standard_normal((1024, 8192)).astype(np.float32)
    got = np.asarray(kn.jit(lambda z: kn.nn.softmax(z, axis=-1))(z))
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(got, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-9)


def _columns(f, *args) -> bool:
    return any(column_form(k) for k in f.lower(*args).lowered.program.kernels)


@pytest.mark.parametrize("shape, axes", [((256, 256), 0), ((4096, 100), 0), ((64, 3, 50), (0, 1)), ((7, 9, 33), 0),
                                         ((5, 1000), 0), ((300, 17), 0)])
@pytest.mark.parametrize("op", ["sum", "max", "min"])
def test_column_sums_match_numpy(shape, axes, op) -> None:
    """Reductions down columns (a bias gradient) add whole input rows into a running output row."""
    x = RNG.standard_normal(shape).astype(np.float32)
    f = kn.jit(lambda x: getattr(kn, op)(x * 2 + 1, axis=axes))
    assert _columns(f, x)
    np.testing.assert_allclose(np.asarray(f(x)), getattr(np, op)(x.astype(np.float64) * 2 + 1, axis=axes),
                               rtol=1e-5, atol=1e-4)


def test_which_reductions_run_down_columns() -> None:
    x = np.ones((64, 48), np.float32)
    assert _columns(kn.jit(lambda x: x.sum(axis=0)), x)
    assert not _columns(kn.jit(lambda x: x.sum(axis=1)), x)            # rows: contiguous along the reduction
    assert not _columns(kn.jit(lambda x: x.T.sum(axis=0)), x)          # strided along the output row
    assert not _columns(kn.jit(lambda x: x[:, :6].sum(axis=0)), x)     # a short row: jammed instead


def _conv_reference(x: np.ndarray, w: np.ndarray, padding: int) -> np.ndarray:
    from numpy.lib.stride_tricks import sliding_window_view
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(xp, w.shape[-2:], axis=(2, 3))  # (N, C, OH, OW, KH, KW)
    return np.einsum("nchwij,ocij->nohw", win, w.astype(np.float64))


@pytest.mark.parametrize("xs, ws, padding", [((1, 1, 30, 30), (1, 1, 5, 5), 2),  # one output row, split over threads
                                             ((3, 1, 19, 23), (4, 1, 3, 3), 1),  # rows of 475: blocks and a tail
                                             ((2, 1, 9, 50), (2, 1, 5, 5), 0)])
def test_window_sums_in_register_blocks_match_numpy(xs, ws, padding) -> None:
    """A one-channel convolution is a window sum over a padded input whose taps slide along the
    output row: it runs in blocks of the row held in registers over all taps."""
    x, w = RNG.standard_normal(xs).astype(np.float32), RNG.standard_normal(ws).astype(np.float32)
    f = kn.jit(lambda x, w: kn.nn.conv2d(x, w, padding=padding))
    assert any((form := column_form(k)) and form.window for k in f.lower(x, w).lowered.program.kernels)
    np.testing.assert_allclose(np.asarray(f(x, w)), _conv_reference(x, w, padding), rtol=1e-5, atol=1e-5)


def test_column_sums_are_not_windows() -> None:
    """Summing down columns reads each input once: blocks walking down the rows would only
    trade a streaming read for a strided one."""
    f = kn.jit(lambda x: x.sum(axis=1))
    x = np.ones((8, 64, 256), np.float32)
    forms = [column_form(k) for k in f.lower(x).lowered.program.kernels]
    assert any(forms) and not any(form.window for form in forms if form)


def test_window_sum_takes_bias_and_activation_on_its_whole_rows() -> None:
    """conv → bias → sigmoid whose output the backward pass reads again (LeNet): the activation
    moves before the row slice (simplify) and runs in the window sum's kernel, over whole
    padded rows; the gradient is unchanged."""
    x, w, bias = RNG.standard_normal((8, 1, 28, 28)).astype(np.float32), RNG.standard_normal((6, 1, 5, 5)).astype(
        np.float32), RNG.standard_normal(6).astype(np.float32)

    def loss(w, x, b):
        return kn.sum(kn.nn.avg_pool2d(kn.nn.sigmoid(kn.nn.conv2d(x, w, b, padding=2)), 2) ** 2)
    f = kn.jit(kn.grad(loss))
    kernels = f.lower(w, x, bias).lowered.program.kernels
    assert any(k.reductions and "sigmoid" in k.name for k in kernels), [k.name for k in kernels]
    win = np.lib.stride_tricks.sliding_window_view(np.pad(x[:, 0].astype(np.float64), ((0, 0), (2, 2), (2, 2))),
                                                   (5, 5), axis=(1, 2))  # (N, H, W, 5, 5)
    y = 1 / (1 + np.exp(-(np.einsum("nhwij,oij->nohw", win, w[:, 0].astype(np.float64)) + bias[None, :, None, None])))
    pooled = y.reshape(8, 6, 14, 2, 14, 2).mean(axis=(3, 5))
    dy = np.repeat(np.repeat(2 * pooled / 4, 2, axis=2), 2, axis=3)
    want = np.einsum("nohw,nhwij->oij", dy * y * (1 - y), win)[:, None]
    np.testing.assert_allclose(np.asarray(f(w, x, bias)), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape, axis", [((2,), 0), ((1000,), 0), ((300, 40), 0), ((40, 300), 1), ((8, 3, 9), (0, 2))])
def test_sum_of_negative_zeros_is_positive_zero_like_numpy(shape, axis) -> None:
    """A float sum starts from +0.0 as NumPy's does over an array, in every loop shape (no
    signed-zero shortcuts), and constant folding agrees with the kernels."""
    z = -np.zeros(shape, np.float32)
    got = np.asarray(kn.jit(lambda x: kn.sum(x, axis=axis))(z))
    assert not np.signbit(got).any() and not np.signbit(np.sum(z, axis=axis)).any()
    folded = np.asarray(kn.jit(lambda: kn.sum(kn.asarray(z), axis=axis))())
    assert not np.signbit(folded).any()


def test_summed_products_are_multiply_adds_and_elementwise_ones_are_not() -> None:
    """A product summed into a reduction is one llvm.fmuladd (an FMA chain where the CPU has
    FMA); x*y + z outside a reduction keeps NumPy's two roundings."""
    from kiln.codegen.cpu import emit_llvm
    from kiln.runtime.llvm_jit import host_target
    x, y, z = (RNG.standard_normal((64, 200)).astype(np.float32) for _ in range(3))
    dot = kn.jit(lambda x, y: kn.sum(x * y, axis=1))
    assert "llvm.fmuladd" in emit_llvm(dot.lower(x, y).lowered.program, host_target(), "t")
    np.testing.assert_allclose(np.asarray(dot(x, y)), (x.astype(np.float64) * y).sum(axis=1), rtol=1e-5, atol=1e-5)
    axpy = kn.jit(lambda x, y, z: x * y + z)
    assert "fmuladd" not in emit_llvm(axpy.lower(x, y, z).lowered.program, host_target(), "t")
    np.testing.assert_array_equal(np.asarray(axpy(x, y, z)), x * y + z)
