"""kn.nn losses against float64 NumPy references: reductions, gradients, stability and errors."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn
from .helpers import MODES, central_diff, np_of, ref_log_softmax, ref_softmax, run

L = kn.nn
REDUCTIONS = ["mean", "sum", "none"]


def _reduce(per_example: np.ndarray, reduction: str):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](per_example)


def _per_example(elementwise: np.ndarray) -> np.ndarray:
    return elementwise.mean(axis=tuple(range(1, elementwise.ndim))) if elementwise.ndim > 1 else elementwise


def ref_sparse_ce(z, y):
    return -np.take_along_axis(ref_log_softmax(z), y[..., None].astype(np.int64), axis=-1)[..., 0]


def ref_softmax_ce(z, t):
    return -np.sum(t * ref_log_softmax(z), axis=-1)


def ref_bce(p, y):
    log_p = np.maximum(np.log(np.maximum(p, 0.0), where=p > 0, out=np.full_like(p, -np.inf)), -100.0)
    q = 1.0 - p
    log_q = np.maximum(np.log(np.maximum(q, 0.0), where=q > 0, out=np.full_like(q, -np.inf)), -100.0)
    return _per_example(-(y * log_p + (1 - y) * log_q))


def ref_bce_logits(x, y):
    return _per_example(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))


def ref_mse(p, t):
    return _per_example((p - t) ** 2)


def ref_huber(p, t, delta=1.0):
    a = np.abs(p - t)
    return _per_example(np.where(a <= delta, 0.5 * a * a, delta * a - 0.5 * delta * delta))


def _check(got, want, rtol=1e-5, atol=1e-6) -> None:
    got = np_of(got)
    assert got.shape == np.shape(want), (got.shape, np.shape(want))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


RNG = np.random.default_rng(0)
LOGITS = RNG.normal(scale=2.0, size=(6, 5)).astype(np.float32)
LABELS = np.array([0, 4, 2, 2, 1, 3], dtype=np.int32)


# --- cross-entropies --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sparse_softmax_cross_entropy(mode, reduction) -> None:
    got = run(mode, L.sparse_softmax_cross_entropy, LOGITS, LABELS, reduction=reduction)
    _check(got, _reduce(ref_sparse_ce(LOGITS.astype(np.float64), LABELS), reduction))


@pytest.mark.parametrize("label_dtype", [np.int32, np.int64])
def test_sparse_softmax_cross_entropy_label_dtypes_and_default_mean(label_dtype) -> None:
    got = L.sparse_softmax_cross_entropy(LOGITS, LABELS.astype(label_dtype))
    assert got.shape == ()
    _check(got, ref_sparse_ce(LOGITS.astype(np.float64), LABELS).mean())


def test_sparse_softmax_cross_entropy_higher_rank() -> None:
    z = RNG.normal(size=(2, 3, 4))
    y = np.array([[0, 3, 1], [2, 2, 0]])
    _check(L.sparse_softmax_cross_entropy(z, y, reduction="none"), ref_sparse_ce(z, y), rtol=1e-12)
    _check(L.sparse_softmax_cross_entropy(z, y), ref_sparse_ce(z, y).mean(), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_sparse_softmax_cross_entropy_gradient(mode) -> None:
    z = LOGITS.astype(np.float64)
    g = run(mode, kn.grad(lambda t: L.sparse_softmax_cross_entropy(t, LABELS)), z)
    onehot = np.eye(5)[LABELS]
    _check(g, (ref_softmax(z) - onehot) / len(z), rtol=1e-10, atol=1e-12)
    fd = central_diff(lambda t: L.sparse_softmax_cross_entropy(t, LABELS[:2]), z[:2], h=1e-6)
    g2 = kn.grad(lambda t: L.sparse_softmax_cross_entropy(t, LABELS[:2]))(z[:2])
    np.testing.assert_allclose(np_of(g2), fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_cross_entropy_soft_targets(mode, reduction) -> None:
    t = ref_softmax(RNG.normal(size=LOGITS.shape)).astype(np.float32)
    got = run(mode, L.softmax_cross_entropy, LOGITS, t, reduction=reduction)
    _check(got, _reduce(ref_softmax_ce(LOGITS.astype(np.float64), t.astype(np.float64)), reduction))


def test_softmax_cross_entropy_with_one_hot_equals_sparse() -> None:
    onehot = np.eye(5, dtype=np.float32)[LABELS]
    a = L.softmax_cross_entropy(LOGITS, onehot, reduction="none")
    b = L.sparse_softmax_cross_entropy(LOGITS, LABELS, reduction="none")
    np.testing.assert_allclose(np_of(a), np_of(b), rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_softmax_cross_entropy_gradient(mode) -> None:
    z = LOGITS[:3].astype(np.float64)
    t = ref_softmax(RNG.normal(size=z.shape))
    g = run(mode, kn.grad(lambda a: L.softmax_cross_entropy(a, t, reduction="sum")), z)
    _check(g, ref_softmax(z) - t, rtol=1e-10, atol=1e-12)
    fd = central_diff(lambda a: L.softmax_cross_entropy(a, t, reduction="sum"), z)
    np.testing.assert_allclose(np_of(g), fd, rtol=1e-5, atol=1e-7)


# --- binary cross-entropy ----------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(8,), (4, 3)])
def test_binary_cross_entropy_probabilities(mode, reduction, shape) -> None:
    p = RNG.uniform(0.02, 0.98, size=shape).astype(np.float32)
    y = (RNG.uniform(size=shape) > 0.5).astype(np.float32)
    got = run(mode, L.binary_cross_entropy, p, y, reduction=reduction)
    _check(got, _reduce(ref_bce(p.astype(np.float64), y.astype(np.float64)), reduction))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(8,), (4, 3)])
def test_binary_cross_entropy_from_logits(mode, reduction, shape) -> None:
    x = RNG.normal(scale=3.0, size=shape).astype(np.float32)
    y = RNG.uniform(size=shape).astype(np.float32)  # soft targets too
    got = run(mode, L.binary_cross_entropy, x, y, from_logits=True, reduction=reduction)
    _check(got, _reduce(ref_bce_logits(x.astype(np.float64), y.astype(np.float64)), reduction))


def test_binary_cross_entropy_logits_agree_with_sigmoid_probabilities() -> None:
    x = RNG.normal(size=(5, 2))
    y = (RNG.uniform(size=(5, 2)) > 0.5).astype(np.float64)
    a = L.binary_cross_entropy(x, y, from_logits=True, reduction="none")
    b = L.binary_cross_entropy(kn.nn.sigmoid(x), y, reduction="none")
    np.testing.assert_allclose(np_of(a), np_of(b), rtol=1e-10)


@pytest.mark.parametrize("from_logits", [False, True])
def test_binary_cross_entropy_gradient(from_logits) -> None:
    p = RNG.uniform(0.1, 0.9, size=(3, 2)) if not from_logits else RNG.normal(size=(3, 2))
    y = RNG.uniform(size=(3, 2))

    def loss(a):
        return L.binary_cross_entropy(a, y, from_logits=from_logits)
    g = kn.grad(loss)(p)
    np.testing.assert_allclose(np_of(g), central_diff(loss, p), rtol=1e-5, atol=1e-7)


# --- regression losses ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4)])
def test_mse(mode, reduction, shape) -> None:
    p = RNG.normal(size=shape).astype(np.float32)
    t = RNG.normal(size=shape).astype(np.float32)
    got = run(mode, L.mse, p, t, reduction=reduction)
    want = _reduce(ref_mse(p.astype(np.float64), t.astype(np.float64)), reduction)
    _check(got, want)
    if reduction == "none":
        assert np_of(got).shape == (shape[0],)  # one value per example (mean over the non-batch axes)
    if reduction == "mean":  # mean over examples of means over features == mean over all elements
        np.testing.assert_allclose(np_of(got), np.mean((p.astype(np.float64) - t) ** 2), rtol=1e-5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.5, 2.5])
def test_huber_keras_semantics(mode, reduction, delta) -> None:
    p = RNG.normal(scale=2.0, size=(6, 4)).astype(np.float32)
    t = RNG.normal(scale=2.0, size=(6, 4)).astype(np.float32)
    got = run(mode, L.huber, p, t, delta=delta, reduction=reduction)
    _check(got, _reduce(ref_huber(p.astype(np.float64), t.astype(np.float64), delta), reduction))


def test_huber_known_values() -> None:
    # errors 0.5 (quadratic), 3 (linear: 1*3 - 0.5) with delta 1; default reduction is the mean
    got = L.huber(np.array([0.5, 3.0]), np.array([0.0, 0.0]), reduction="none")
    np.testing.assert_allclose(np_of(got), [0.125, 2.5])
    np.testing.assert_allclose(float(L.huber(np.array([0.5, 3.0]), np.zeros(2))), 1.3125)


@pytest.mark.parametrize("which", ["mse", "huber"])
def test_regression_loss_gradients(which) -> None:
    p = np.array([[0.3, -2.0, 1.7], [4.0, 0.1, -0.6]])
    t = np.array([[0.0, 0.5, -1.0], [1.0, 0.2, -0.2]])  # no error sits on huber's kink |e| = delta

    def loss(a):
        return getattr(L, which)(a, t)
    g = kn.grad(loss)(p)
    np.testing.assert_allclose(np_of(g), central_diff(loss, p), rtol=1e-5, atol=1e-7)
    if which == "mse":
        np.testing.assert_allclose(np_of(g), 2 * (p - t) / p.size, rtol=1e-12)


# --- stability ---------------------------------------------------------------------------------------

HUGE = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, -1000.0]], dtype=np.float32)
HUGE_LABELS = np.array([1, 0, 2], dtype=np.int32)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("sparse", [True, False])
def test_cross_entropy_of_huge_logits_is_finite_with_finite_gradients(mode, sparse) -> None:
    target = HUGE_LABELS if sparse else np.eye(3, dtype=np.float32)[HUGE_LABELS]
    fn = L.sparse_softmax_cross_entropy if sparse else L.softmax_cross_entropy
    per = np_of(run(mode, fn, HUGE, target, reduction="none"))
    np.testing.assert_allclose(per, [2000.0, np.log(3.0), 2000.0 + np.log(2.0)], rtol=1e-6)
    val, g = run(mode, kn.value_and_grad(lambda z: fn(z, target)), HUGE)
    np.testing.assert_allclose(float(val), per.mean(), rtol=1e-6)
    g = np_of(g)
    assert np.all(np.isfinite(g))
    want = (ref_softmax(HUGE.astype(np.float64)) - np.eye(3)[HUGE_LABELS]) / 3
    np.testing.assert_allclose(g, want, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_binary_cross_entropy_at_probabilities_zero_and_one(mode) -> None:
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=np.float32)
    y = np.array([0.0, 0.0, 1.0, 1.0, 1.0], dtype=np.float32)
    per = np_of(run(mode, L.binary_cross_entropy, p, y, reduction="none"))
    np.testing.assert_allclose(per, [0.0, 100.0, 100.0, 0.0, np.log(2.0)], rtol=1e-6, atol=1e-6)
    g = np_of(run(mode, kn.grad(lambda a: L.binary_cross_entropy(a, y)), p))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[[0, 3, 4]], np.array([1.0, -1.0, -2.0]) / 5, rtol=1e-6)  # (p - y)/(p(1-p)) / N


@pytest.mark.parametrize("mode", MODES)
def test_binary_cross_entropy_from_huge_logits(mode) -> None:
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
    per = np_of(run(mode, L.binary_cross_entropy, x, y, from_logits=True, reduction="none"))
    np.testing.assert_allclose(per, [0.0, 0.0, 1000.0, 1000.0], rtol=1e-6)
    g = np_of(run(mode, kn.grad(lambda a: L.binary_cross_entropy(a, y, from_logits=True)), x))
    np.testing.assert_allclose(g, [0.0, 0.0, 0.25, -0.25], atol=1e-7)


# --- errors ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("which", ["mse", "huber", "binary_cross_entropy", "softmax_cross_entropy"])
@pytest.mark.parametrize("shapes", [((4,), (3,)), ((3, 1), (3,)), ((2, 3), (3, 2))])
def test_shape_mismatch_raises_shape_error(mode, which, shapes) -> None:
    a = np.full(shapes[0], 0.5, dtype=np.float32)
    b = np.full(shapes[1], 0.5, dtype=np.float32)
    with pytest.raises(kn.ShapeError) as err:
        run(mode, getattr(L, which), a, b)
    text = str(err.value)
    assert text.count(f"{which}:") == 1 and str(shapes[0]) in text and str(shapes[1]) in text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("labels", [np.zeros((5,), np.int32), np.zeros((6, 1), np.int32), np.zeros((), np.int32)])
def test_sparse_labels_shape_mismatch_raises_shape_error(mode, labels) -> None:
    with pytest.raises(kn.ShapeError) as err:
        run(mode, L.sparse_softmax_cross_entropy, LOGITS, labels)
    assert str(err.value).count("sparse_softmax_cross_entropy:") == 1 and "(6,)" in str(err.value)


@pytest.mark.parametrize("mode", MODES)
def test_sparse_non_integer_labels_raise_type_error(mode) -> None:
    with pytest.raises(TypeError):
        run(mode, L.sparse_softmax_cross_entropy, LOGITS, LABELS.astype(np.float32))


@pytest.mark.parametrize("which", ["mse", "huber", "binary_cross_entropy", "softmax_cross_entropy"])
def test_unknown_reduction_raises(which) -> None:
    with pytest.raises(ValueError, match="reduction"):
        getattr(L, which)(np.full((2, 3), 0.5), np.full((2, 3), 0.5), reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        L.sparse_softmax_cross_entropy(LOGITS, LABELS, reduction="batchmean")


@pytest.mark.parametrize("label", [-1, 3])
def test_sparse_ce_rejects_out_of_range_labels_eagerly_and_compiled(label: int) -> None:
    logits, labels = np.zeros((2, 3), np.float32), np.array([0, label], np.int32)
    want = rf"sparse_softmax_cross_entropy: label {label} is out of range \[0, 3\) \(at test_losses.py:\d+\)"
    with pytest.raises(IndexError, match=want):
        kn.nn.sparse_softmax_cross_entropy(logits, labels)
    with pytest.raises(IndexError, match=want):
        kn.jit(kn.nn.sparse_softmax_cross_entropy)(logits, labels)
