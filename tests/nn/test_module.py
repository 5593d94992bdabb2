"""kn.nn.Module and layers: deferred building, Sequential, shared layers, variable tracking,
state dicts (structural names, pending loads), save/load."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn
from .helpers import MODES, np_of

nn = kn.nn


def _x(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _call(mode: str, model, *args, training: bool = False):
    if mode == "eager":
        return model(*args, training=training)
    return kn.jit(lambda *a: model(*a, training=training))(*args)


# --- Dense ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_dense_builds_on_first_call(mode) -> None:
    d = nn.Dense(4)
    assert not d.built and d.variables == [] and d.trainable_variables == []
    x = _x(3, 5)
    y = _call(mode, d, x)
    assert d.built
    assert d.kernel.shape == (5, 4) and d.bias.shape == (4,)
    assert d.kernel.dtype == kn.float32 and isinstance(d.kernel, kn.Variable)
    assert [v.shape for v in d.variables] == [(5, 4), (4,)]
    np.testing.assert_array_equal(d.bias.numpy(), np.zeros(4))  # default bias initializer
    np.testing.assert_allclose(np_of(y), x @ d.kernel.numpy() + d.bias.numpy(), rtol=1e-5, atol=1e-6)
    limit = np.sqrt(6.0 / (5 + 4))  # glorot_uniform by default
    assert np.abs(d.kernel.numpy()).max() <= limit


def test_dense_built_inside_jit_then_reused_without_retrace() -> None:
    d = nn.Dense(3, activation="relu")
    f = kn.jit(lambda x: d(x))
    x = _x(4, 2)
    y1 = f(x)
    assert d.kernel.shape == (2, 3)
    y2 = f(x * 2)
    assert f.trace_count == 1
    ref = np.maximum(x @ d.kernel.numpy() + d.bias.numpy(), 0)
    np.testing.assert_allclose(np_of(y1), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np_of(y2), np.maximum(2 * x @ d.kernel.numpy() + d.bias.numpy(), 0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np_of(d(x)), ref, rtol=1e-5, atol=1e-6)  # eager call on the same Variables
    d.kernel.assign(np.zeros((2, 3), np.float32))  # compiled code reads the Variable by reference
    np.testing.assert_array_equal(np_of(f(x)), np.maximum(np.broadcast_to(d.bias.numpy(), (4, 3)), 0))


def test_dense_options() -> None:
    d = nn.Dense(2, use_bias=False, activation=nn.tanh, kernel_initializer="ones", dtype=kn.float64)
    x = np.arange(6.0).reshape(2, 3)
    y = d(x)
    assert [v.shape for v in d.variables] == [(3, 2)] and d.kernel.dtype == kn.float64
    np.testing.assert_allclose(np_of(y), np.tanh(x.sum(axis=1, keepdims=True) * np.ones((1, 2))), rtol=1e-12)
    d3 = nn.Dense(2)
    assert d3(_x(2, 3, 4)).shape == (2, 3, 2) and d3.kernel.shape == (4, 2)  # applies to the last axis


@pytest.mark.parametrize("mode", MODES)
def test_dense_computes_integer_inputs_in_its_dtype(mode) -> None:
    d = nn.Dense(3, kernel_initializer="ones")
    pixels = np.array([[0, 255], [7, 1]], dtype=np.int32)
    y = _call(mode, d, pixels)
    assert y.dtype == kn.float32
    np.testing.assert_array_equal(np_of(y), np.repeat(pixels.sum(1, keepdims=True), 3, 1).astype(np.float32))


def test_dense_wrong_feature_count_after_build_raises() -> None:
    d = nn.Dense(2)
    d(_x(1, 3))
    with pytest.raises(kn.ShapeError, match="Dense: input has 4 features") as err:
        d(_x(1, 4))
    assert str(err.value).count("Dense") == 1 and "test_module.py" in str(err.value)


# --- Sequential -------------------------------------------------------------------------------------

def _mlp_ref(model, x, act=lambda h: np.maximum(h, 0)):
    l0, l2 = model.layers[0], model.layers[2]
    return act(x @ l0.kernel.numpy() + l0.bias.numpy()) @ l2.kernel.numpy() + l2.bias.numpy()


@pytest.mark.parametrize("mode", MODES)
def test_sequential_with_plain_callables_and_add(mode) -> None:
    model = nn.Sequential([nn.Dense(8), nn.relu])
    assert model.add(nn.Dense(3)) is model
    assert len(model) == 3 and isinstance(model[2], nn.Dense)
    x = _x(5, 4)
    y = _call(mode, model, x)
    assert y.shape == (5, 3)
    np.testing.assert_allclose(np_of(y), _mlp_ref(model, x), rtol=1e-5, atol=1e-5)
    assert [v.shape for v in model.variables] == [(4, 8), (8,), (8, 3), (3,)]
    assert list(model.state_dict()) == ["layers.0.kernel", "layers.0.bias", "layers.2.kernel", "layers.2.bias"]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and head(x).shape == (5, 8)


@pytest.mark.parametrize("mode", MODES)
def test_sequential_flatten_relu_and_lambda(mode) -> None:
    model = nn.Sequential([nn.Flatten(), nn.Dense(6), nn.ReLU(), lambda h: h * 2.0, nn.Dense(2)])
    x = _x(3, 2, 4)
    y = _call(mode, model, x)
    l1, l4 = model.layers[1], model.layers[4]
    ref = (2 * np.maximum(x.reshape(3, -1) @ l1.kernel.numpy() + l1.bias.numpy(), 0)) @ l4.kernel.numpy() \
        + l4.bias.numpy()
    np.testing.assert_allclose(np_of(y), ref, rtol=1e-5, atol=1e-5)
    assert l1.kernel.shape == (8, 6)
    assert nn.Flatten()(_x(4)).shape == (4, 1)
    assert nn.Flatten()(_x(2, 3, 4, 5)).shape == (2, 60)
    np.testing.assert_array_equal(np_of(nn.ReLU()(np.array([-1.0, 2.0]))), [0.0, 2.0])


@pytest.mark.parametrize("mode", MODES)
def test_sequential_passes_training_to_dropout_and_callables_that_take_it(mode) -> None:
    seen = []

    def probe(h, training=False):
        seen.append(training)
        return h
    model = nn.Sequential([nn.Dense(64, kernel_initializer="ones"), nn.Dropout(0.5), probe])
    x = np.ones((4, 3), np.float32)
    off = np_of(_call(mode, model, x, training=False))
    np.testing.assert_array_equal(off, np.full((4, 64), 3.0))
    on = np_of(_call(mode, model, x, training=True))
    assert set(np.unique(on)) == {0.0, 6.0}
    assert seen == [False, True]


def test_sequential_nested_and_empty() -> None:
    inner = nn.Sequential([nn.Dense(4), nn.relu])
    model = nn.Sequential([inner, nn.Dense(2)])
    model(_x(3, 5))
    assert list(model.state_dict()) == ["layers.0.layers.0.kernel", "layers.0.layers.0.bias",
                                        "layers.1.kernel", "layers.1.bias"]
    x = _x(2, 3)
    np.testing.assert_array_equal(np_of(nn.Sequential()(x)), x)


# --- shared layers and tracking ---------------------------------------------------------------------

class TwoTowers(nn.Module):
    """One Dense used twice, plus a head: the shared kernel must appear (and train) once."""

    def __init__(self) -> None:
        self.shared = nn.Dense(3)
        self.head = nn.Dense(1)
        self.alias = self.shared  # the same layer under a second name

    def forward(self, a, b, training=False):
        return self.head(self.shared(a) + self.shared(b))


@pytest.mark.parametrize("mode", MODES)
def test_shared_layer_gradients_accumulate(mode) -> None:
    d = nn.Dense(3)
    x1, x2 = _x(4, 2, seed=1), _x(4, 2, seed=2)
    c1, c2 = _x(4, 3, seed=3), _x(4, 3, seed=4)
    d(x1)

    def grads(use1: bool, use2: bool):
        with kn.GradientTape() as tape:
            loss = 0.0
            if use1:
                loss = loss + kn.sum(d(x1) * c1)
            if use2:
                loss = loss + kn.sum(d(x2) * c2)
        return tape.gradient(loss, d.trainable_variables)
    run = (lambda *a: grads(*a)) if mode == "eager" else (lambda *a: kn.jit(lambda: grads(*a))())
    both, only1, only2 = run(True, True), run(True, False), run(False, True)
    for g, g1, g2 in zip(both, only1, only2):
        np.testing.assert_allclose(np_of(g), np_of(g1) + np_of(g2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np_of(both[0]), x1.T @ c1 + x2.T @ c2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np_of(both[1]), c1.sum(0) + c2.sum(0), rtol=1e-5, atol=1e-5)


def test_shared_layer_variables_dedupe_and_train_once() -> None:
    m = TwoTowers()
    a, b = _x(5, 4, seed=1), _x(5, 4, seed=2)
    m(a, b)
    assert len(m.variables) == 4 and len(m.trainable_variables) == 4
    assert len({id(v) for v in m.variables}) == 4
    assert list(m.state_dict()) == ["shared.kernel", "shared.bias", "head.kernel", "head.bias"]
    opt = kn.optim.SGD(0.1)
    before, w = m.shared.kernel.numpy(), m.head.kernel.numpy()[:, 0]

    @kn.jit
    def step(a, b):
        with kn.GradientTape() as tape:
            loss = kn.sum(m(a, b))
        grads = tape.gradient(loss, m.trainable_variables)
        opt.apply_gradients(zip(grads, m.trainable_variables))
        return grads[0]
    g = np_of(step(a, b))
    np.testing.assert_allclose(m.shared.kernel.numpy(), before - 0.1 * g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g, (a + b).sum(0)[:, None] * w[None, :], rtol=1e-4, atol=1e-5)


class Custom(nn.Module):
    """Attributes that are lists, tuples and dicts of Modules and Variables."""

    def __init__(self) -> None:
        self.blocks = [nn.Dense(4), nn.Dense(4)]
        self.heads = {"cls": nn.Dense(3), "reg": nn.Dense(1)}
        self.pair = (nn.Dense(2, use_bias=False),)
        self.scale = kn.Variable(np.float32(2.0), name="scale")
        self.stats = [kn.Variable(np.zeros(4, np.float32), trainable=False)]
        self.not_tracked = 3.0
        self.table = {"nested": [kn.Variable(np.ones(2, np.float32))]}

    def forward(self, x, training=False):
        h = x
        for b in self.blocks:
            h = nn.relu(b(h))
        h = h * self.scale + self.stats[0]
        return self.heads["cls"](h), self.heads["reg"](h), self.pair[0](h) * self.table["nested"][0]


CUSTOM_KEYS = ["blocks.0.kernel", "blocks.0.bias", "blocks.1.kernel", "blocks.1.bias", "heads.cls.kernel",
               "heads.cls.bias", "heads.reg.kernel", "heads.reg.bias", "pair.0.kernel", "scale", "stats.0",
               "table.nested.0"]


@pytest.mark.parametrize("mode", MODES)
def test_custom_module_tracks_containers(mode) -> None:
    m = Custom()
    assert [k for k, _ in m.named_variables()] == ["scale", "stats.0", "table.nested.0"]  # before building
    outs = _call(mode, m, _x(2, 5))
    assert [o.shape for o in outs] == [(2, 3), (2, 1), (2, 2)]
    assert list(m.state_dict()) == CUSTOM_KEYS
    assert len(m.variables) == 12 and len(m.trainable_variables) == 11
    assert all(v is not m.stats[0] for v in m.trainable_variables)
    assert any(v is m.stats[0] for v in m.variables)


# --- state dicts ------------------------------------------------------------------------------------

def _mlp() -> nn.Sequential:
    return nn.Sequential([nn.Dense(6, activation="relu"), nn.Dropout(0.1), nn.Dense(3)])


def test_state_dict_is_a_snapshot_of_numpy_arrays() -> None:
    m = _mlp()
    m(_x(2, 4))
    sd = m.state_dict()
    assert list(sd) == ["layers.0.kernel", "layers.0.bias", "layers.2.kernel", "layers.2.bias"]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    old = sd["layers.0.bias"].copy()
    m.layers[0].bias.assign(np.full(6, 5.0, np.float32))
    np.testing.assert_array_equal(sd["layers.0.bias"], old)


@pytest.mark.parametrize("mode", MODES)
def test_load_state_dict_before_first_call(mode) -> None:
    src = _mlp()
    x = _x(3, 4)
    want = np_of(src(x))
    dst = _mlp()
    dst.load_state_dict(src.state_dict())
    assert dst.variables == []  # values wait for the build
    got = np_of(_call(mode, dst, x))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    for (ka, a), (kb, b) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_after_first_call_and_dtype_kept() -> None:
    src, dst = _mlp(), _mlp()
    x = _x(3, 4)
    want = np_of(src(x))
    dst(x)
    assert not np.allclose(np_of(dst(x)), want)
    dst.load_state_dict({k: v.astype(np.float64) for k, v in src.state_dict().items()})
    assert all(v.dtype == kn.float32 for v in dst.variables)
    np.testing.assert_allclose(np_of(dst(x)), want, rtol=1e-6)


def test_load_state_dict_into_custom_module_before_build() -> None:
    src, dst = Custom(), Custom()
    x = _x(2, 5)
    src.scale.assign(np.float32(3.0))
    want = [np_of(o) for o in src(x)]
    dst.load_state_dict(src.state_dict())
    assert float(dst.scale.numpy()) == 3.0
    for a, b in zip(want, dst(x)):
        np.testing.assert_allclose(np_of(b), a, rtol=1e-6)


def test_load_state_dict_missing_and_unknown_keys_raise_key_error() -> None:
    src = _mlp()
    src(_x(1, 4))
    sd = src.state_dict()
    built = _mlp()
    built(_x(1, 4))
    missing = dict(sd)
    del missing["layers.2.bias"]
    with pytest.raises(KeyError, match="layers.2.bias"):
        built.load_state_dict(missing)
    with pytest.raises(KeyError, match="layers.9.kernel"):
        built.load_state_dict({**sd, "layers.9.kernel": np.zeros((6, 3), np.float32)})
    with pytest.raises(KeyError, match="extra"):
        built.load_state_dict({**sd, "extra": np.zeros(1)})


def test_load_state_dict_unbuilt_unknown_keys_raise_key_error() -> None:
    src = _mlp()
    src(_x(1, 4))
    sd = src.state_dict()
    with pytest.raises(KeyError, match="layers.9.kernel"):
        _mlp().load_state_dict({**sd, "layers.9.kernel": np.zeros((6, 3), np.float32)})
    with pytest.raises(KeyError, match="extra"):
        _mlp().load_state_dict({**sd, "extra": np.zeros(1)})
    with pytest.raises(KeyError, match="layers.1.rate"):  # Dropout holds no Variables
        _mlp().load_state_dict({**sd, "layers.1.rate": np.zeros(1)})
    typo = _mlp()  # a misspelt weight of a layer not built yet shows when that layer builds
    typo.load_state_dict({**{k: v for k, v in sd.items() if k != "layers.0.bias"}, "layers.0.bais": sd["layers.0.bias"]})
    with pytest.raises(KeyError, match="layers.0.bias|bais"):
        typo(_x(1, 4))


def test_load_state_dict_unbuilt_missing_keys_raise_key_error() -> None:
    src = _mlp()
    src(_x(1, 4))
    missing = src.state_dict()
    del missing["layers.2.bias"]
    dst = _mlp()
    dst.load_state_dict(missing)  # shapes are unknown until the first call, so the check waits for it
    with pytest.raises(KeyError, match="layers.2.bias"):
        dst(_x(1, 4))
    nothing = _mlp()
    nothing.load_state_dict({})
    with pytest.raises(KeyError, match="layers.0.kernel"):
        nothing(_x(1, 4))


def test_failed_load_changes_nothing() -> None:
    src, dst = _mlp(), _mlp()
    src(_x(1, 4))
    dst(_x(1, 4))
    before = dst.state_dict()
    with pytest.raises(KeyError):
        dst.load_state_dict({**src.state_dict(), "extra": np.zeros(1)})
    for k, v in dst.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_shape_mismatch_raises_value_error() -> None:
    src = _mlp()
    src(_x(1, 4))
    sd = src.state_dict()
    built = _mlp()
    built(_x(1, 5))  # built for 5 input features: layers.0.kernel is (5, 6)
    with pytest.raises(ValueError, match="layers.0.kernel"):
        built.load_state_dict(sd)
    unbuilt = _mlp()
    unbuilt.load_state_dict(sd)
    with pytest.raises(ValueError, match="layers.0.kernel"):
        unbuilt(_x(1, 5))


@pytest.mark.parametrize("suffix", [".npz", ""])
def test_save_and_load_round_trip(tmp_path, suffix) -> None:
    m = Custom()
    x = _x(2, 5)
    want = [np_of(o) for o in m(x)]
    path = tmp_path / f"model{suffix}"
    m.save(path)
    on_disk = path if suffix else tmp_path / "model.npz"
    with np.load(on_disk, allow_pickle=False) as f:
        assert sorted(f.files) == sorted(CUSTOM_KEYS)
        np.testing.assert_array_equal(f["heads.cls.kernel"], m.heads["cls"].kernel.numpy())
    sd = nn.load(path)
    assert list(sd) == CUSTOM_KEYS
    fresh = Custom()
    fresh.load_state_dict(sd)
    for a, b in zip(want, fresh(x)):
        np.testing.assert_array_equal(np_of(b), a)


def test_module_forward_must_be_overridden_and_repr() -> None:
    class NoForward(nn.Module):
        pass
    with pytest.raises(NotImplementedError):
        NoForward()(np.zeros(2))
    m = _mlp()
    m(_x(1, 4))
    text = repr(m)
    assert "Sequential" in text and "Dense" in text and "Dropout" in text


def test_underscore_attributes_are_tracked() -> None:
    """Like PyTorch and Keras: `self._layer` holds variables too."""
    class Net(kn.nn.Module):
        def __init__(self):
            self._hidden = kn.nn.Dense(3)

        def forward(self, x, training=False):
            return self._hidden(x)

    net = Net()
    net(np.ones((2, 4), np.float32))
    assert list(net.state_dict()) == ["_hidden.kernel", "_hidden.bias"]
