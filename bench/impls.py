"""The implementations the workloads time: one pure function in every framework, SGD
training steps in every framework from one set of initial parameters, and the math the
workloads share (parameter init, softmax cross-entropy)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .common import Result, Settings, check, measure_all, rng, to_numpy


# ----------------------------------------------------------------------------- pure functions


def function_impls(fns: dict[str, Callable], args: tuple[np.ndarray, ...]) -> list[tuple[str, Callable]]:
    """Implementations of one pure function over `args` (float32 / int32 NumPy arrays):
    `fns` maps "numpy", "torch" (eager and torch.compile), "jax" and "kiln" to that library's
    version; each gets the args in its own array type (integer args become int64 for torch)."""
    def numpy():
        return lambda: fns["numpy"](*args)

    def torch_fn(compiled):
        def build():
            import torch
            targs = [torch.from_numpy(a.astype(np.int64) if a.dtype.kind == "i" else a) for a in args]
            f = torch.compile(fns["torch"]) if compiled else fns["torch"]
            return lambda: f(*targs)
        return build

    def jax_jit():
        import jax
        jargs = [jax.device_put(a) for a in args]
        f = jax.jit(fns["jax"])
        return lambda: jax.block_until_ready(f(*jargs))

    def kiln():
        import kiln as kn
        f = kn.jit(fns["kiln"])
        return lambda: f(*args)

    return [("kiln", kiln), ("numpy", numpy), ("torch eager", torch_fn(False)),
            ("torch.compile", torch_fn(True)), ("jax.jit", jax_jit)]


# ----------------------------------------------------------------------------- training steps
# A trainer runs one SGD step on a fixed batch per call, returning the loss, with its
# parameters updated in place; `.params()` returns them as NumPy arrays in the common layout
# (dense kernels (in, out), convolutions OIHW), so every framework starts from the same dict.


class NumpyTrainer:
    """`step(p, x, y, lr)` written by hand in NumPy, updating the dict `p` in place."""

    def __init__(self, step, params0, x, y, lr, dtype=np.float32):
        self.step, self.lr = step, lr
        self.p = {k: v.astype(dtype) for k, v in params0.items()}
        self.x, self.y = x.astype(dtype), y

    def __call__(self):
        return self.step(self.p, self.x, self.y, self.lr)

    def params(self):
        return self.p


def torch_trainer(loss_fn, params0, x, y, lr, compiled: bool):
    """torch.optim.SGD on leaf tensors; `loss_fn(p, x, y)` written with torch ops, wrapped in
    torch.compile when `compiled` (forward and AOT-autograd backward compiled, step eager)."""
    import torch
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params0.items()}
    tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.SGD(list(p.values()), lr=lr)
    f = torch.compile(loss_fn) if compiled else loss_fn

    def step():
        opt.zero_grad(set_to_none=True)
        loss = f(p, tx, ty)
        loss.backward()
        opt.step()
        return loss.detach()
    step.params = lambda: {k: v.detach().numpy() for k, v in p.items()}
    return step


def jax_trainer(loss_fn, params0, x, y, lr):
    """jax.jit of value_and_grad plus the SGD update, parameters donated (updated in place)."""
    import jax
    state = {"p": jax.device_put(params0)}
    jx, jy = jax.device_put(x), jax.device_put(y)

    def sgd(p, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        return jax.tree_util.tree_map(lambda v, d: v - lr * d, p, g), loss
    f = jax.jit(sgd, donate_argnums=0)

    def step():
        state["p"], loss = f(state["p"], jx, jy)
        return loss.block_until_ready()
    step.params = lambda: {k: np.asarray(v) for k, v in state["p"].items()}
    return step


def kiln_trainer(loss_fn, variables, x, y, lr):
    """One kiln.jit'd step: GradientTape over `variables` (name -> kn.Variable, updated in
    place by the native code) and kn.optim.SGD; `loss_fn(x, y)` closes over the variables."""
    import kiln as kn
    opt = kn.optim.SGD(lr)
    vs = list(variables.values())

    @kn.jit
    def train_step(x, y):
        with kn.GradientTape() as tape:
            loss = loss_fn(x, y)
        opt.apply_gradients(zip(tape.gradient(loss, vs), vs))
        return loss

    step = lambda: train_step(x, y)  # noqa: E731
    step.jitted, step.args = train_step, (x, y)
    step.params = lambda: {k: v.numpy() for k, v in variables.items()}
    return step


def training_impls(numpy_step, torch_loss, jax_loss, kiln_build, params0, x, y, lr):
    """Implementations of one training step: NumPy by hand, torch eager / torch.compile,
    jax.jit, kiln (`kiln_build(params0, x, y, lr)` returns a trainer or raises NotSupported)."""
    return [("kiln", lambda: kiln_build(params0, x, y, lr)),
            ("numpy", lambda: NumpyTrainer(numpy_step, params0, x, y, lr)),
            ("torch eager", lambda: torch_trainer(torch_loss, params0, x, y, lr, False)),
            ("torch.compile", lambda: torch_trainer(torch_loss, params0, x, y, lr, True)),
            ("jax.jit", lambda: jax_trainer(jax_loss, params0, x, y, lr))]


def expect_training(numpy_step, params0, x, y, lr, steps: int = 3, rtol: float = 1e-3) -> Callable:
    """`verify` for a trainer: `steps` losses, and each parameter's total update (not the
    parameter itself, whose initial value would hide a wrong gradient), against the float64
    NumPy reference run from the same initial parameters. A float32 parameter rounds each
    update to its ulp, so the updates may also differ by `steps` ulps of the parameter."""
    ref = NumpyTrainer(numpy_step, params0, x, y, lr, np.float64)
    ref_losses = [float(ref()) for _ in range(steps)]
    p0 = {k: v.astype(np.float64) for k, v in params0.items()}

    def verify(trainer):
        check("losses", [float(to_numpy(trainer())) for _ in range(steps)], ref_losses, rtol)
        got = trainer.params()
        for k in p0:
            ulps = steps * np.spacing(np.abs(params0[k])).astype(np.float64)
            check(f"update of {k}", to_numpy(got[k]) - p0[k], ref.params()[k] - p0[k], rtol, ulps)
    return verify


def init_params(shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Seeded float32 parameters: uniform(+-1/sqrt(fan_in)) weights (PyTorch's default scale),
    small uniform biases (nonzero so their gradients are checked against a moving target)."""
    r = rng(1)
    out = {}
    for name, shape in shapes.items():
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]  # OIHW or (in, out)
        bound = 1 / np.sqrt(fan_in) if len(shape) > 1 else 0.1
        out[name] = r.uniform(-bound, bound, shape).astype(np.float32)
    return out


# ----------------------------------------------------------------------------- shared math


def softmax_ce_numpy(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean sparse softmax cross-entropy and its gradient w.r.t. the logits, by hand."""
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.log(s[:, 0]).sum() / n - shifted[rows, labels].sum() / n
    grad = e / s
    grad[rows, labels] -= 1
    return loss, grad / logits.dtype.type(n)


def softmax_ce_torch(logits, labels):
    import torch.nn.functional as F
    return F.cross_entropy(logits, labels)


def softmax_ce_jax(logits, labels):
    import jax
    import jax.numpy as jnp
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))


def training_workload(wid: str, title: str, short: str, limit: float, module, settings: Settings) -> list[Result]:
    """Run a training-step workload module (its setup, impls, numpy_step and LR) and judge
    kiln against `limit` x the best anchor."""
    params0, x, y = module.setup()
    rows = measure_all(module.impls(params0, x, y), expect_training(module.numpy_step, params0, x, y, module.LR),
                       settings)
    res = Result(wid, title, rows, short=short, goal=f"<= {limit}x best")
    res.judge(limit)
    return [res]
