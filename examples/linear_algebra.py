"""Linear algebra with kiln, after "Dive into Deep Learning" §2.3.

Scalars, vectors, matrices and tensors; elementwise tensor arithmetic; reductions along
every axis (sum, mean, max, min, prod, argmax, argmin, logsumexp, with and without
keepdims); non-reduction sums; dot products, matrix-vector and (batched) matrix-matrix
products; and norms (vector L1/L2/L-inf, Frobenius, matrix 1/inf/2 norms, along axes).

Run ``python examples/linear_algebra.py``: it prints every result and checks it against
NumPy.  ``EXAMPLES`` is the list the e2e tests parametrise over.
"""

from __future__ import annotations

import functools

import numpy as np

import kiln as kn
from _harness import TRANSCENDENTAL, Example, main_for

RNG = np.random.default_rng(0)
A = np.arange(20, dtype=np.float32).reshape(5, 4)
T = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
R = RNG.uniform(0.5, 1.5, size=(2, 3, 4)).astype(np.float32)   # positive, no ties
x4 = np.arange(4, dtype=np.float32)


# ---------------------------------------------------------------- scalars, vectors, matrices
@kn.jit
def scalars(x, y):
    """0-d tensors behave like numbers."""
    return x + y, x * y, x / y, x ** y


def np_scalars(x, y):
    return x + y, x * y, x / y, x ** y


@kn.jit
def vector_elements(x):
    """Index a vector; a vector's length is its only dimension."""
    return x[3], x[-1], x[1:3]


def np_vector_elements(x):
    return x[3], x[-1], x[1:3]


@kn.jit
def matrices(a):
    """A.T, (A.T).T == A, and a symmetric matrix equals its transpose."""
    b = a.T @ a
    return a.T, a.T.T == a, b == b.T, kn.transpose(a)


def np_matrices(a):
    b = a.T @ a
    return a.T, a.T.T == a, b == b.T, np.transpose(a)


@kn.jit
def tensor_arithmetic(a, t):
    """Hadamard product, adding/multiplying a scalar, and the shapes that survive."""
    b = a + 0.0
    return a + b, a * b, 2.0 + t, 2.0 * t, kn.multiply(a, b)


def np_tensor_arithmetic(a, t):
    b = a.copy()
    return a + b, a * b, np.float32(2.0) + t, np.float32(2.0) * t, np.multiply(a, b)


# ---------------------------------------------------------------- reductions (§2.3.6)
@kn.jit
def reduce_matrix(a):
    """A.sum(), along axis 0 and 1, along both, mean, and mean as sum / size."""
    return (a.sum(), a.sum(axis=0), a.sum(axis=1), a.sum(axis=(0, 1)), a.mean(),
            a.sum() / 20.0, a.mean(axis=0), kn.mean(a, axis=1))


def np_reduce_matrix(a):
    return (a.sum(), a.sum(axis=0), a.sum(axis=1), a.sum(axis=(0, 1)), a.mean(),
            a.sum() / np.float32(a.size), a.mean(axis=0), np.mean(a, axis=1))


@kn.jit
def non_reduction_sum(a):
    """keepdims=True keeps the axis so the row sums broadcast back over A."""
    sum_a = a.sum(axis=1, keepdims=True)
    return sum_a, a / sum_a


def np_non_reduction_sum(a):
    sum_a = a.sum(axis=1, keepdims=True)
    return sum_a, a / sum_a


@kn.jit
def cumsum_via_matmul(a):
    """A.cumsum(axis=0) written as a lower-triangular ones matrix times A."""
    rows, cols = kn.meshgrid(kn.arange(5), kn.arange(5), indexing="ij")
    lower = kn.where(rows >= cols, 1.0, 0.0)
    return lower @ a


def np_cumsum_via_matmul(a):
    return a.cumsum(axis=0)


@functools.partial(kn.jit, static_argnames=("axis",))
def sum_along(x, axis):
    """The axis is a static argument: each distinct axis compiles its own function."""
    return kn.sum(x, axis=axis)


def np_sum_along(x, axis):
    return np.sum(x, axis=axis)


def np_logsumexp(x, axis=None, keepdims=False):
    x64 = x.astype(np.float64)
    m = np.max(x64, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x64 - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis) if axis is not None else out.reshape(())
    return out.astype(x.dtype)


def np_argreduce(fn):
    """NumPy's argmax/argmin with keepdims (added in NumPy 1.22)."""
    def ref(x, axis=None, keepdims=False):
        return fn(x, axis=axis, keepdims=keepdims)
    return ref


REDUCTIONS = {
    "sum": (kn.sum, np.sum),
    "mean": (kn.mean, np.mean),
    "max": (kn.max, np.max),
    "min": (kn.min, np.min),
    "prod": (kn.prod, np.prod),
    "argmax": (kn.argmax, np_argreduce(np.argmax)),
    "argmin": (kn.argmin, np_argreduce(np.argmin)),
    "logsumexp": (kn.logsumexp, np_logsumexp),
}
AXES = [None, 0, 1, 2, -1, (0, 2), (0, 1, 2)]
ARG_AXES = [None, 0, 1, 2, -1]        # argmax/argmin take a single axis, like NumPy


def make_reduction(kn_fn, np_fn, axis):
    """Compile one reduction over one axis, returning both keepdims=False and keepdims=True."""
    @kn.jit
    def reduce(x):
        return kn_fn(x, axis=axis), kn_fn(x, axis=axis, keepdims=True)

    def np_reduce(x):
        return np_fn(x, axis=axis), np_fn(x, axis=axis, keepdims=True)

    return reduce, np_reduce


def reduction_examples() -> list[Example]:
    out = []
    for op, (kn_fn, np_fn) in REDUCTIONS.items():
        tol = TRANSCENDENTAL if op == "logsumexp" else {}
        for axis in ARG_AXES if op.startswith("arg") else AXES:
            kfn, nfn = make_reduction(kn_fn, np_fn, axis)
            out.append(Example(f"reduce_{op}_axis={axis}", kfn, nfn, (R,), **tol))
    return out


@kn.jit
def reduction_methods(t):
    """The array methods .sum .mean .max .min take axis/keepdims like NumPy."""
    return t.sum(axis=2), t.mean(axis=(0, 1)), t.max(axis=0, keepdims=True), t.min(axis=-2)


def np_reduction_methods(t):
    return t.sum(axis=2), t.mean(axis=(0, 1)), t.max(axis=0, keepdims=True), t.min(axis=-2)


# ---------------------------------------------------------------- products (§2.3.7-2.3.9)
@kn.jit
def dot_product(x, y):
    """<x, y> as dot and as the sum of the elementwise product."""
    return kn.dot(x, y), kn.sum(x * y)


def np_dot_product(x, y):
    return np.dot(x, y), np.sum(x * y)


@kn.jit
def matrix_vector(a, x):
    """Ax as matmul, dot and the @ operator."""
    return kn.matmul(a, x), kn.dot(a, x), a @ x


def np_matrix_vector(a, x):
    return np.matmul(a, x), np.dot(a, x), a @ x


@kn.jit
def matrix_matrix(a, b):
    return a @ b, kn.matmul(a, b), kn.dot(a, b)


def np_matrix_matrix(a, b):
    return a @ b, np.matmul(a, b), np.dot(a, b)


@kn.jit
def batched_matmul(x, w, y, z):
    """Batched products broadcast their batch dimensions like NumPy."""
    return x @ w, kn.matmul(y, z)


def np_batched_matmul(x, w, y, z):
    return x @ w, np.matmul(y, z)


# ---------------------------------------------------------------- norms (§2.3.10)
@kn.jit
def vector_norms(u):
    """L2 (default and ord=2), L1 (as abs().sum() and ord=1) and L-inf norms of u = [3, -4]."""
    return (kn.norm(u), kn.norm(u, ord=2), kn.abs(u).sum(), kn.norm(u, ord=1),
            kn.norm(u, ord=np.inf))


def np_vector_norms(u):
    return (np.linalg.norm(u), np.linalg.norm(u, ord=2), np.abs(u).sum(), np.linalg.norm(u, ord=1),
            np.linalg.norm(u, ord=np.inf))


@kn.jit
def frobenius_norm(m):
    """The Frobenius norm of ones((4, 9)) is 6."""
    return kn.norm(m)


def np_frobenius_norm(m):
    return np.linalg.norm(m)


@kn.jit
def matrix_norms(m):
    """Matrix 1-norm (max column abs sum) and inf-norm (max row abs sum), Frobenius."""
    return kn.norm(m, ord=1), kn.norm(m, ord=np.inf), kn.norm(m, ord=None)


def np_matrix_norms(m):
    return np.linalg.norm(m, ord=1), np.linalg.norm(m, ord=np.inf), np.linalg.norm(m, ord=None)


@kn.jit
def spectral_norm(m):
    """Matrix 2-norm: the largest singular value (numpy.linalg.norm semantics)."""
    return kn.norm(m, ord=2)


def np_spectral_norm(m):
    return np.linalg.norm(m.astype(np.float64), ord=2).astype(np.float32)


@kn.jit
def norms_along_axes(m, t):
    """Vector norms of rows/columns, with keepdims; Frobenius norms of a batch of matrices."""
    return (kn.norm(m, axis=1), kn.norm(m, ord=1, axis=0), kn.norm(m, ord=np.inf, axis=1),
            kn.norm(t, axis=-1, keepdims=True), kn.norm(t, axis=(1, 2)), kn.norm(t))


def np_norms_along_axes(m, t):
    return (np.linalg.norm(m, axis=1), np.linalg.norm(m, ord=1, axis=0),
            np.linalg.norm(m, ord=np.inf, axis=1), np.linalg.norm(t, axis=-1, keepdims=True),
            np.linalg.norm(t, axis=(1, 2)), np.linalg.norm(t))


M = np.array([[1.0, -7.0, 2.0], [-2.0, 3.0, 0.5], [4.0, 0.0, -1.0], [0.5, 2.0, 2.0]], np.float32)

EXAMPLES: list[Example] = [
    Example("scalars", scalars, np_scalars,
            (np.array(3.0, np.float32), np.array(2.0, np.float32)), **TRANSCENDENTAL),
    Example("vector_elements", vector_elements, np_vector_elements, (x4,)),
    Example("matrices", matrices, np_matrices, (A,)),
    Example("tensor_arithmetic", tensor_arithmetic, np_tensor_arithmetic, (A, T)),
    Example("reduce_matrix", reduce_matrix, np_reduce_matrix, (A,)),
    Example("non_reduction_sum", non_reduction_sum, np_non_reduction_sum, (A,)),
    Example("cumsum_via_matmul", cumsum_via_matmul, np_cumsum_via_matmul, (A,)),
    Example("sum_along_static_axis=0", sum_along, np_sum_along, (T,), kwargs={"axis": 0}),
    Example("sum_along_static_axis=(1,2)", sum_along, np_sum_along, (T,), kwargs={"axis": (1, 2)}),
    *reduction_examples(),
    Example("reduction_methods", reduction_methods, np_reduction_methods, (R,)),
    Example("dot_product", dot_product, np_dot_product, (x4, np.ones(4, np.float32))),
    Example("matrix_vector", matrix_vector, np_matrix_vector, (A, x4)),
    Example("matrix_matrix", matrix_matrix, np_matrix_matrix, (A, np.ones((4, 3), np.float32))),
    Example("batched_matmul", batched_matmul, np_batched_matmul,
            (R, RNG.standard_normal((4, 5)).astype(np.float32),
             RNG.standard_normal((2, 1, 3, 4)).astype(np.float32),
             RNG.standard_normal((5, 4, 2)).astype(np.float32))),
    Example("vector_norms", vector_norms, np_vector_norms, (np.array([3.0, -4.0], np.float32),)),
    Example("frobenius_norm", frobenius_norm, np_frobenius_norm, (np.ones((4, 9), np.float32),)),
    Example("matrix_norms", matrix_norms, np_matrix_norms, (M,)),
    Example("spectral_norm", spectral_norm, np_spectral_norm, (M,), **TRANSCENDENTAL),
    Example("norms_along_axes", norms_along_axes, np_norms_along_axes, (M, R)),
]


def main() -> None:
    u = kn.asarray(np.array([3.0, -4.0], np.float32))
    print("eager: ||[3, -4]||_2 =", float(kn.norm(u)), " ||.||_1 =", float(kn.norm(u, ord=1)))
    main_for("linear algebra (d2l 2.3)", EXAMPLES)


if __name__ == "__main__":
    main()
