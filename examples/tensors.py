"""Data manipulation with kiln, after "Dive into Deep Learning" §2.1 (ndarray / tensors).

Creating tensors, shapes, elementwise operators, concatenation, comparisons, broadcasting,
indexing and slicing, functional "writes", saving memory with Variables, and conversion to
NumPy / Python objects.  Every computation is a ``@kn.jit`` function paired with the NumPy
code it must reproduce; the ``eager/`` examples call kiln ops outside any compiled function.

Run ``python examples/tensors.py``: it prints every result and checks it against NumPy.
``EXAMPLES`` is the list the e2e tests parametrise over.
"""

from __future__ import annotations

import numpy as np

import kiln as kn
from _harness import TRANSCENDENTAL, Example, main_for

# The d2l running example: X = arange(12) reshaped to 3x4, and a hand-written Y.
X = np.arange(12, dtype=np.float32).reshape(3, 4)
Y = np.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]], dtype=np.float32)
U = np.array([1.0, 2, 4, 8], dtype=np.float32)
V = np.array([2.0, 2, 2, 2], dtype=np.float32)


# ---------------------------------------------------------------- getting started (§2.1.1)
@kn.jit
def make_range():
    """x = arange(12): int32 by default, like tf.range."""
    return kn.arange(12)


def np_make_range():
    return np.arange(12, dtype=np.int32)


@kn.jit
def make_range_f32():
    return kn.arange(12, dtype=kn.float32)


def np_make_range_f32():
    return np.arange(12, dtype=np.float32)


@kn.jit
def make_constants():
    """zeros / ones / full / eye / linspace / asarray of nested lists."""
    return (kn.zeros((2, 3, 4)), kn.ones((2, 3, 4)), kn.full((2, 3), 7.0), kn.eye(3),
            kn.linspace(0.0, 1.0, 5))


def np_make_constants():
    return (np.zeros((2, 3, 4), np.float32), np.ones((2, 3, 4), np.float32),
            np.full((2, 3), 7.0, np.float32), np.eye(3, dtype=np.float32),
            np.linspace(0.0, 1.0, 5, dtype=np.float32))


@kn.jit
def make_from_lists():
    """asarray of Python lists: ints become int32, floats float32."""
    return (kn.asarray([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]]),
            kn.asarray([[2.0, 1.0], [0.5, 3.0]]))


def np_make_from_lists():
    return (np.array([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]], np.int32),
            np.array([[2.0, 1.0], [0.5, 3.0]], np.float32))


@kn.jit
def shapes_and_reshape(x):
    """x.shape, x.size via reshape(-1), and reshape with an inferred dimension."""
    a = x.reshape(3, 4)
    b = kn.reshape(x, (-1, 4))
    c = x.reshape((2, -1))
    return a, b, c, a.T


def np_shapes_and_reshape(x):
    a = x.reshape(3, 4)
    return a, x.reshape(-1, 4), x.reshape(2, -1), a.T


@kn.jit
def like_constructors(x):
    return kn.zeros_like(x), kn.ones_like(x), kn.full_like(x, 2.5)


def np_like_constructors(x):
    return np.zeros_like(x), np.ones_like(x), np.full_like(x, 2.5)


# ---------------------------------------------------------------- operations (§2.1.2)
@kn.jit
def arithmetic(x, y):
    """The standard elementwise operators on equally shaped tensors."""
    return x + y, x - y, x * y, x / y, -x, abs(x - 5.0)


def np_arithmetic(x, y):
    return x + y, x - y, x * y, x / y, -x, np.abs(x - 5.0)


@kn.jit
def power_and_exp(x, y):
    return x ** y, kn.exp(x), kn.power(x, 0.5), kn.sqrt(x), kn.log(x)


def np_power_and_exp(x, y):
    return x ** y, np.exp(x), np.power(x, np.float32(0.5)), np.sqrt(x), np.log(x)


@kn.jit
def more_elementwise(x):
    """The rest of the unary elementwise family, on values that avoid branch cuts."""
    return (kn.square(x), kn.sign(x), kn.floor(x), kn.ceil(x), kn.tanh(x), kn.sin(x),
            kn.cos(x), kn.log1p(kn.abs(x)))


def np_more_elementwise(x):
    return (np.square(x), np.sign(x), np.floor(x), np.ceil(x), np.tanh(x), np.sin(x), np.cos(x),
            np.log1p(np.abs(x)))


@kn.jit
def integer_division(a, b):
    """// and % follow NumPy (floor division, result has the divisor's sign)."""
    return a // b, a % b, kn.floor_divide(a, b), kn.mod(a, b)


def np_integer_division(a, b):
    return a // b, a % b, np.floor_divide(a, b), np.mod(a, b)


@kn.jit
def concat_rows_and_columns(x, y):
    """Concatenate along axis 0 (rows) and axis 1 (columns)."""
    return kn.concatenate([x, y], axis=0), kn.concatenate([x, y], axis=1)


def np_concat_rows_and_columns(x, y):
    return np.concatenate([x, y], axis=0), np.concatenate([x, y], axis=1)


@kn.jit
def comparisons(x, y):
    """Logical tensors: X == Y and friends produce bool tensors."""
    return x == y, x < y, x >= y, x != y, (x > 2.0) & (y < 4.0), (x < 1.0) | ~(y < 4.0)


def np_comparisons(x, y):
    return x == y, x < y, x >= y, x != y, (x > 2.0) & (y < 4.0), (x < 1.0) | ~(y < 4.0)


@kn.jit
def sum_all(x):
    """Summing all the elements yields a tensor with only one element."""
    return x.sum()


def np_sum_all(x):
    return x.sum()


# ---------------------------------------------------------------- broadcasting (§2.1.3)
@kn.jit
def broadcast_add(a, b):
    """(3,1) + (1,2) -> (3,2): both operands are stretched."""
    return a + b


def np_broadcast_add(a, b):
    return a + b


@kn.jit
def broadcast_3d(t, v):
    """(2,3,1) * (4,) -> (2,3,4), and centring the columns of a matrix."""
    m = t.reshape(2, 3)
    return t * v, m - m.mean(axis=0), m / m.sum(axis=1, keepdims=True)


def np_broadcast_3d(t, v):
    m = t.reshape(2, 3)
    return t * v, m - m.mean(axis=0), m / m.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- indexing (§2.1.4)
@kn.jit
def indexing_and_slicing(x):
    """Basic NumPy indexing: ints, negative ints, slices with steps, ..., None."""
    return x[-1], x[1:3], x[::2, 1::2], x[:, 1], x[1, 2], x[..., None], x[None, :, -1], x[::-1]


def np_indexing_and_slicing(x):
    return x[-1], x[1:3], x[::2, 1::2], x[:, 1], x[1, 2], x[..., None], x[None, :, -1], x[::-1]


@kn.jit
def functional_writes(x):
    """X[1, 2] = 9 and X[0:2, :] = 12, written functionally with a mask and where."""
    rows, cols = kn.meshgrid(kn.arange(3), kn.arange(4), indexing="ij")
    one = kn.where((rows == 1) & (cols == 2), 9.0, x)
    two = kn.where(rows < 2, 12.0, x)
    return one, two


def np_functional_writes(x):
    one = x.copy()
    one[1, 2] = 9
    two = x.copy()
    two[0:2, :] = 12
    return one, two


# ---------------------------------------------------------------- saving memory (§2.1.5)
@kn.jit
def computation(x, y):
    """d2l's tf.function example: the unused zeros are pruned, buffers are reused."""
    _unused = kn.zeros_like(y)
    a = x + y
    b = a + y
    c = b + y
    return c + y


def np_computation(x, y):
    return x + 4 * y


Z = kn.Variable(np.zeros_like(Y), name="Z")


@kn.jit
def assign_sum(x, y):
    """Z[:] = X + Y: the Variable is updated in place by the compiled code."""
    Z.assign(x + y)


@kn.jit
def accumulate(y):
    Z.assign_add(y)


def variable_in_place(x, y):
    """Reset Z eagerly, assign inside jit, then accumulate Y twice inside jit."""
    Z.assign(np.zeros_like(Y))
    assign_sum(x, y)
    after_assign = Z.numpy().copy()
    accumulate(y)
    accumulate(y)
    return after_assign, Z.numpy()


def np_variable_in_place(x, y):
    return x + y, x + 3 * y


# ---------------------------------------------------------------- weakly typed Python scalars
@kn.jit
def axpy(a, x, y):
    """a is a Python float: weakly typed, so a * x stays float32."""
    return a * x + y


def np_axpy(a, x, y):
    return np.float32(a) * x + y


@kn.jit
def int_scalar_math(i, k):
    """int32 * 2 stays int32; int32 * 2.0 becomes float32 (not float64)."""
    return i * k, i * 2.0, i + 1


def np_int_scalar_math(i, k):
    return i * np.int32(k), (i * 2.0).astype(np.float32), i + np.int32(1)


# ---------------------------------------------------------------- eager mode (no jit)
def eager_elementwise(x, y):
    """Ops outside a compiled function run eagerly and return kn.Arrays."""
    z = kn.add(x, y)
    z = kn.multiply(z, 2.0)
    return kn.subtract(z, kn.divide(x, kn.add(y, 1.0)))


def np_eager_elementwise(x, y):
    return (x + y) * np.float32(2.0) - x / (y + np.float32(1.0))


def eager_chain():
    """Eager kn.Arrays feed further eager ops and their methods."""
    a = kn.arange(12, dtype=kn.float32).reshape(3, 4)
    b = kn.exp(a / 10.0)
    return b.sum(axis=0), b.max(), (a @ a.T).min(), a.astype(kn.int32).sum(axis=1)


def np_eager_chain():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.exp(a / np.float32(10.0))
    return b.sum(axis=0), b.max(), (a @ a.T).min(), a.astype(np.int32).sum(axis=1)


def eager_python_objects(x):
    """float(), len(), iteration and .numpy() behave like NumPy."""
    a = kn.asarray(x)
    total = kn.sum(a)
    return float(total), len(a), [r for r in a], a.numpy(), np.asarray(a[1])


def np_eager_python_objects(x):
    return float(x.sum()), len(x), [r for r in x], x, x[1]


def _tanh_gram(a, b):
    return kn.tanh(a @ b.T) * 0.5 + kn.maximum(a, b).mean()


_tanh_gram_jit = kn.jit(_tanh_gram)


def eager_matches_jit(x, y):
    """The same Python function, eager and compiled, gives the same numbers."""
    return _tanh_gram(x, y), _tanh_gram_jit(x, y)


def np_eager_matches_jit(x, y):
    r = np.tanh(x @ y.T) * np.float32(0.5) + np.maximum(x, y).mean()
    return r, r


SIGNED = np.array([[-2.5, -1.0, -0.25, 0.0], [0.3, 1.5, 2.7, -3.9]], dtype=np.float32)
IA = np.array([7, -7, 7, -7, 0, 13], dtype=np.int32)
IB = np.array([2, 2, -2, -2, 3, 5], dtype=np.int32)

EXAMPLES: list[Example] = [
    Example("arange", make_range, np_make_range),
    Example("arange_float32", make_range_f32, np_make_range_f32),
    Example("constants", make_constants, np_make_constants),
    Example("asarray_lists", make_from_lists, np_make_from_lists),
    Example("reshape", shapes_and_reshape, np_shapes_and_reshape,
            (np.arange(12, dtype=np.float32),)),
    Example("like_constructors", like_constructors, np_like_constructors, (X,)),
    Example("arithmetic", arithmetic, np_arithmetic, (U, V)),
    Example("power_exp_log", power_and_exp, np_power_and_exp, (U, V), **TRANSCENDENTAL),
    Example("more_elementwise", more_elementwise, np_more_elementwise, (SIGNED,), **TRANSCENDENTAL),
    Example("integer_division", integer_division, np_integer_division, (IA, IB)),
    Example("concatenate", concat_rows_and_columns, np_concat_rows_and_columns, (X, Y)),
    Example("comparisons", comparisons, np_comparisons, (X, Y)),
    Example("sum_all", sum_all, np_sum_all, (X,)),
    Example("broadcast_add", broadcast_add, np_broadcast_add,
            (np.arange(3, dtype=np.int32).reshape(3, 1), np.arange(2, dtype=np.int32).reshape(1, 2))),
    Example("broadcast_3d", broadcast_3d, np_broadcast_3d,
            (np.arange(1, 7, dtype=np.float32).reshape(2, 3, 1), np.arange(4, dtype=np.float32))),
    Example("indexing_slicing", indexing_and_slicing, np_indexing_and_slicing, (X,)),
    Example("functional_writes", functional_writes, np_functional_writes, (X,)),
    Example("computation_pruned", computation, np_computation, (X, Y)),
    Example("variable_in_place", variable_in_place, np_variable_in_place, (X, Y)),
    Example("weak_float_scalar", axpy, np_axpy, (2.0, U, V)),
    Example("weak_int_scalar", int_scalar_math, np_int_scalar_math, (IA, 3)),
    Example("eager/elementwise", eager_elementwise, np_eager_elementwise, (X, Y)),
    Example("eager/chain", eager_chain, np_eager_chain, (), **TRANSCENDENTAL),
    Example("eager/python_objects", eager_python_objects, np_eager_python_objects, (X,)),
    Example("eager/matches_jit", eager_matches_jit, np_eager_matches_jit, (X / 10, Y / 10),
            **TRANSCENDENTAL),
]


def tour() -> None:
    """A short narrated eager session, printed the way d2l shows it."""
    x = kn.arange(12, dtype=kn.float32)
    print("x =", x, "shape", x.shape, "dtype", x.dtype, "ndim", x.ndim)
    m = x.reshape(3, 4)
    print("x.reshape(3, 4) =\n", m)
    print("m[1:3] =\n", m[1:3])
    print("exp(m) / 100 =\n", kn.exp(m) / 100.0)
    a = m.numpy()
    b = kn.asarray(a)
    print("types:", type(a).__name__, type(b).__name__, "float(m.sum()) =", float(m.sum()))


def main() -> None:
    tour()
    main_for("tensors (d2l 2.1)", EXAMPLES)


if __name__ == "__main__":
    main()
