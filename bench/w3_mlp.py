"""W3: one SGD step (lr 0.1) of an MLP 784-256-10 (ReLU, mean sparse softmax cross-entropy)
on a batch of 256: forward, backward and the in-place parameter update in one call."""
from __future__ import annotations

import sys

import numpy as np

from .common import Result, Settings, rng
from .impls import (init_params, kiln_trainer, softmax_ce_jax, softmax_ce_numpy, softmax_ce_torch,
                    training_impls, training_workload)

BATCH, LR = 256, 0.1
SHAPES = {"w1": (784, 256), "b1": (256,), "w2": (256, 10), "b2": (10,)}
KILN_NAMES = {"w1": "layers.0.kernel", "b1": "layers.0.bias", "w2": "layers.1.kernel", "b2": "layers.1.bias"}


def numpy_step(p, x, y, lr):
    h = x @ p["w1"] + p["b1"]
    a = np.maximum(h, 0)
    loss, dz = softmax_ce_numpy(a @ p["w2"] + p["b2"], y)
    dh = (dz @ p["w2"].T) * (h > 0)
    grads = {"w1": x.T @ dh, "b1": dh.sum(0), "w2": a.T @ dz, "b2": dz.sum(0)}
    for k, g in grads.items():
        p[k] -= lr * g
    return loss


def torch_loss(p, x, y):
    import torch
    return softmax_ce_torch(torch.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"], y)


def jax_loss(p, x, y):
    import jax
    return softmax_ce_jax(jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"], y)


def kiln_build(params0, x, y, lr):
    """The idiomatic kiln step: Keras-style layers, built on a first eager call, then loaded."""
    import kiln as kn
    net = kn.nn.Sequential([kn.nn.Dense(256, activation="relu"), kn.nn.Dense(10)])
    net(x)
    net.load_state_dict({KILN_NAMES[k]: v for k, v in params0.items()})
    named = dict(net.named_variables())
    return kiln_trainer(lambda x, y: kn.nn.sparse_softmax_cross_entropy(net(x, training=True), y),
                        {k: named[v] for k, v in KILN_NAMES.items()}, x, y, lr)


def setup():
    r = rng()
    x = r.random((BATCH, 784), dtype=np.float32)
    y = r.integers(0, 10, BATCH).astype(np.int32)
    return init_params(SHAPES), x, y


def impls(params0, x, y):
    return training_impls(numpy_step, torch_loss, jax_loss, kiln_build, params0, x, y, LR)


def run(settings: Settings) -> list[Result]:
    return training_workload("W3", "MLP 784-256-10 SGD step, batch 256", "MLP SGD step", 0.85, sys.modules[__name__], settings)
