"""Tensor manipulation with kiln, after TensorFlow's tensor guides and d2l's softmax chapter.

reshape / transpose / expand_dims / squeeze, tile, broadcast_to, concatenate / stack /
split / unstack, take (gather) / gather_nd / scatter_nd, pad, clip / maximum / minimum /
where, one_hot, argmax, and counting correct predictions with equal + astype + sum
(d2l §3.6 ``accuracy``).  Each computation is a ``@kn.jit`` function paired with NumPy;
static things (shapes, axes, repetitions) are closed over or passed as static arguments.

Note on ``split``: like ``tf.split`` and as API.md says, a list means *sizes* of the pieces
(NumPy's ``np.split`` takes split *indices*, so the NumPy reference converts with cumsum).

Run ``python examples/tensor_manipulation.py``: it prints every result and checks it against
NumPy.  ``EXAMPLES`` is the list the e2e tests parametrise over.
"""

from __future__ import annotations

import numpy as np

import kiln as kn
from _harness import Example, main_for

RNG = np.random.default_rng(42)
X = np.arange(12, dtype=np.float32).reshape(3, 4)
T = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
W = RNG.standard_normal((3, 4)).astype(np.float32)


# ---------------------------------------------------------------- reshape / transpose
@kn.jit
def reshape_transpose(x, t):
    """reshape with -1, transpose with and without a permutation, .T of a 3-D tensor."""
    return (kn.reshape(x, (4, -1)), kn.reshape(t, (-1,)), kn.reshape(t, (6, 2, 2)),
            kn.transpose(t, (1, 0, 2)), kn.transpose(t), t.T, kn.transpose(x, (1, 0)))


def np_reshape_transpose(x, t):
    return (np.reshape(x, (4, -1)), np.reshape(t, (-1,)), np.reshape(t, (6, 2, 2)),
            np.transpose(t, (1, 0, 2)), np.transpose(t), t.T, np.transpose(x, (1, 0)))


@kn.jit
def nchw_to_nhwc(images):
    """The layout change every vision model needs: NCHW -> NHWC and back."""
    nhwc = kn.transpose(images, (0, 2, 3, 1))
    return nhwc, kn.transpose(nhwc, (0, 3, 1, 2))


def np_nchw_to_nhwc(images):
    nhwc = np.transpose(images, (0, 2, 3, 1))
    return nhwc, np.transpose(nhwc, (0, 3, 1, 2))


@kn.jit
def expand_and_squeeze(v, y):
    """expand_dims adds size-1 axes; squeeze removes all of them or the named ones."""
    return (kn.expand_dims(v, 0), kn.expand_dims(v, -1), kn.expand_dims(v, 1), kn.squeeze(y),
            kn.squeeze(y, axis=1), kn.squeeze(y, axis=(0, 3)), v[None, :, None])


def np_expand_and_squeeze(v, y):
    return (np.expand_dims(v, 0), np.expand_dims(v, -1), np.expand_dims(v, 1), np.squeeze(y),
            np.squeeze(y, axis=1), np.squeeze(y, axis=(0, 3)), v[None, :, None])


@kn.jit
def expand_dims_tuple(v):
    """NumPy (>= 1.18) also accepts a tuple of new axes."""
    return kn.expand_dims(v, (0, 2))


def np_expand_dims_tuple(v):
    return np.expand_dims(v, (0, 2))


# ---------------------------------------------------------------- tile / broadcast_to
def _tile(x, reps):
    return kn.tile(x, reps)


tile = kn.jit(_tile, static_argnums=(1,))  # reps is static: it decides the output shape


def np_tile(x, reps):
    return np.tile(x, reps)


@kn.jit
def broadcast_to_shapes(v, col):
    """A row, a column and a scalar-like tensor broadcast to explicit shapes."""
    return (kn.broadcast_to(v, (3, 4)), kn.broadcast_to(col, (3, 4)),
            kn.broadcast_to(col, (2, 3, 4)), kn.broadcast_to(v, (3, 4)) + col)


def np_broadcast_to_shapes(v, col):
    return (np.broadcast_to(v, (3, 4)), np.broadcast_to(col, (3, 4)),
            np.broadcast_to(col, (2, 3, 4)), np.broadcast_to(v, (3, 4)) + col)


# ---------------------------------------------------------------- concat / stack / split / unstack
@kn.jit
def concat_and_stack(a, b, c):
    return (kn.concatenate([a, b, c], axis=0), kn.concatenate([a, b, c], axis=-1),
            kn.stack([a, b, c]), kn.stack([a, b, c], axis=1), kn.stack([a, b, c], axis=-1))


def np_concat_and_stack(a, b, c):
    return (np.concatenate([a, b, c], axis=0), np.concatenate([a, b, c], axis=-1),
            np.stack([a, b, c]), np.stack([a, b, c], axis=1), np.stack([a, b, c], axis=-1))


@kn.jit
def split_count(x):
    """Split into 3 equal pieces along the columns and into 2 along the rows."""
    return kn.split(x, 3, axis=1), kn.split(x, 2, axis=0)


def np_split_count(x):
    return np.split(x, 3, axis=1), np.split(x, 2, axis=0)


@kn.jit
def split_sizes(x):
    """Split into pieces of sizes 1, 2, 3 along axis 1 (tf.split semantics)."""
    return kn.split(x, [1, 2, 3], axis=1)


def np_split_sizes(x):
    return np.split(x, np.cumsum([1, 2, 3])[:-1], axis=1)


@kn.jit
def unstack(t):
    """unstack along axis 0 and axis 1; stacking the pieces gives the tensor back."""
    rows = kn.unstack(t, axis=1)
    return kn.unstack(t), rows, kn.stack(rows, axis=1)


def np_unstack(t):
    return [t[i] for i in range(t.shape[0])], [t[:, j] for j in range(t.shape[1])], t


@kn.jit
def split_concat_roundtrip(x):
    return kn.concatenate(kn.split(x, 2, axis=1), axis=1)


def np_split_concat_roundtrip(x):
    return x


# ---------------------------------------------------------------- gather / gather_nd / scatter_nd
@kn.jit
def gather(params, idx, idx2d):
    """take(x, idx, axis): pick rows, pick columns, and a 2-D index array of rows."""
    return (kn.take(params, idx, axis=0), kn.take(params, idx, axis=1),
            kn.take(params, idx2d, axis=0))


def np_gather(params, idx, idx2d):
    return np.take(params, idx, axis=0), np.take(params, idx, axis=1), np.take(params, idx2d, axis=0)


def np_gather_nd(params, indices):
    """TF semantics: the last axis of indices indexes the leading axes of params."""
    return params[tuple(np.moveaxis(indices, -1, 0))]


@kn.jit
def gather_nd_elements(params, indices):
    """indices of shape (N, 2) pick N scalars out of a matrix."""
    return kn.gather_nd(params, indices)


@kn.jit
def gather_nd_slices(params, indices):
    """indices of shape (..., 1) or (..., 2) pick whole rows / fibres of a 3-D tensor."""
    return kn.gather_nd(params, indices)


def make_scatter_nd(shape):
    """scatter_nd's output shape is static, so it is closed over."""
    @kn.jit
    def scatter(indices, updates):
        return kn.scatter_nd(indices, updates, shape)

    def np_scatter(indices, updates):
        out = np.zeros(shape, dtype=updates.dtype)
        np.add.at(out, tuple(np.moveaxis(indices, -1, 0)), updates)   # duplicates accumulate
        return out

    return scatter, np_scatter


scatter_1d, np_scatter_1d = make_scatter_nd((8,))
scatter_2d, np_scatter_2d = make_scatter_nd((3, 4))
scatter_slices, np_scatter_slices = make_scatter_nd((4, 4, 4))


# ---------------------------------------------------------------- pad
@kn.jit
def pad(x, images):
    """Constant padding: asymmetric widths, and a 1-pixel border around images (N, C, H, W)."""
    return kn.pad(x, ((1, 1), (2, 0))), kn.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))


def np_pad(x, images):
    return np.pad(x, ((1, 1), (2, 0))), np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)))


@kn.jit
def pad_value(x):
    return kn.pad(x, ((0, 1), (1, 0)), constant_values=-1.0)


def np_pad_value(x):
    return np.pad(x, ((0, 1), (1, 0)), constant_values=-1.0)


# ---------------------------------------------------------------- clip / maximum / minimum / where
@kn.jit
def clip_max_min(w, v):
    """clip to [-0.5, 0.5], ReLU as maximum(x, 0), elementwise and broadcast min/max, where."""
    return (kn.clip(w, -0.5, 0.5), kn.maximum(w, 0.0), kn.minimum(w, 0.0), kn.maximum(w, v),
            kn.minimum(w, v), kn.where(w > 0, w, 0.1 * w))


def np_clip_max_min(w, v):
    return (np.clip(w, -0.5, 0.5), np.maximum(w, 0.0), np.minimum(w, 0.0), np.maximum(w, v),
            np.minimum(w, v), np.where(w > 0, w, np.float32(0.1) * w))


@kn.jit
def clip_array_bounds(w, lo, hi):
    """Bounds may be arrays that broadcast against x (here lo <= hi everywhere)."""
    return kn.clip(w, lo, hi)


def np_clip_array_bounds(w, lo, hi):
    return np.clip(w, lo, hi)


# ---------------------------------------------------------------- one_hot / argmax / accuracy
def make_one_hot(depth):
    @kn.jit
    def one_hot(labels):
        return kn.one_hot(labels, depth)

    def np_one_hot(labels):
        """Out-of-range labels give all-zero rows (TensorFlow and JAX agree)."""
        return (labels[..., None] == np.arange(depth)).astype(np.float32)

    return one_hot, np_one_hot


one_hot_4, np_one_hot_4 = make_one_hot(4)
one_hot_5, np_one_hot_5 = make_one_hot(5)


@kn.jit
def argmax_axes(x):
    """argmax along each axis and over the flattened tensor (ties: first occurrence wins)."""
    return kn.argmax(x, axis=0), kn.argmax(x, axis=1), kn.argmax(x, axis=-1), kn.argmax(x)


def np_argmax_axes(x):
    return np.argmax(x, axis=0), np.argmax(x, axis=1), np.argmax(x, axis=-1), np.argmax(x)


@kn.jit
def accuracy(y_hat, y):
    """d2l §3.6: the number of correct predictions (argmax, cast, compare, cast, sum)."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:      # shapes are static while tracing
        y_hat = kn.argmax(y_hat, axis=1)
    cmp = kn.astype(y_hat, y.dtype) == y
    return kn.sum(kn.astype(cmp, y.dtype))


def np_accuracy(y_hat, y):
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = np.argmax(y_hat, axis=1)
    cmp = y_hat.astype(y.dtype) == y
    return np.sum(cmp.astype(y.dtype))


@kn.jit
def accuracy_fraction(logits, labels):
    """The same with NumPy names: equal + astype(float32) + mean."""
    correct = kn.equal(kn.argmax(logits, axis=-1), labels)
    return kn.sum(kn.astype(correct, kn.float32)), kn.astype(correct, kn.float32).mean()


def np_accuracy_fraction(logits, labels):
    correct = np.equal(np.argmax(logits, axis=-1), labels)
    return np.sum(correct.astype(np.float32)), correct.astype(np.float32).mean()


LOGITS = RNG.standard_normal((256, 10)).astype(np.float32)
LABELS = np.where(RNG.uniform(size=256) < 0.6, LOGITS.argmax(axis=1),
                  RNG.integers(0, 10, size=256)).astype(np.int32)
IMAGES = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
I32 = np.int32

EXAMPLES: list[Example] = [
    Example("reshape_transpose", reshape_transpose, np_reshape_transpose, (X, T)),
    Example("nchw_to_nhwc", nchw_to_nhwc, np_nchw_to_nhwc, (IMAGES,)),
    Example("expand_dims_squeeze", expand_and_squeeze, np_expand_and_squeeze,
            (np.arange(4, dtype=np.float32), np.arange(3, dtype=np.float32).reshape(1, 1, 3, 1))),
    Example("expand_dims_tuple", expand_dims_tuple, np_expand_dims_tuple,
            (np.arange(4, dtype=np.float32),)),
    Example("tile_2x3", tile, np_tile, (X, (2, 3))),
    Example("tile_vector", tile, np_tile, (np.arange(3, dtype=np.int32), (3,))),
    Example("tile_more_reps_than_dims", tile, np_tile, (X, (2, 1, 2))),
    Example("broadcast_to", broadcast_to_shapes, np_broadcast_to_shapes,
            (np.arange(4, dtype=np.float32), np.arange(3, dtype=np.float32).reshape(3, 1))),
    Example("concat_and_stack", concat_and_stack, np_concat_and_stack, (X, X + 100, X + 200)),
    Example("split_count", split_count, np_split_count,
            (np.arange(24, dtype=np.float32).reshape(4, 6),)),
    Example("split_sizes", split_sizes, np_split_sizes,
            (np.arange(24, dtype=np.float32).reshape(4, 6),)),
    Example("unstack", unstack, np_unstack, (T,)),
    Example("split_concat_roundtrip", split_concat_roundtrip, np_split_concat_roundtrip, (X,)),
    Example("gather_take", gather, np_gather,
            (W, np.array([2, 0, 2], I32), np.array([[0, 1], [2, 2]], I32))),
    Example("gather_nd_elements", gather_nd_elements, np_gather_nd,
            (X, np.array([[0, 1], [2, 3], [1, 0]], I32))),
    Example("gather_nd_rows", gather_nd_slices, np_gather_nd, (T, np.array([[1], [0], [1]], I32))),
    Example("gather_nd_fibres", gather_nd_slices, np_gather_nd,
            (T, np.array([[[0, 2], [1, 1]], [[1, 0], [0, 0]]], I32))),
    Example("scatter_nd_1d", scatter_1d, np_scatter_1d,
            (np.array([[4], [3], [1], [7]], I32), np.array([9.0, 10, 11, 12], np.float32))),
    Example("scatter_nd_2d", scatter_2d, np_scatter_2d,
            (np.array([[0, 1], [2, 3]], I32), np.array([5.0, 6.0], np.float32))),
    Example("scatter_nd_slices", scatter_slices, np_scatter_slices,
            (np.array([[0], [2]], I32),
             np.arange(32, dtype=np.float32).reshape(2, 4, 4))),
    Example("scatter_nd_duplicates_add", scatter_1d, np_scatter_1d,
            (np.array([[1], [3], [1], [1]], I32), np.array([1.0, 2, 3, 4], np.float32))),
    Example("pad", pad, np_pad, (X, IMAGES)),
    Example("pad_constant_value", pad_value, np_pad_value, (X,)),
    Example("clip_maximum_minimum", clip_max_min, np_clip_max_min,
            (W, np.array([0.1, -0.2, 0.3, -0.4], np.float32))),
    Example("clip_array_bounds", clip_array_bounds, np_clip_array_bounds,
            (W, np.array([-1.0, -0.5, 0.0, 0.1], np.float32),
             np.array([[0.2], [1.0], [2.0]], np.float32))),
    Example("one_hot", one_hot_4, np_one_hot_4, (np.array([0, 2, 1, 3], I32),)),
    Example("one_hot_2d_labels", one_hot_5, np_one_hot_5, (np.array([[0, 4, 1], [3, 3, 2]], I32),)),
    Example("one_hot_out_of_range", one_hot_4, np_one_hot_4, (np.array([0, -1, 4, 3], I32),)),
    Example("argmax", argmax_axes, np_argmax_axes, (W,)),
    Example("argmax_ties", argmax_axes, np_argmax_axes,
            (np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [2.0, 3.0, 0.0]], np.float32),)),
    Example("accuracy_d2l", accuracy, np_accuracy,
            (np.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]], np.float32), np.array([0, 2], I32))),
    Example("accuracy_batch", accuracy, np_accuracy, (LOGITS, LABELS)),
    Example("accuracy_from_predictions", accuracy, np_accuracy,
            (LOGITS.argmax(axis=1).astype(I32), LABELS)),
    Example("accuracy_fraction", accuracy_fraction, np_accuracy_fraction, (LOGITS, LABELS)),
]


def main() -> None:
    y_hat = np.array([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]], np.float32)
    y = np.array([0, 2], I32)
    print("d2l accuracy example: correct =", float(accuracy(y_hat, y)), "of", len(y))
    main_for("tensor manipulation", EXAMPLES)


if __name__ == "__main__":
    main()
