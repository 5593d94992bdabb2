"""The op conformance table: every public op of API.md (and every variant of how it is spelled).

`CASES` maps a key to a Case. Keys are API names (`"add"`, `"random.normal"`), optionally with
a variant suffix (`"take:negative"`, `"add:scalar"`, `"add:operator"`); `Case.op` strips it.
`COMPOSITES` lists the public functions that kiln builds from other registry ops rather than
registering as ops of their own. tests/ops/test_registry_coverage.py checks that the registry
and this table cover the same op set; tests/ops/test_conformance.py runs every case against
NumPy, eagerly and under `kn.jit`.
"""
from __future__ import annotations

from . import cases_creation, cases_elementwise, cases_random, cases_reduce, cases_shape, cases_syntax
from .harness import Case

# Public functions (and spellings) built from other ops: no registry entry of their own.
COMPOSITES = frozenset({
    # creation (constant / iota / broadcast_to)
    "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange", "linspace", "eye", "asarray",
    # elementwise and reductions expressed in other ops
    "square", "clip", "mean", "logsumexp", "norm",
    # linear algebra / shape / indexing built from matmul, reshape, slice, concatenate, ...
    "dot", "expand_dims", "squeeze", "tile", "stack", "split", "unstack", "one_hot", "meshgrid",
    # data-dependent ops evaluated eagerly (never in a compiled graph)
    "boolean_mask",
    # Tensor.__getitem__: basic indexing lowers to slice / reshape
    "getitem",
    # kn.random: Philox bits (internal random ops) turned into distributions
    "random.normal", "random.uniform", "random.truncated_normal", "random.bernoulli",
})

# Every op listed under "Ops" in API.md (plus kn.random); the table must cover each.
API_OPS = frozenset({
    "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "arange", "linspace", "eye", "asarray",
    "add", "subtract", "multiply", "divide", "floor_divide", "mod", "power", "negative", "abs", "sign",
    "exp", "log", "log1p", "sqrt", "square", "sin", "cos", "tanh", "floor", "ceil", "maximum", "minimum",
    "clip", "where", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
    "logical_or", "logical_not", "astype",
    "sum", "mean", "max", "min", "prod", "argmax", "argmin", "logsumexp", "norm",
    "matmul", "dot", "transpose",
    "reshape", "expand_dims", "squeeze", "broadcast_to", "tile", "concatenate", "stack", "split", "unstack",
    "pad",
    "take", "gather_nd", "scatter_nd", "one_hot", "meshgrid", "boolean_mask",
    "random.normal", "random.uniform", "random.truncated_normal", "random.bernoulli",
})

# Operators and methods of kn.Array / kn.Tensor that API.md requires (checked by key).
SYNTAX = frozenset({
    "add:operator", "subtract:operator", "multiply:operator", "divide:operator", "floor_divide:operator",
    "mod:operator", "power:operator", "matmul:operator", "negative:operator", "abs:builtin",
    "equal:operator", "not_equal:operator", "less:operator", "less_equal:operator", "greater:operator",
    "greater_equal:operator", "bitwise_and", "bitwise_or", "invert", "transpose:T", "reshape:method",
    "astype:method", "sum:method", "mean:method", "max:method", "min:method", "getitem",
})


def _build() -> dict[str, Case]:
    table: dict[str, Case] = {}
    for family in (cases_creation, cases_elementwise, cases_reduce, cases_shape, cases_syntax, cases_random):
        for case in family.cases():
            assert case.name not in table, f"duplicate conformance case {case.name}"
            table[case.name] = case
    return dict(sorted(table.items()))


CASES: dict[str, Case] = _build()
