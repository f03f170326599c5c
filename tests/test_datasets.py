"""Tests for sk_ieg.datasets: offline loaders (real files are skipped when absent)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from sk_ieg import datasets
from sk_ieg.datasets import (
    CIFAR10N_LABEL_KEYS,
    data_dir,
    load_cifar10_subset,
    load_csv,
    load_digits,
    load_digits_images,
    load_fashion_mnist,
    load_mnist,
    load_pmlb,
    read_idx,
    verify_checksums,
)


def _real_data_dir() -> Path:
    try:
        return data_dir()
    except FileNotFoundError:
        pytest.skip("no data directory (set SK_IEG_DATA)")


@pytest.fixture
def real_data() -> Path:
    return _real_data_dir()


def _require(root: Path, *parts: str) -> None:
    if not root.joinpath(*parts).exists():
        pytest.skip(f"{'/'.join(parts)} not in the data directory")


def _idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


# --------------------------------------------------------------------------- #
# digits
# --------------------------------------------------------------------------- #
def test_load_digits() -> None:
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    X_raw, _ = load_digits(scale=False)
    assert X_raw.dtype == np.float32 and X_raw.max() == 16.0
    np.testing.assert_allclose(X_raw / 16, X)


def test_load_digits_images() -> None:
    X, y = load_digits_images()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(X.reshape(1797, 64), load_digits()[0])
    assert load_digits_images(scale=False)[0].max() == 16.0


# --------------------------------------------------------------------------- #
# data directory
# --------------------------------------------------------------------------- #
def test_data_dir_explicit_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert data_dir(tmp_path) == tmp_path
    assert data_dir(str(tmp_path)) == tmp_path
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data_dir(tmp_path / "nope")
    monkeypatch.setenv("SK_IEG_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.setenv("SK_IEG_DATA", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="SK_IEG_DATA"):
        data_dir()


def test_data_dir_none_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SK_IEG_DATA", raising=False)
    monkeypatch.setattr(datasets, "__file__", "/nonexistent/a/b/datasets.py")
    with pytest.raises(FileNotFoundError, match=r"SK_IEG_DATA.*data_dir="):
        data_dir()


# --------------------------------------------------------------------------- #
# read_idx
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_roundtrip(tmp_path: Path, compressed: bool) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    payload = _idx_bytes(array)
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    path.write_bytes(gzip.compress(payload) if compressed else payload)
    out = read_idx(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, array)
    out[0, 0, 0] = 7  # writable


def test_read_idx_other_dtypes(tmp_path: Path) -> None:
    labels = np.array([3, 1, 4], dtype=np.uint8)
    (tmp_path / "l.idx").write_bytes(_idx_bytes(labels))
    np.testing.assert_array_equal(read_idx(tmp_path / "l.idx"), labels)
    ints = np.array([[-5, 70000]], dtype=">i4")
    (tmp_path / "i.idx").write_bytes(_idx_bytes(ints, code=0x0C))
    out = read_idx(tmp_path / "i.idx")
    assert out.dtype == np.dtype("int32") and out.dtype.isnative
    np.testing.assert_array_equal(out, [[-5, 70000]])


def test_read_idx_errors(tmp_path: Path) -> None:
    array = np.zeros((4, 5), dtype=np.uint8)
    bad_magic = tmp_path / "bad_magic.idx"
    bad_magic.write_bytes(b"\x01\x02" + _idx_bytes(array)[2:])
    with pytest.raises(ValueError, match=r"bad_magic\.idx.*bad magic number"):
        read_idx(bad_magic)
    truncated = tmp_path / "truncated.idx.gz"
    truncated.write_bytes(gzip.compress(_idx_bytes(array)[:-3]))
    with pytest.raises(ValueError, match=r"truncated\.idx\.gz.*size mismatch.*17 bytes"):
        read_idx(truncated)
    short_header = tmp_path / "short.idx"
    short_header.write_bytes(bytes([0, 0, 8, 3]) + b"\x00\x00")
    with pytest.raises(ValueError, match=r"short\.idx' is truncated"):
        read_idx(short_header)
    bad_code = tmp_path / "code.idx"
    bad_code.write_bytes(_idx_bytes(array, code=0x07))
    with pytest.raises(ValueError, match=r"code\.idx.*unsupported IDX data type code 0x07"):
        read_idx(bad_code)
    not_gzip = tmp_path / "plain.idx.gz"
    not_gzip.write_bytes(_idx_bytes(array))
    with pytest.raises(ValueError, match=r"plain\.idx\.gz.*not a readable gzip"):
        read_idx(not_gzip)
    with pytest.raises(FileNotFoundError, match=r"missing\.idx.*never downloads"):
        read_idx(tmp_path / "missing.idx")


# --------------------------------------------------------------------------- #
# MNIST / Fashion-MNIST
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("loader", "folder", "counts_0"),
    [(load_mnist, "mnist", 980), (load_fashion_mnist, "fashion_mnist", 1000)],
)
def test_mnist_like_test_split(real_data: Path, loader, folder: str, counts_0: int) -> None:
    _require(real_data, folder, "t10k-images-idx3-ubyte.gz")
    X, y = loader("test")
    assert X.shape == (10000, 1, 28, 28) and X.dtype == np.float32
    assert y.shape == (10000,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    counts = np.bincount(y, minlength=10)
    assert counts.sum() == 10000 and len(counts) == 10 and counts[0] == counts_0
    if folder == "mnist":
        np.testing.assert_array_equal(
            counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        )
    else:
        np.testing.assert_array_equal(counts, 1000)
    X_raw, _ = loader("test", scale=False, flatten=True, data_dir=real_data)
    assert X_raw.shape == (10000, 784) and X_raw.dtype == np.uint8
    np.testing.assert_allclose(X_raw.reshape(X.shape) / 255.0, X, atol=1e-7)


def test_mnist_missing_file(tmp_path: Path) -> None:
    (tmp_path / "mnist").mkdir()
    expected = str(tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz")
    with pytest.raises(FileNotFoundError) as info:
        load_mnist("test", data_dir=tmp_path)
    assert expected in str(info.value)
    assert "never downloads" in str(info.value)


def test_mnist_bad_split(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split must be 'train' or 'test', got 'valid'"):
        load_mnist("valid", data_dir=tmp_path)


def test_mnist_from_small_files(tmp_path: Path) -> None:
    folder = tmp_path / "fashion_mnist"
    folder.mkdir()
    images = np.random.RandomState(0).randint(0, 256, size=(5, 28, 28)).astype(np.uint8)
    labels = np.array([0, 9, 1, 1, 3], dtype=np.uint8)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(images)))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(labels)))
    X, y = load_fashion_mnist("test", data_dir=tmp_path)
    np.testing.assert_allclose(X[:, 0] * 255, images, atol=1e-4)
    np.testing.assert_array_equal(y, labels)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx_bytes(labels[:4])))
    with pytest.raises(ValueError, match="inconsistent files"):
        load_fashion_mnist("test", data_dir=tmp_path)


# --------------------------------------------------------------------------- #
# PMLB
# --------------------------------------------------------------------------- #
def test_load_pmlb_real(real_data: Path) -> None:
    _require(real_data, "pmlb", "mushroom.tsv.gz")
    X, y = load_pmlb("mushroom")
    assert X.shape == (8124, 22) and X.dtype == np.float32
    assert y.shape == (8124,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    assert not np.isnan(X).any()


def test_load_pmlb_unknown_name(real_data: Path) -> None:
    _require(real_data, "pmlb", "mushroom.tsv.gz")
    with pytest.raises(FileNotFoundError, match=r"no PMLB table 'iris'.*available: .*mushroom"):
        load_pmlb("iris")
    with pytest.raises(FileNotFoundError, match="available"):
        load_pmlb("../pmlb/mushroom")


def test_load_pmlb_small_file(tmp_path: Path) -> None:
    (tmp_path / "pmlb").mkdir()
    text = "a\tb\ttarget\n1\t2.5\t3\n4\t5\t1\n"
    (tmp_path / "pmlb" / "tiny.tsv.gz").write_bytes(gzip.compress(text.encode()))
    X, y = load_pmlb("tiny", data_dir=tmp_path)
    np.testing.assert_array_equal(X, [[1, 2.5], [4, 5]])
    np.testing.assert_array_equal(y, [3, 1])
    assert y.dtype == np.int64
    with pytest.raises(FileNotFoundError, match=r"available: tiny"):
        load_pmlb("small", data_dir=tmp_path)


# --------------------------------------------------------------------------- #
# CSV
# --------------------------------------------------------------------------- #
def test_load_csv_good(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("x1,label,x 2\n1.5,cat,2\n-3,dog,\n0, cat ,1e3\n")
    X, y, names = load_csv(path, label="label")
    assert names == ["x1", "x 2"]
    assert X.dtype == np.float32 and X.shape == (3, 2)
    np.testing.assert_array_equal(X[:, 0], [1.5, -3, 0])
    assert np.isnan(X[1, 1]) and X[2, 1] == 1000
    assert list(y) == ["cat", "dog", "cat"]


def test_load_csv_numeric_labels_and_sep(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(gzip.compress(b"f\ty\n1\t0\n2\t2.0\n"))
    X, y, names = load_csv(path, label="y", sep="\t")
    assert names == ["f"] and y.dtype == np.int64
    np.testing.assert_array_equal(y, [0, 2])
    path = tmp_path / "float.csv"
    path.write_text("f;y\n1;0.5\n2;1\n")
    _, y, _ = load_csv(path, label="y", sep=";")
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [0.5, 1.0])


def test_load_csv_header_only(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("a,b,y\n")
    X, y, names = load_csv(path, label="y")
    assert X.shape == (0, 2) and y.shape == (0,) and names == ["a", "b"]


def test_load_csv_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,0\n\n3,oops,1\n")
    with pytest.raises(ValueError, match=r"label column 'target' not found.*\['a', 'b', 'y'\]"):
        load_csv(path, label="target")
    with pytest.raises(ValueError, match=r"feature column 'b' .*not numeric.*'oops' on line 4"):
        load_csv(path, label="y")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,y\n1,0\n2\n")
    with pytest.raises(ValueError, match=r"line 3: expected 2 fields, got 1"):
        load_csv(ragged, label="y")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty"):
        load_csv(empty, label="y")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        load_csv(tmp_path / "missing.csv", label="y")


# --------------------------------------------------------------------------- #
# CIFAR-10 subset + CIFAR-10N
# --------------------------------------------------------------------------- #
def test_load_cifar10_subset(real_data: Path) -> None:
    _require(real_data, "cifar10_subset", "cj_cifar10_batch_3.png")
    _require(real_data, "cifar10n", "CIFAR-10_human_labels.npz")
    X, y, noisy = load_cifar10_subset()
    assert X.shape == (4000, 3, 32, 32) and X.dtype == np.float32
    assert 0.0 <= X.min() and X.max() <= 1.0
    # Mean CIFAR-10 colour is about (0.49, 0.48, 0.45).
    np.testing.assert_allclose(X.mean(axis=(0, 2, 3)), [0.49, 0.48, 0.45], atol=0.03)
    assert y.shape == (4000,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10))
    # The first training images are frog, truck, truck, deer, automobile.
    np.testing.assert_array_equal(y[:5], [6, 9, 9, 4, 1])
    assert set(noisy) == set(CIFAR10N_LABEL_KEYS)
    for labels in noisy.values():
        assert labels.shape == (4000,) and labels.dtype == np.int64
        assert labels.min() >= 0 and labels.max() <= 9
    assert 0.05 < np.mean(noisy["aggregate"] != y) < np.mean(noisy["worst"] != y) < 0.5
    X_raw, _, _ = load_cifar10_subset(data_dir=real_data, scale=False)
    assert X_raw.dtype == np.uint8
    np.testing.assert_allclose(X_raw / 255.0, X, atol=1e-6)


def test_load_cifar10_subset_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"cj_cifar10_batch_0\.png.*never downloads"):
        load_cifar10_subset(data_dir=tmp_path)


# --------------------------------------------------------------------------- #
# checksums
# --------------------------------------------------------------------------- #
def test_verify_checksums_real(real_data: Path) -> None:
    _require(real_data, "SHA256SUMS.txt")
    _require(real_data, "pmlb", "mushroom.tsv.gz")
    result = verify_checksums(names=["pmlb/mushroom.tsv.gz", "cifar10n"])
    assert "pmlb/mushroom.tsv.gz" in result and "cifar10n/LICENSE.md" in result
    assert all(result.values())


def test_verify_checksums_tmp(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_bytes(b"hello\n")
    (tmp_path / "b.txt").write_bytes(b"tampered\n")
    sha_hello = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    lines = [f"{sha_hello}  ./d/a.txt", f"{sha_hello}  ./b.txt", f"{sha_hello}  ./gone.txt"]
    (tmp_path / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")
    result = verify_checksums(tmp_path)
    assert result == {"d/a.txt": True, "b.txt": False, "gone.txt": False}
    assert verify_checksums(tmp_path, names=["d"]) == {"d/a.txt": True}
    with pytest.raises(ValueError, match="'nothing' matches no file"):
        verify_checksums(tmp_path, names=["nothing"])
    (tmp_path / "SHA256SUMS.txt").write_text("not-a-hash  x\n")
    with pytest.raises(ValueError, match="line 1: malformed"):
        verify_checksums(tmp_path)
