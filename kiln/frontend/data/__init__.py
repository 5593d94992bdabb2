"""kn.data: mini-batch iteration, MNIST-style IDX files, and the bundled 8×8 digits set.

Batches are NumPy arrays (C-contiguous, ready to pass to a compiled step without copies).
"""
from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

__all__ = ["DataLoader", "batches", "read_idx", "load_mnist", "load_digits"]

_DIGITS = Path(__file__).with_name("digits.npz")


class DataLoader:
    """Iterate over aligned arrays in mini-batches, reshuffled every epoch when `shuffle`.

    `seed` fixes the sequence of epoch orders; `drop_last` drops a final short batch.
    A single array yields arrays; several yield tuples.
    """

    def __init__(self, arrays, batch_size: int, shuffle: bool = False, seed: int | None = None,
                 drop_last: bool = False) -> None:
        self.single = isinstance(arrays, np.ndarray) or not isinstance(arrays, (tuple, list))
        self.arrays = [np.asarray(a) for a in ([arrays] if self.single else arrays)]
        n = {len(a) for a in self.arrays}
        if len(n) != 1:
            raise ValueError(f"DataLoader: arrays differ in length: {[len(a) for a in self.arrays]}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
        self.n = n.pop()
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def __iter__(self):
        order = self._rng.permutation(self.n) if self.shuffle else None
        for b in range(len(self)):
            lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, self.n)
            batch = tuple(np.ascontiguousarray(a[lo:hi] if order is None else a[order[lo:hi]])
                          for a in self.arrays)
            yield batch[0] if self.single else batch


def batches(arrays, batch_size: int, shuffle: bool = False, seed: int | None = None, drop_last: bool = False):
    """One epoch of mini-batches (d2l's `data_iter` / `load_array`)."""
    return iter(DataLoader(arrays, batch_size, shuffle, seed, drop_last))


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (MNIST / Fashion-MNIST format), gzip-compressed or not."""
    path = Path(path)
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    start, size = 4 + 4 * ndim, math.prod(dims) * dtype.itemsize
    if len(raw) - start != size:
        raise ValueError(f"{path}: header says {dims} of {dtype} ({size} bytes), file has {len(raw) - start}")
    return np.frombuffer(raw, dtype, offset=start).reshape(dims).astype(dtype.newbyteorder("="))


def load_mnist(directory, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels uint8 (N,)) from the standard MNIST or Fashion-MNIST
    file names in `directory` (`train-*` or `t10k-*`, optionally .gz)."""
    prefix = {"train": "train", "test": "t10k", "t10k": "t10k"}[split]
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        candidates = [Path(directory) / f"{prefix}-{kind}{ext}" for ext in ("", ".gz")]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise FileNotFoundError(f"no {prefix}-{kind}[.gz] in {directory}")
        found.append(read_idx(path))
    return found[0], found[1]


def load_digits(test_fraction: float | None = 0.2, seed: int = 0, flatten: bool = True):
    """The UCI optical-recognition handwritten digits (1797 8×8 images, pixels 0..16, shipped
    with kiln; the same data as scikit-learn's `load_digits`), scaled to [0, 1] float32 with
    int32 labels. Returns ((x_train, y_train), (x_test, y_test)) from a seeded shuffle, or
    (x, y) when `test_fraction` is None."""
    with np.load(_DIGITS) as f:
        images, labels = f["images"], f["labels"]
    x = (images.reshape(len(images), -1) if flatten else images).astype(np.float32) / 16.0
    y = labels.astype(np.int32)
    if test_fraction is None:
        return x, y
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])
