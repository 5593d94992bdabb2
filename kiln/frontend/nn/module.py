"""Module: a callable holding Variables, built on its first call (shapes inferred, Keras-style).

Attributes that are Modules, Variables, or lists/tuples/dicts of them are tracked in
assignment order; `state_dict` names each Variable by its attribute path
("layers.0.kernel"), so a freshly constructed, identical model loads it — even before its
first call: values for a not-yet-built layer wait until it builds and creates them.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ...ir import dtypes as dt
from ..core import lift
from ..trace import tracing
from ..variable import Variable
from . import init as initializers


class Module:
    """Override `forward(self, *inputs, training=False)`; optionally `build(self, *shapes)`,
    which creates Variables with `add_weight` from the input shapes on the first call."""

    built: bool = False

    # calling ---------------------------------------------------------------------------------
    def __call__(self, *inputs, training: bool = False, **kwargs):
        if not self.built:
            self.build(*(tuple(lift(x).shape) for x in inputs))
            self.built = True
            prefix, left = self.__dict__.pop("_pending_state", ("", {}))
            if left:
                raise KeyError(f"load_state_dict: entries the model does not hold: "
                               f"{', '.join(prefix + k for k in sorted(left))}")
        return self.forward(*inputs, training=training, **kwargs)

    def forward(self, *inputs, training: bool = False):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, *inputs, training=False)")

    def build(self, *input_shapes: tuple[int, ...]) -> None:
        """Create Variables from the first inputs' shapes; the default creates none."""

    def add_weight(self, name: str, shape, initializer="glorot_uniform", dtype=dt.float32,
                   trainable: bool = True) -> Variable:
        """A Variable attribute `name`, initialised eagerly (or from a pending loaded value)."""
        shape = tuple(int(s) for s in shape)
        pending = self.__dict__.get("_pending_state")
        if pending is not None:  # a state dict was loaded before the build: it must hold every weight
            prefix, values = pending
            if name not in values:
                raise KeyError(f"load_state_dict: no entry for {prefix + name!r}")
            value = np.asarray(values.pop(name))
            if value.shape != shape:
                raise ValueError(f"load_state_dict: {prefix + name!r} has shape {value.shape}, the layer built "
                                 f"for these inputs needs {shape}")
        else:
            value = initializers.get(initializer)(shape, dtype)
        with tracing(None):
            var = Variable(value, trainable=trainable, name=f"{type(self).__name__}.{name}", dtype=dtype)
        setattr(self, name, var)
        return var

    # tracking --------------------------------------------------------------------------------
    def named_variables(self, prefix: str = "") -> Iterator[tuple[str, Variable]]:
        """(path, Variable) for each Variable reachable from this module, each once."""
        seen: set[int] = set()
        for path, v in _walk(self, prefix):
            if isinstance(v, Variable) and id(v) not in seen:
                seen.add(id(v))
                yield path, v

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix, self
        yield from ((path, m) for path, m in _walk(self, prefix) if isinstance(m, Module))

    @property
    def variables(self) -> list[Variable]:
        return [v for _, v in self.named_variables()]

    @property
    def trainable_variables(self) -> list[Variable]:
        return [v for v in self.variables if v.trainable]

    @property
    def non_trainable_variables(self) -> list[Variable]:
        return [v for v in self.variables if not v.trainable]

    # state ------------------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        return OrderedDict((name, v.numpy()) for name, v in self.named_variables())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Assign every Variable its entry (shapes must match); entries for layers not built yet
        wait for their first call, where a missing or misnamed weight raises. Raises KeyError for
        missing or unknown entries, ValueError for shapes, before changing anything."""
        state = dict(state)
        assignments = []
        for name, var in self.named_variables():
            if name not in state:
                raise KeyError(f"load_state_dict: no entry for {name!r}")
            value = np.asarray(state.pop(name))
            if value.shape != var.shape:
                raise ValueError(f"load_state_dict: {name!r} has shape {value.shape}, the model holds {var.shape}")
            assignments.append((var, value))
        # only an unbuilt module with its own `build` will create Variables (and so own entries)
        waiting = [(_dotted(path), m, {}) for path, m in self.named_modules()
                   if not m.built and type(m).build is not Module.build]
        for key in list(state):
            owner = max((w for w in waiting if key.startswith(w[0])), key=lambda w: len(w[0]), default=None)
            if owner is not None and "." not in key[len(owner[0]):]:
                owner[2][key[len(owner[0]):]] = state.pop(key)
        if state:
            raise KeyError(f"load_state_dict: entries the model does not hold: {', '.join(sorted(state))}")
        for var, value in assignments:
            var.assign(value)
        for prefix, m, values in waiting:
            m.__dict__["_pending_state"] = (prefix, values)

    def save(self, path) -> None:
        """Write the state dict as an .npz archive (plain arrays, no pickle)."""
        np.savez(path, **self.state_dict())

    def __repr__(self) -> str:
        inner = [f"  ({name}): {m!r}".replace("\n", "\n  ") for name, m in _children(self)]
        return f"{type(self).__name__}({self.extra_repr()})" if not inner else \
            f"{type(self).__name__}(\n" + "\n".join(inner) + "\n)"

    def extra_repr(self) -> str:
        return ""


def load(path) -> "OrderedDict[str, np.ndarray]":
    """The state dict saved by `Module.save` (like np.savez, save adds ".npz" to a bare path)."""
    if isinstance(path, (str, os.PathLike)) and not Path(path).exists() and not str(path).endswith(".npz"):
        path = Path(f"{os.fspath(path)}.npz")
    with np.load(path, allow_pickle=False) as f:
        return OrderedDict((k, f[k]) for k in f.files)


def _dotted(prefix: str) -> str:
    return f"{prefix}." if prefix else ""


def _attributes(m: Module) -> Iterator[tuple[str, Any]]:
    """The attributes that are tracked: all of them (leading underscore included, as in
    PyTorch and Keras) but the module's own bookkeeping."""
    return ((name, v) for name, v in vars(m).items() if name != "_pending_state")


def _children(m: Module) -> Iterator[tuple[str, Module]]:
    for name, v in _attributes(m):
        for path, x in _items(v, name):
            if isinstance(x, Module):
                yield path, x


def _items(v: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, x) for a tracked attribute value and the elements of containers of them."""
    if isinstance(v, (list, tuple)):
        for i, x in enumerate(v):
            yield from _items(x, f"{path}.{i}")
    elif isinstance(v, dict):
        for k, x in v.items():
            yield from _items(x, f"{path}.{k}")
    elif isinstance(v, (Module, Variable)):
        yield path, v


def _walk(m: Module, prefix: str, seen: set[int] | None = None) -> Iterator[tuple[str, Any]]:
    """Depth-first over tracked attributes: Variables, and Modules with their contents (a
    module reached twice, e.g. a shared layer, is expanded once)."""
    seen = {id(m)} if seen is None else seen
    for name, v in _attributes(m):
        for path, x in _items(v, _dotted(prefix) + name):
            if isinstance(x, Module):
                if id(x) in seen:
                    continue
                seen.add(id(x))
                yield path, x
                yield from _walk(x, path, seen)
            else:
                yield path, x
