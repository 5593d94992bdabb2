"""kn.data: DataLoader batching and shuffling, IDX files (MNIST format), load_mnist, load_digits."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

import kiln as kn

D = kn.data


# --- DataLoader -----------------------------------------------------------------------------------

def _xy(n=10):
    return np.arange(n * 3, dtype=np.float32).reshape(n, 3), np.arange(n, dtype=np.int32)


@pytest.mark.parametrize("n,batch,drop_last,sizes", [
    (10, 3, False, [3, 3, 3, 1]), (10, 3, True, [3, 3, 3]), (9, 3, False, [3, 3, 3]), (9, 3, True, [3, 3, 3]),
    (2, 5, False, [2]), (2, 5, True, []), (10, 1, False, [1] * 10), (10, 10, True, [10])])
def test_batch_sizes_and_len(n, batch, drop_last, sizes) -> None:
    x, y = _xy(n)
    loader = D.DataLoader((x, y), batch, drop_last=drop_last)
    assert len(loader) == len(sizes)
    got = list(loader)
    assert [len(b[0]) for b in got] == sizes and [len(b[1]) for b in got] == sizes
    if sizes:
        xs = np.concatenate([b[0] for b in got])
        np.testing.assert_array_equal(xs, x[:len(xs)])  # in order when not shuffling
        np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), y[:len(xs)])


def test_batches_are_contiguous_numpy_arrays_of_the_input_dtype() -> None:
    x, y = _xy()
    for bx, by in D.DataLoader([x, y], 4, shuffle=True, seed=0):
        assert isinstance(bx, np.ndarray) and bx.flags.c_contiguous and bx.dtype == np.float32
        assert by.dtype == np.int32 and bx.shape[1:] == (3,)


def test_single_array_yields_arrays_and_tuples_yield_tuples() -> None:
    x, y = _xy()
    single = list(D.DataLoader(x, 4))
    assert all(isinstance(b, np.ndarray) for b in single)
    np.testing.assert_array_equal(single[0], x[:4])
    listed = list(D.DataLoader([x], 4))
    assert all(isinstance(b, tuple) and len(b) == 1 for b in listed)
    three = next(iter(D.DataLoader((x, y, y * 2), 4)))
    assert isinstance(three, tuple) and len(three) == 3
    np.testing.assert_array_equal(three[2], 2 * y[:4])
    arr = list(D.DataLoader(kn.asarray(x), 4))  # any single array-like (here a kn.Array) yields arrays
    assert isinstance(arr[0], np.ndarray)
    np.testing.assert_array_equal(arr[-1], x[8:])


def test_shuffle_is_a_permutation_each_epoch_keeps_pairs_and_differs_between_epochs() -> None:
    x, y = _xy(50)
    loader = D.DataLoader((x, y), 8, shuffle=True, seed=3)
    orders = []
    for _ in range(3):
        batches = list(loader)
        bx = np.concatenate([b[0] for b in batches])
        by = np.concatenate([b[1] for b in batches])
        np.testing.assert_array_equal(bx[:, 0], by * 3)  # rows stay aligned
        assert sorted(by.tolist()) == list(range(50))
        orders.append(by)
    assert not np.array_equal(orders[0], np.arange(50))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])


def test_shuffle_seed_reproducible() -> None:
    x, y = _xy(40)

    def epochs(seed):
        loader = D.DataLoader((x, y), 6, shuffle=True, seed=seed)
        return [np.concatenate([b[1] for b in loader]) for _ in range(3)]
    a, b, c = epochs(7), epochs(7), epochs(8)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
    assert any(not np.array_equal(ea, ec) for ea, ec in zip(a, c))


def test_shuffle_with_drop_last_draws_from_everything() -> None:
    x, y = _xy(10)
    loader = D.DataLoader((x, y), 3, shuffle=True, seed=0, drop_last=True)
    seen = set()
    for _ in range(20):
        got = np.concatenate([b[1] for b in loader])
        assert len(got) == 9 and len(set(got.tolist())) == 9
        seen |= set(got.tolist())
    assert seen == set(range(10))


def test_batches_function_is_one_epoch() -> None:
    x, y = _xy(10)
    got = list(D.batches((x, y), 4, drop_last=True))
    assert [len(b[0]) for b in got] == [4, 4]
    a = np.concatenate([b[1] for b in D.batches((x, y), 4, shuffle=True, seed=1)])
    b = np.concatenate([b[1] for b in D.batches((x, y), 4, shuffle=True, seed=1)])
    np.testing.assert_array_equal(a, b)


def test_mismatched_lengths_and_bad_batch_size_raise() -> None:
    x, y = _xy(10)
    with pytest.raises(ValueError, match="length"):
        D.DataLoader((x, y[:9]), 2)
    with pytest.raises(ValueError):
        D.DataLoader((x, y), 0)


def test_batches_feed_a_compiled_step() -> None:
    x, y = _xy(12)
    f = kn.jit(lambda a, b: kn.sum(a) + kn.sum(b))
    total = sum(float(f(bx, by)) for bx, by in D.DataLoader((x, y), 4, shuffle=True, seed=0))
    np.testing.assert_allclose(total, x.sum() + y.sum())
    assert f.trace_count == 1


# --- IDX files --------------------------------------------------------------------------------------

_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(">i2"): 0x0B, np.dtype(">i4"): 0x0C,
          np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def write_idx(path, array: np.ndarray, code: int | None = None) -> None:
    """Write `array` as an IDX file (big-endian payload), gzip-compressed when the name ends in .gz."""
    big = array.astype(array.dtype.newbyteorder(">")) if array.dtype.itemsize > 1 else array
    code = _CODES[np.dtype(big.dtype)] if code is None else code
    raw = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape) + big.tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(raw)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_uint8_images_and_labels(tmp_path, gz) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(7,), dtype=np.uint8)
    ext = ".gz" if gz else ""
    write_idx(tmp_path / f"img{ext}", images)
    write_idx(tmp_path / f"lab{ext}", labels)
    got_i, got_l = D.read_idx(tmp_path / f"img{ext}"), D.read_idx(str(tmp_path / f"lab{ext}"))
    assert got_i.dtype == np.uint8 and got_i.shape == (7, 28, 28)
    assert got_l.dtype == np.uint8 and got_l.shape == (7,)
    np.testing.assert_array_equal(got_i, images)
    np.testing.assert_array_equal(got_l, labels)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_wider_types_come_back_native_endian(tmp_path, dtype) -> None:
    a = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype) * (1.5 if np.dtype(dtype).kind == "f" else 1)
    write_idx(tmp_path / "a.idx", a)
    got = D.read_idx(tmp_path / "a.idx")
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, a)


def test_read_idx_bad_magic_and_truncation_raise(tmp_path) -> None:
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(ValueError, match="IDX"):
        D.read_idx(tmp_path / "bad")
    (tmp_path / "badtype").write_bytes(b"\x00\x00\x07\x01" + struct.pack(">I", 3) + b"abc")
    with pytest.raises(ValueError):
        D.read_idx(tmp_path / "badtype")
    (tmp_path / "short").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError):
        D.read_idx(tmp_path / "short")
    write_idx(tmp_path / "ok", np.zeros((4, 2), np.uint8))
    raw = (tmp_path / "ok").read_bytes()
    (tmp_path / "truncated").write_bytes(raw[:-1])
    with pytest.raises(ValueError):
        D.read_idx(tmp_path / "truncated")


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_from_a_directory(tmp_path, gz) -> None:
    rng = np.random.default_rng(1)
    data = {}
    for prefix, n in (("train", 6), ("t10k", 4)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        ext = ".gz" if gz else ""
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{ext}", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{ext}", labels)
        data[prefix] = (images, labels)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = D.load_mnist(tmp_path, split=split)
        assert x.shape == (len(data[prefix][0]), 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8
        np.testing.assert_array_equal(x, data[prefix][0])
        np.testing.assert_array_equal(y, data[prefix][1])
    x, _ = D.load_mnist(str(tmp_path))
    np.testing.assert_array_equal(x, data["train"][0])  # the training split by default


def test_load_mnist_missing_files_raise(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        D.load_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError, match="labels"):
        D.load_mnist(tmp_path)


# --- digits ----------------------------------------------------------------------------------------

def test_load_digits_everything() -> None:
    x, y = D.load_digits(test_fraction=None)
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int32
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.unique(x * 16), np.arange(17))  # pixels 0..16, scaled
    assert set(np.unique(y).tolist()) == set(range(10))
    assert np.bincount(y).min() > 150  # roughly balanced classes
    images, y2 = D.load_digits(test_fraction=None, flatten=False)
    assert images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(images.reshape(1797, 64), x)
    np.testing.assert_array_equal(y2, y)


def test_load_digits_split_is_disjoint_and_deterministic() -> None:
    (xtr, ytr), (xte, yte) = D.load_digits()  # 80/20 by default
    assert xtr.shape == (1797 - 359, 64) and xte.shape == (359, 64)
    assert len(ytr) == len(xtr) and len(yte) == len(xte)
    x_all, y_all = D.load_digits(test_fraction=None)
    rows = {r.tobytes(): i for i, r in enumerate(x_all)}
    # the split is a partition of the data set (rows matched with their labels)
    all_pairs = sorted((r.tobytes(), int(l)) for r, l in zip(x_all, y_all))
    split_pairs = sorted([(r.tobytes(), int(l)) for r, l in zip(xtr, ytr)] + [(r.tobytes(), int(l)) for r, l in
                                                                                zip(xte, yte)])
    assert split_pairs == all_pairs
    assert len(rows) > 1700  # (nearly all rows are distinct, so the check above is meaningful)
    (xtr2, ytr2), (xte2, yte2) = D.load_digits(seed=0)
    np.testing.assert_array_equal(xtr, xtr2)
    np.testing.assert_array_equal(yte, yte2)
    (xtr3, _), (xte3, _) = D.load_digits(seed=1)
    assert not np.array_equal(xte, xte3)
    (xtr4, _), (xte4, _) = D.load_digits(test_fraction=0.5, seed=0)
    assert len(xte4) == 898 or len(xte4) == 899
    assert len(xtr4) + len(xte4) == 1797
