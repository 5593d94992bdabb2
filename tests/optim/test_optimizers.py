"""kn.optim: SGD, Adam and RMSprop against float64 NumPy reimplementations of the rules in
optimizers.py's docstring (PyTorch's), eagerly and inside a compiled step; schedules, lr changes,
skipped None gradients, errors and the step counter."""
from __future__ import annotations

import numpy as np
import pytest

import kiln as kn

MODES = ["eager", "jit"]
SHAPES = [(3, 4), (4,)]


# --- NumPy references ------------------------------------------------------------------------------

class RefSGD:
    def __init__(self, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.lr, self.mu, self.nesterov, self.wd = lr, momentum, nesterov, weight_decay
        self.buf: dict[int, np.ndarray] = {}

    def step(self, params, grads, lr=None):
        lr = self.lr if lr is None else lr
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g + self.wd * p
            if self.mu:
                b = self.buf[i] = self.mu * self.buf.get(i, np.zeros_like(p)) + g
                g = g + self.mu * b if self.nesterov else b
            p -= lr * g


class RefAdam:
    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, eps
        self.m: dict[int, np.ndarray] = {}
        self.v: dict[int, np.ndarray] = {}
        self.t = 0

    def step(self, params, grads, lr=None):
        self.t += 1
        lr = self.lr if lr is None else lr
        for i, (p, g) in enumerate(zip(params, grads)):
            m = self.m[i] = self.b1 * self.m.get(i, 0.0) + (1 - self.b1) * g
            v = self.v[i] = self.b2 * self.v.get(i, 0.0) + (1 - self.b2) * g * g
            m_hat, v_hat = m / (1 - self.b1 ** self.t), v / (1 - self.b2 ** self.t)
            p -= lr * m_hat / (np.sqrt(v_hat) + self.eps)


class RefRMSprop:
    def __init__(self, lr=1e-3, rho=0.9, momentum=0.0, eps=1e-7):
        self.lr, self.rho, self.mu, self.eps = lr, rho, momentum, eps
        self.ms: dict[int, np.ndarray] = {}
        self.buf: dict[int, np.ndarray] = {}

    def step(self, params, grads, lr=None):
        for i, (p, g) in enumerate(zip(params, grads)):
            ms = self.ms[i] = self.rho * self.ms.get(i, 0.0) + (1 - self.rho) * g * g
            step = g / (np.sqrt(ms) + self.eps)
            if self.mu:
                step = self.buf[i] = self.mu * self.buf.get(i, 0.0) + step
            p -= self.lr * step


CONFIGS = [
    ("sgd", lambda: kn.optim.SGD(0.1), lambda: RefSGD(0.1)),
    ("sgd_momentum", lambda: kn.optim.SGD(0.05, momentum=0.9), lambda: RefSGD(0.05, momentum=0.9)),
    ("sgd_nesterov", lambda: kn.optim.SGD(0.05, momentum=0.8, nesterov=True),
     lambda: RefSGD(0.05, momentum=0.8, nesterov=True)),
    ("sgd_weight_decay", lambda: kn.optim.SGD(0.1, weight_decay=0.01), lambda: RefSGD(0.1, weight_decay=0.01)),
    ("sgd_all", lambda: kn.optim.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
     lambda: RefSGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("adam", lambda: kn.optim.Adam(0.01), lambda: RefAdam(0.01)),
    ("adam_defaults", lambda: kn.optim.Adam(), lambda: RefAdam()),
    ("adam_custom", lambda: kn.optim.Adam(0.02, beta1=0.5, beta2=0.9, eps=1e-3),
     lambda: RefAdam(0.02, beta1=0.5, beta2=0.9, eps=1e-3)),
    ("rmsprop", lambda: kn.optim.RMSprop(0.01), lambda: RefRMSprop(0.01)),
    ("rmsprop_momentum", lambda: kn.optim.RMSprop(0.01, rho=0.8, momentum=0.9, eps=1e-4),
     lambda: RefRMSprop(0.01, rho=0.8, momentum=0.9, eps=1e-4)),
]


def _params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(dtype) for s in SHAPES]


def _grads(k: int, dtype=np.float64):
    rng = np.random.default_rng(100 + k)
    return [rng.normal(size=s).astype(dtype) for s in SHAPES]


def _stepper(mode: str, opt, variables):
    def step(*grads):
        opt.apply_gradients(zip(grads, variables))
    return step if mode == "eager" else kn.jit(step)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,make,make_ref", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_steps_match_numpy_reference(mode, name, make, make_ref) -> None:
    init = _params()
    variables = [kn.Variable(p) for p in init]
    opt, ref = make(), make_ref()
    step = _stepper(mode, opt, variables)
    params = [p.copy() for p in init]
    for k in range(4):
        grads = _grads(k)
        step(*grads)
        ref.step(params, grads)
        for v, p in zip(variables, params):
            np.testing.assert_allclose(v.numpy(), p, rtol=1e-10, atol=1e-12, err_msg=f"step {k + 1}")
        assert int(opt.iterations.numpy()) == k + 1
    if mode == "jit":
        assert step.trace_count == 1


@pytest.mark.parametrize("name,make,make_ref", [c for c in CONFIGS if c[0] in ("sgd_all", "adam", "rmsprop_momentum")],
                         ids=["sgd_all", "adam", "rmsprop_momentum"])
def test_float32_variables_in_a_compiled_train_step(name, make, make_ref) -> None:
    """Gradients from a GradientTape inside the compiled step; float32 state, float64 reference."""
    rng = np.random.default_rng(1)
    c = rng.uniform(0.5, 2.0, size=SHAPES[0]).astype(np.float32)
    init = _params(np.float32)
    w, b = (kn.Variable(p) for p in init)
    opt, ref = make(), make_ref()

    @kn.jit
    def train_step(x):
        with kn.GradientTape() as tape:
            loss = kn.sum(w * w * c) + kn.sum(b * b * b) * x
        opt.apply_gradients(zip(tape.gradient(loss, [w, b]), [w, b]))
        return loss
    pw, pb = (p.astype(np.float64) for p in init)
    for k in range(3):
        x = np.float32(0.5 + k)
        loss = train_step(x)
        np.testing.assert_allclose(float(loss), np.sum(pw * pw * c) + np.sum(pb ** 3) * x, rtol=1e-5)
        ref.step([pw, pb], [2 * c * pw, 3 * pb * pb * x])
        np.testing.assert_allclose(w.numpy(), pw, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.numpy(), pb, rtol=1e-5, atol=1e-6)
    assert w.dtype == kn.float32 and train_step.trace_count == 1
    assert all(v.dtype == kn.float32 for v in opt.variables[2:])  # slots follow their Variable's dtype


# --- learning rates ---------------------------------------------------------------------------------

@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_values(staircase) -> None:
    sched = kn.optim.schedules.ExponentialDecay(0.5, decay_steps=3, decay_rate=0.1, staircase=staircase)
    for step in range(8):
        p = step // 3 if staircase else step / 3
        np.testing.assert_allclose(float(sched(step)), 0.5 * 0.1 ** p, rtol=1e-12)
        np.testing.assert_allclose(float(sched(np.int64(step))), 0.5 * 0.1 ** p, rtol=1e-12)
    with pytest.raises(ValueError):
        kn.optim.schedules.ExponentialDecay(0.5, decay_steps=0, decay_rate=0.1)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("which", ["sgd", "adam"])
def test_schedule_drives_updates_from_step_zero(mode, staircase, which) -> None:
    sched = kn.optim.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5, staircase=staircase)
    opt = kn.optim.SGD(sched) if which == "sgd" else kn.optim.Adam(sched)
    ref = RefSGD(None) if which == "sgd" else RefAdam(None)
    assert opt.lr is sched
    init = _params()
    variables = [kn.Variable(p) for p in init]
    params = [p.copy() for p in init]
    step = _stepper(mode, opt, variables)
    for k in range(5):
        grads = _grads(k)
        step(*grads)
        ref.step(params, grads, lr=0.1 * 0.5 ** ((k // 2) if staircase else k / 2))  # first update: step 0
        for v, p in zip(variables, params):
            np.testing.assert_allclose(v.numpy(), p, rtol=1e-10, atol=1e-12, err_msg=f"step {k + 1}")
    with pytest.raises(TypeError):
        opt.lr = 0.5


def test_first_update_uses_the_initial_rate() -> None:
    sched = kn.optim.schedules.ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    v = kn.Variable(np.zeros(2))
    opt = kn.optim.SGD(sched)
    opt.apply_gradients([(np.ones(2), v)])
    np.testing.assert_allclose(v.numpy(), [-1.0, -1.0])
    opt.apply_gradients([(np.ones(2), v)])
    np.testing.assert_allclose(v.numpy(), [-1.5, -1.5])


@pytest.mark.parametrize("which", ["sgd", "adam", "rmsprop"])
def test_setting_lr_changes_a_compiled_step_without_retrace(which) -> None:
    make = {"sgd": lambda: kn.optim.SGD(0.1, momentum=0.5), "adam": lambda: kn.optim.Adam(0.1),
            "rmsprop": lambda: kn.optim.RMSprop(0.1)}[which]
    ref = {"sgd": lambda: RefSGD(0.1, momentum=0.5), "adam": lambda: RefAdam(0.1),
           "rmsprop": lambda: RefRMSprop(0.1)}[which]()
    opt = make()
    init = _params()
    variables = [kn.Variable(p) for p in init]
    params = [p.copy() for p in init]
    step = _stepper("jit", opt, variables)
    for k, lr in enumerate([0.1, 0.1, 0.01, 0.5]):
        opt.lr = lr
        assert opt.lr == lr and isinstance(opt.lr, float)
        ref.lr = lr
        grads = _grads(k)
        step(*grads)
        ref.step(params, grads, lr=lr)
        for v, p in zip(variables, params):
            np.testing.assert_allclose(v.numpy(), p, rtol=1e-10, atol=1e-12)
    assert step.trace_count == 1
    assert opt.learning_rate == 0.5


# --- gradients that are None, wrong, or not paired with Variables --------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_none_gradients_are_skipped(mode) -> None:
    w, b = kn.Variable(np.ones((2, 2))), kn.Variable(np.ones(2))
    opt = kn.optim.SGD(0.5, momentum=0.9)

    def step(g):
        opt.apply_gradients([(None, w), (g, b)])
    step = step if mode == "eager" else kn.jit(step)
    step(np.array([1.0, 2.0]))
    step(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(w.numpy(), np.ones((2, 2)))
    np.testing.assert_allclose(b.numpy(), 1 - 0.5 * (np.array([1.0, 2.0]) * (1 + 1.9)))
    assert int(opt.iterations.numpy()) == 2


@pytest.mark.parametrize("mode", MODES)
def test_unconnected_variable_from_tape_is_skipped(mode) -> None:
    w, unused = kn.Variable(np.array([1.0, 2.0])), kn.Variable(np.array([5.0]))
    opt = kn.optim.Adam(0.1)

    def step():
        with kn.GradientTape() as tape:
            loss = kn.sum(w * w)
        grads = tape.gradient(loss, [w, unused])
        assert grads[1] is None
        opt.apply_gradients(zip(grads, [w, unused]))
    (step if mode == "eager" else kn.jit(step))()
    np.testing.assert_allclose(w.numpy(), [0.9, 1.9], rtol=1e-6)
    np.testing.assert_array_equal(unused.numpy(), [5.0])


@pytest.mark.parametrize("mode", MODES)
def test_wrong_gradient_shape_raises_shape_error(mode) -> None:
    w = kn.Variable(np.ones((2, 3)))
    opt = kn.optim.Adam()

    def step(g):
        opt.apply_gradients([(g, w)])
    with pytest.raises(kn.ShapeError, match=r"\(3, 2\)") as err:
        (step if mode == "eager" else kn.jit(step))(np.ones((3, 2)))
    assert str(err.value).count("apply_gradients:") == 1
    np.testing.assert_array_equal(w.numpy(), np.ones((2, 3)))
    assert int(opt.iterations.numpy()) == 0


def test_non_variable_target_raises_type_error() -> None:
    with pytest.raises(TypeError):
        kn.optim.SGD(0.1).apply_gradients([(np.ones(2), np.ones(2))])


def test_nesterov_needs_momentum() -> None:
    with pytest.raises(ValueError):
        kn.optim.SGD(0.1, nesterov=True)


def test_iterations_and_optimizer_variables() -> None:
    w = kn.Variable(np.zeros(3))
    opt = kn.optim.Adam(0.1)
    assert isinstance(opt.iterations, kn.Variable) and int(opt.iterations.numpy()) == 0
    assert len(opt.variables) == 2  # step count and learning rate
    opt.apply_gradients([(np.ones(3), w)])
    assert len(opt.variables) == 4 and all(not v.trainable for v in opt.variables)  # + m and v
    opt.apply_gradients([])  # no pairs at all still counts a step
    assert int(opt.iterations.numpy()) == 2
    sgd = kn.optim.SGD(0.1)
    sgd.apply_gradients([(np.ones(3), w)])
    assert len(sgd.variables) == 2  # plain SGD keeps no slots


def test_gradient_dtype_is_cast_to_the_variable() -> None:
    w = kn.Variable(np.ones(2, np.float32))
    kn.optim.SGD(0.5).apply_gradients([(np.array([1.0, 3.0]), w)])
    assert w.dtype == kn.float32
    np.testing.assert_allclose(w.numpy(), [0.5, -0.5])
