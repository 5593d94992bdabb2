"""kn.nn.batch_norm and the BatchNorm layer.

Training output against a float64 NumPy reference (batch mean, biased variance over every
axis but `axis`) over Hypothesis-drawn shapes and axes, eagerly and under kn.jit; the moving
statistics (moving = momentum * moving + (1 - momentum) * batch stat) after one and three
calls, eagerly and updated in place by a compiled step; inference with the moving
statistics; the layer on (N, F) and (N, C, H, W) inputs and its variables; gradients by
central differences; PyTorch's F.batch_norm as an optional second reference; the errors;
and a compiled Conv2D + BatchNorm + ReLU + MaxPool2D + Flatten + Dense training step.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiln as kn
from kiln.errors import ShapeError

from .conv_ref import ref_batch_norm, ref_batch_norm_stats
from .helpers import central_diff

SETTINGS = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
DTYPES = [np.float32, np.float64]
TOL = {np.float32: {"rtol": 1e-4, "atol": 1e-4}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}


def _np(a) -> np.ndarray:
    return np.asarray(a.numpy() if hasattr(a, "numpy") else a)


@st.composite
def bn_cases(draw):
    """A shape of rank 2 to 4 (at least 2 elements per channel, so the variance is not 0) and
    an axis, negative or not; gamma / beta present or not."""
    rank = draw(st.integers(2, 4))
    shape = [draw(st.integers(1, 4)) for _ in range(rank)]
    axis = draw(st.sampled_from([1, 1, -1] if rank > 2 else [1, -1, 0]))
    ax = axis % rank
    others = [d for d in range(rank) if d != ax]
    if int(np.prod([shape[d] for d in others])) < 2:
        shape[others[0]] = 2
    return {"shape": tuple(shape), "axis": axis, "gamma": draw(st.booleans()), "beta": draw(st.booleans()),
            "momentum": draw(st.sampled_from([0.9, 0.5, 0.99])), "eps": draw(st.sampled_from([1e-5, 1e-3]))}


def _bn_args(case, dtype, seed):
    rng = np.random.default_rng(seed)
    c = case["shape"][case["axis"] % len(case["shape"])]
    x = (rng.standard_normal(case["shape"]) * 2 + 0.5).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, c).astype(dtype) if case["gamma"] else None
    beta = rng.standard_normal(c).astype(dtype) if case["beta"] else None
    return x, gamma, beta


# ----------------------------------------------------------------------------- functional
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@settings(max_examples=25, **SETTINGS)
@given(case=bn_cases(), seed=st.integers(0, 2 ** 16))
def test_training_output_matches_numpy(dtype, case, seed) -> None:
    x, gamma, beta = _bn_args(case, dtype, seed)
    x64 = x.astype(np.float64)
    mean, var = ref_batch_norm_stats(x64, case["axis"])
    want = ref_batch_norm(x64, mean, var, gamma, beta, case["eps"], case["axis"])

    def f(x, gamma, beta):
        return kn.nn.batch_norm(x, gamma, beta, training=True, eps=case["eps"], axis=case["axis"])
    for mode in ("eager", "jit"):
        got = (kn.jit(f) if mode == "jit" else f)(x, gamma, beta)
        assert got.dtype == dtype and got.shape == x.shape, (mode, got.dtype, got.shape)
        np.testing.assert_allclose(_np(got), want, **TOL[dtype], err_msg=mode)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@settings(max_examples=15, **SETTINGS)
@given(case=bn_cases(), seed=st.integers(0, 2 ** 16))
def test_inference_uses_the_given_moving_statistics(dtype, case, seed) -> None:
    x, gamma, beta = _bn_args(case, dtype, seed)
    rng = np.random.default_rng(seed + 1)
    c = x.shape[case["axis"] % x.ndim]
    mm, mv = rng.standard_normal(c).astype(dtype), rng.uniform(0.2, 3.0, c).astype(dtype)
    want = ref_batch_norm(x.astype(np.float64), mm, mv, gamma, beta, case["eps"], case["axis"])

    def f(x, gamma, beta, mm, mv):
        return kn.nn.batch_norm(x, gamma, beta, mm, mv, training=False, eps=case["eps"], axis=case["axis"])
    for mode in ("eager", "jit"):
        got = (kn.jit(f) if mode == "jit" else f)(x, gamma, beta, mm, mv)
        assert got.dtype == dtype, (mode, got.dtype)
        np.testing.assert_allclose(_np(got), want, **TOL[dtype], err_msg=mode)
    # Variables as the moving statistics read the same, and inference leaves them alone.
    vm, vv = kn.Variable(mm, trainable=False), kn.Variable(mv, trainable=False)
    got = kn.nn.batch_norm(x, gamma, beta, vm, vv, eps=case["eps"], axis=case["axis"])
    np.testing.assert_allclose(_np(got), want, **TOL[dtype])
    np.testing.assert_array_equal(vm.numpy(), mm)
    np.testing.assert_array_equal(vv.numpy(), mv)


def _moving_reference(xs, mean0, var0, momentum, axis=1):
    """The moving statistics after training calls on each of xs, in float64."""
    mm, mv = np.array(mean0, np.float64), np.array(var0, np.float64)
    for x in xs:
        mean, var = ref_batch_norm_stats(np.asarray(x, np.float64), axis)
        mm, mv = momentum * mm + (1 - momentum) * mean, momentum * mv + (1 - momentum) * var
    return mm, mv


@pytest.mark.parametrize("momentum", [0.9, 0.7])
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 2)], ids=["NF", "NCHW"])
def test_moving_statistics_update_eagerly(shape, momentum) -> None:
    rng = np.random.default_rng(5)
    xs = [(rng.standard_normal(shape) * (i + 1) + i).astype(np.float32) for i in range(3)]
    c = shape[1]
    mm0, mv0 = rng.standard_normal(c).astype(np.float32), rng.uniform(0.5, 2, c).astype(np.float32)
    mm, mv = kn.Variable(mm0, trainable=False), kn.Variable(mv0, trainable=False)
    for calls in (1, 3):
        for x in xs[:calls] if calls == 1 else xs[1:]:
            y = kn.nn.batch_norm(x, None, None, mm, mv, training=True, momentum=momentum)
        want_m, want_v = _moving_reference(xs[:calls], mm0, mv0, momentum)
        np.testing.assert_allclose(mm.numpy(), want_m, rtol=1e-5, atol=1e-6, err_msg=f"mean after {calls}")
        np.testing.assert_allclose(mv.numpy(), want_v, rtol=1e-5, atol=1e-6, err_msg=f"var after {calls}")
        # The output normalizes with the batch's statistics, not the moving ones.
        mean, var = ref_batch_norm_stats(xs[calls - 1].astype(np.float64))
        np.testing.assert_allclose(_np(y), ref_batch_norm(xs[calls - 1].astype(np.float64), mean, var),
                                   rtol=1e-4, atol=1e-4)
    assert mm.dtype == np.float32 and mv.dtype == np.float32


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5, 2)], ids=["NF", "NCHW"])
def test_moving_statistics_update_in_place_in_a_compiled_step(shape) -> None:
    rng = np.random.default_rng(6)
    xs = [(rng.standard_normal(shape) * (i + 1) - i).astype(np.float32) for i in range(3)]
    c = shape[1]
    mm = kn.Variable(np.zeros(c, np.float32), trainable=False)
    mv = kn.Variable(np.ones(c, np.float32), trainable=False)
    gamma, beta = rng.uniform(0.5, 2, c).astype(np.float32), rng.standard_normal(c).astype(np.float32)
    addresses = (mm.data.ctypes.data, mv.data.ctypes.data)

    @kn.jit
    def step(x):
        return kn.nn.batch_norm(x, gamma, beta, mm, mv, training=True, momentum=0.8)
    outs = []
    for calls, x in enumerate(xs, 1):
        outs.append(step(x))
        if calls in (1, 3):
            want_m, want_v = _moving_reference(xs[:calls], np.zeros(c), np.ones(c), 0.8)
            tol = {"rtol": 1e-5, "atol": 1e-6}
            np.testing.assert_allclose(mm.numpy(), want_m, **tol, err_msg=f"mean after {calls}")
            np.testing.assert_allclose(mv.numpy(), want_v, **tol, err_msg=f"var after {calls}")
    assert step.trace_count == 1
    assert (mm.data.ctypes.data, mv.data.ctypes.data) == addresses  # updated in place, not replaced
    for x, y in zip(xs, outs):
        mean, var = ref_batch_norm_stats(x.astype(np.float64))
        np.testing.assert_allclose(_np(y), ref_batch_norm(x.astype(np.float64), mean, var, gamma, beta),
                                   rtol=1e-4, atol=1e-4)


def test_inference_after_training_uses_the_moving_statistics() -> None:
    rng = np.random.default_rng(7)
    x, x_test = rng.standard_normal((6, 2, 3, 3)) * 3 + 1, rng.standard_normal((2, 2, 3, 3))
    mm, mv = kn.Variable(np.zeros(2), trainable=False), kn.Variable(np.ones(2), trainable=False)
    train = kn.jit(lambda x: kn.nn.batch_norm(x, None, None, mm, mv, training=True))
    infer = kn.jit(lambda x: kn.nn.batch_norm(x, None, None, mm, mv, training=False))
    for _ in range(3):
        train(x)
    want_m, want_v = _moving_reference([x] * 3, np.zeros(2), np.ones(2), 0.9)
    got = infer(x_test)
    np.testing.assert_allclose(_np(got), ref_batch_norm(x_test, want_m, want_v), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(mm.numpy(), want_m, rtol=1e-12)  # inference did not move them
    assert infer.trace_count == 1


def test_integer_input_is_normalized_as_float32() -> None:
    x = np.arange(12, dtype=np.int32).reshape(4, 3)
    got = kn.nn.batch_norm(x, training=True)
    assert got.dtype == np.float32
    x64 = x.astype(np.float64)
    mean, var = ref_batch_norm_stats(x64)
    np.testing.assert_allclose(_np(got), ref_batch_norm(x64, mean, var), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- the layer
@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 3, 2)], ids=["NF", "NCHW"])
def test_batch_norm_layer(shape, mode) -> None:
    rng = np.random.default_rng(8)
    layer = kn.nn.BatchNorm(momentum=0.75, epsilon=1e-3)
    xs = [(rng.standard_normal(shape) * 2 + i).astype(np.float32) for i in range(3)]
    def train(x):
        return layer(x, training=True)

    def infer(x):
        return layer(x, training=False)
    if mode == "jit":
        train, infer = kn.jit(train), kn.jit(infer)
    y = train(xs[0])  # builds: gamma = 1, beta = 0, moving mean 0, moving var 1
    c = shape[1]
    for v in (layer.gamma, layer.beta, layer.moving_mean, layer.moving_var):
        assert v.shape == (c,) and v.dtype == np.float32
    np.testing.assert_array_equal(layer.gamma.numpy(), np.ones(c))
    np.testing.assert_array_equal(layer.beta.numpy(), np.zeros(c))
    mean, var = ref_batch_norm_stats(xs[0].astype(np.float64))
    np.testing.assert_allclose(_np(y), ref_batch_norm(xs[0].astype(np.float64), mean, var, eps=1e-3),
                               rtol=1e-4, atol=1e-4)
    want_m, want_v = _moving_reference(xs[:1], np.zeros(c), np.ones(c), 0.75)
    np.testing.assert_allclose(layer.moving_mean.numpy(), want_m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_var.numpy(), want_v, rtol=1e-5, atol=1e-6)
    for x in xs[1:]:
        train(x)
    want_m, want_v = _moving_reference(xs, np.zeros(c), np.ones(c), 0.75)
    np.testing.assert_allclose(layer.moving_mean.numpy(), want_m, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.moving_var.numpy(), want_v, rtol=1e-5, atol=1e-6)

    layer.gamma.assign(np.linspace(0.5, 1.5, c).astype(np.float32))
    layer.beta.assign(np.linspace(-1, 1, c).astype(np.float32))
    x_test = rng.standard_normal(shape).astype(np.float32)
    got = infer(x_test)
    want = ref_batch_norm(x_test.astype(np.float64), want_m, want_v, np.linspace(0.5, 1.5, c),
                          np.linspace(-1, 1, c), eps=1e-3)
    np.testing.assert_allclose(_np(got), want, rtol=1e-4, atol=1e-4)
    # inference leaves the moving statistics alone
    np.testing.assert_allclose(layer.moving_mean.numpy(), want_m, rtol=1e-5, atol=1e-6)


def test_batch_norm_layer_channels_last() -> None:
    x = np.random.default_rng(9).standard_normal((2, 3, 3, 4)).astype(np.float32)
    layer = kn.nn.BatchNorm(axis=-1)
    y = layer(x, training=True)
    assert layer.gamma.shape == (4,)
    x64 = x.astype(np.float64)
    mean, var = ref_batch_norm_stats(x64, -1)
    np.testing.assert_allclose(_np(y), ref_batch_norm(x64, mean, var, axis=-1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * mean, rtol=1e-5, atol=1e-6)


def test_trainable_variables_exclude_the_moving_statistics() -> None:
    layer = kn.nn.BatchNorm()
    layer(np.ones((2, 3, 2, 2), np.float32), training=True)
    trainable = layer.trainable_variables
    assert len(trainable) == 2
    assert any(v is layer.gamma for v in trainable) and any(v is layer.beta for v in trainable)
    assert not any(v is layer.moving_mean or v is layer.moving_var for v in trainable)
    assert len(layer.variables) == 4
    assert not layer.moving_mean.trainable and not layer.moving_var.trainable
    assert set(layer.state_dict()) == {"gamma", "beta", "moving_mean", "moving_var"}

    model = kn.nn.Sequential([kn.nn.Conv2D(2, 3), kn.nn.BatchNorm(), kn.nn.Dense(1)])
    model(np.ones((2, 3, 5, 5), np.float32), training=True)
    assert len(model.trainable_variables) == 6 and len(model.variables) == 8


# ----------------------------------------------------------------------------- gradients
@st.composite
def small_bn_cases(draw):
    rank = draw(st.sampled_from([2, 4]))
    shape = (draw(st.integers(2, 3)), draw(st.integers(1, 3)))
    if rank == 4:
        shape += (draw(st.integers(1, 2)), 2)
    return {"shape": shape, "axis": 1, "gamma": True, "beta": True, "momentum": 0.9, "eps": 1e-5}


def _check_grads(loss, args, argnums, rtol=1e-5, atol=1e-7):
    grads = kn.grad(loss, argnums=argnums)(*args)
    compiled = kn.jit(loss)
    for k, g in zip(argnums, grads):
        def at(a, k=k):
            return compiled(*[a if i == k else v for i, v in enumerate(args)])
        assert g.shape == np.shape(args[k]), (k, g.shape)
        np.testing.assert_allclose(_np(g), central_diff(at, args[k]), rtol=rtol, atol=atol,
                                   err_msg=f"arg {k}")


@settings(max_examples=8, **SETTINGS)
@given(case=small_bn_cases(), seed=st.integers(0, 2 ** 16))
def test_training_gradients_match_finite_differences(case, seed) -> None:
    x, gamma, beta = _bn_args(case, np.float64, seed)
    c = np.random.default_rng(seed + 1).standard_normal(x.shape)

    def loss(x, gamma, beta):
        return (kn.nn.batch_norm(x, gamma, beta, training=True) * c).sum()
    _check_grads(loss, (x, gamma, beta), (0, 1, 2), rtol=1e-5, atol=1e-6)


@settings(max_examples=6, **SETTINGS)
@given(case=small_bn_cases(), seed=st.integers(0, 2 ** 16))
def test_inference_gradients_match_finite_differences(case, seed) -> None:
    x, gamma, beta = _bn_args(case, np.float64, seed)
    rng = np.random.default_rng(seed + 1)
    ch = x.shape[1]
    mm, mv, c = rng.standard_normal(ch), rng.uniform(0.5, 2.0, ch), rng.standard_normal(x.shape)

    def loss(x, gamma, beta, mm, mv):
        return (kn.nn.batch_norm(x, gamma, beta, mm, mv, training=False) * c).sum()
    _check_grads(loss, (x, gamma, beta, mm, mv), (0, 1, 2, 3, 4))


def test_training_gradient_ignores_the_moving_statistics_update() -> None:
    # With Variables for the moving statistics the gradient is the same as without them
    # (their update is outside the differentiated path) and they are still updated.
    rng = np.random.default_rng(10)
    x, c = rng.standard_normal((4, 3, 2, 2)), rng.standard_normal((4, 3, 2, 2))
    mm, mv = kn.Variable(np.zeros(3), trainable=False), kn.Variable(np.ones(3), trainable=False)
    with_vars = kn.grad(lambda x: (kn.nn.batch_norm(x, None, None, mm, mv, training=True) * c).sum())(x)
    without = kn.grad(lambda x: (kn.nn.batch_norm(x, training=True) * c).sum())(x)
    np.testing.assert_allclose(_np(with_vars), _np(without), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mm.numpy(), 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-12)


# ----------------------------------------------------------------------------- vs PyTorch
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@settings(max_examples=15, **SETTINGS)
@given(case=bn_cases(), seed=st.integers(0, 2 ** 16))
def test_matches_torch(dtype, case, seed) -> None:
    torch = pytest.importorskip("torch")
    x, gamma, beta = _bn_args(case, dtype, seed)
    axis, rank = case["axis"] % len(case["shape"]), len(case["shape"])
    c, n = x.shape[axis], x.size // x.shape[axis]
    rng = np.random.default_rng(seed + 1)
    mm0, mv0 = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    to_t = (lambda a: None if a is None else torch.from_numpy(np.asarray(a, np.float64)))
    tx = to_t(np.moveaxis(x, axis, 1))  # torch normalizes dimension 1
    t_mm, t_mv = to_t(mm0.copy()), to_t(mv0.copy())
    # PyTorch's momentum weights the batch statistic: 1 - kiln's.
    t_train = torch.nn.functional.batch_norm(tx, t_mm, t_mv, to_t(gamma), to_t(beta), training=True,
                                             momentum=1 - case["momentum"], eps=case["eps"])
    back = (lambda t: np.moveaxis(t.numpy(), 1, axis) if rank > 1 else t.numpy())

    mm, mv = kn.Variable(mm0.astype(dtype), trainable=False), kn.Variable(mv0.astype(dtype), trainable=False)
    step = kn.jit(lambda x, g, b: kn.nn.batch_norm(x, g, b, mm, mv, training=True, momentum=case["momentum"],
                                                    eps=case["eps"], axis=case["axis"]))
    np.testing.assert_allclose(_np(step(x, gamma, beta)), back(t_train), **TOL[dtype])
    np.testing.assert_allclose(mm.numpy(), t_mm.numpy(), **TOL[dtype])
    # PyTorch's running variance takes the unbiased batch variance, kiln's (Gluon's) the
    # biased one: undo torch's update to recover its batch variance, then compare.
    m = case["momentum"]
    torch_batch_var = (t_mv.numpy() - m * mv0) / (1 - m)
    np.testing.assert_allclose(mv.numpy(), m * mv0 + (1 - m) * torch_batch_var * (n - 1) / n, **TOL[dtype])
    # Inference from the same moving statistics (kiln's, now in mm and mv).
    t_infer = torch.nn.functional.batch_norm(tx, to_t(mm.numpy()), to_t(mv.numpy()), to_t(gamma), to_t(beta),
                                             training=False, eps=case["eps"])
    got = kn.nn.batch_norm(x, gamma, beta, mm, mv, training=False, eps=case["eps"], axis=case["axis"])
    np.testing.assert_allclose(_np(got), back(t_infer), **TOL[dtype])


# ----------------------------------------------------------------------------- errors
def _raises(exc, fn, *words):
    with pytest.raises(exc) as info:
        fn()
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    return info.value


def test_errors_name_the_op_and_shapes() -> None:
    x, f32 = np.zeros((2, 3, 4, 4), np.float32), np.float32
    _raises(ShapeError, lambda: kn.nn.batch_norm(np.zeros(3, f32), training=True), "batch_norm", "(3,)")
    _raises(ShapeError, lambda: kn.nn.batch_norm(x, np.ones(4, np.float32), training=True),
            "batch_norm", "gamma", "(4,)", "(2, 3, 4, 4)")
    _raises(ShapeError, lambda: kn.nn.batch_norm(x, None, np.ones(2, np.float32), training=True),
            "batch_norm", "beta", "(2,)")
    _raises(ShapeError, lambda: kn.nn.batch_norm(x, None, None, np.zeros(3, f32), np.ones(5, f32)),
            "batch_norm", "moving_var", "(5,)")
    compiled = kn.jit(lambda x, g: kn.nn.batch_norm(x, g, training=True))
    _raises(ShapeError, lambda: compiled(x, np.ones(2, f32)), "batch_norm", "gamma", "(2,)")
    _raises(ShapeError, lambda: kn.nn.BatchNorm()(np.zeros(4, f32), training=True), "BatchNorm", "(4,)")
    # Inference needs the moving statistics.
    _raises(ValueError, lambda: kn.nn.batch_norm(x), "batch_norm", "moving")


def test_axis_out_of_range_names_batch_norm() -> None:
    _raises(ShapeError, lambda: kn.nn.batch_norm(np.zeros((2, 3, 4, 4), np.float32), training=True, axis=4),
            "batch_norm", "(2, 3, 4, 4)")


# ----------------------------------------------------------------------------- training
def test_compiled_cnn_training_step_reduces_the_loss() -> None:
    kn.random.seed(0)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((16, 2, 8, 8)).astype(np.float32)
    y = (x[:, 0, :4].mean(axis=(1, 2)) > x[:, 1, 4:].mean(axis=(1, 2))).astype(np.int32)
    model = kn.nn.Sequential([kn.nn.Conv2D(4, 3, padding=1), kn.nn.BatchNorm(), kn.nn.ReLU(),
                              kn.nn.MaxPool2D(2), kn.nn.Flatten(), kn.nn.Dense(2)])
    opt = kn.optim.SGD(0.1)

    @kn.jit
    def step(x, y):
        with kn.GradientTape() as tape:
            loss = kn.nn.sparse_softmax_cross_entropy(model(x, training=True), y)
        variables = model.trainable_variables
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss
    losses = [float(step(x, y)) for _ in range(5)]
    assert step.trace_count == 1
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < losses[0], losses
    bn = model.layers[1]
    assert len(model.trainable_variables) == 6  # conv kernel, bias; gamma, beta; dense kernel, bias
    assert not np.allclose(bn.moving_mean.numpy(), 0.0)  # the compiled step updated the moving statistics
    assert not np.allclose(bn.moving_var.numpy(), 1.0)
    # Inference runs with them and gives finite logits.
    logits = kn.jit(lambda x: model(x, training=False))(x)
    assert logits.shape == (16, 2) and np.isfinite(_np(logits)).all()
