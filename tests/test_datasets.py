"""snncc.io.datasets: IDX reader, MNIST / digits loaders, split and to_tensor."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from snncc.errors import DataError, ParameterError, ShapeError, SnnccError
from snncc.io.datasets import load_digits, load_idx, load_mnist, split, to_tensor

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "mnist"

_CODES = {np.dtype("u1"): 0x08, np.dtype("i1"): 0x09, np.dtype("i2"): 0x0B,
          np.dtype("i4"): 0x0C, np.dtype("f4"): 0x0D, np.dtype("f8"): 0x0E}


def idx_bytes(arr: np.ndarray, code: int | None = None) -> bytes:
    """``arr`` encoded as an IDX file (big-endian header and data)."""
    code = _CODES[arr.dtype] if code is None else code
    head = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, arr: np.ndarray, *, gz: bool = False) -> Path:
    data = idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# ------------------------------------------------------------------ load_idx round trip
ARRAYS = {
    "uint8-1d": np.arange(7, dtype=np.uint8),
    "int8-2d": np.array([[-128, -1, 0], [1, 2, 127]], dtype=np.int8),
    "int16-2d": np.array([[-30000, -2], [258, 30000]], dtype=np.int16),
    "int32-3d": (np.arange(24, dtype=np.int32) * 100003 - 1_000_000).reshape(2, 3, 4),
    "float32-3d": np.linspace(-3.5, 7.25, 30, dtype=np.float32).reshape(5, 3, 2),
    "float64-1d": np.array([np.pi, -1e300, 0.0, 2.5e-310]),
    "uint8-empty": np.zeros((0, 28, 28), dtype=np.uint8),
}


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("name", list(ARRAYS))
def test_load_idx_round_trip(tmp_path: Path, name: str, gz: bool) -> None:
    arr = ARRAYS[name]
    # the file name says nothing: gzip is detected by the magic bytes
    path = write_idx(tmp_path / "data.bin", arr, gz=gz)
    got = load_idx(path)
    assert got.shape == arr.shape
    assert got.dtype == arr.dtype and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)
    got[...] = 0  # a writable copy, not a view of the file buffer
    assert load_idx(str(path)).tolist() == arr.tolist()


def test_load_idx_reads_big_endian(tmp_path: Path) -> None:
    # hand-written bytes: 0x0C int32, 1 dim of 2: 0x00000102 = 258, 0xFFFFFFFE = -2
    path = tmp_path / "x"
    path.write_bytes(b"\x00\x00\x0c\x01" + b"\x00\x00\x00\x02" + b"\x00\x00\x01\x02"
                     + b"\xff\xff\xff\xfe")
    assert load_idx(path).tolist() == [258, -2]
    # 0x0D float32 1.0 = 0x3F800000
    path.write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x01\x3f\x80\x00\x00")
    got = load_idx(path)
    assert got.dtype == np.float32 and got.tolist() == [1.0]


# ------------------------------------------------------------------ load_idx errors
def test_load_idx_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope-idx3-ubyte.gz"
    with pytest.raises(DataError, match="no such file") as exc:
        load_idx(missing)
    assert str(missing) in str(exc.value)
    assert "t10k-images-idx3-ubyte.gz" in str(exc.value)
    assert isinstance(exc.value, SnnccError)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_load_idx_truncated_data(tmp_path: Path, gz: bool) -> None:
    data = idx_bytes(np.arange(12, dtype=np.int32).reshape(3, 4))[:-5]
    path = tmp_path / "t"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError, match=r"truncated.*needs 48 bytes of data, found 43"):
        load_idx(path)


def test_load_idx_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x02")
    with pytest.raises(DataError, match="truncated.*needs 16 bytes, found 8"):
        load_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(DataError, match="fewer than the 4-byte IDX header"):
        load_idx(path)


def test_load_idx_truncated_gzip_stream(tmp_path: Path) -> None:
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8)))[:-12])
    with pytest.raises(DataError, match="cannot be decompressed"):
        load_idx(path)


def test_load_idx_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_bytes(idx_bytes(np.arange(4, dtype=np.uint8)) + b"\x00\x00")
    with pytest.raises(DataError, match="4 bytes expected, found 6"):
        load_idx(path)


def test_load_idx_bad_magic(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(DataError, match="bad magic number 0x504b0304"):
        load_idx(path)


def test_load_idx_bad_type_code(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_bytes(idx_bytes(np.arange(4, dtype=np.uint8), code=0x0A))
    with pytest.raises(DataError, match="unknown IDX type code 0x0A"):
        load_idx(path)


def test_load_idx_directory_and_bad_argument(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a folder"):
        load_idx(tmp_path)
    with pytest.raises(ParameterError, match="takes a path"):
        load_idx(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------ load_mnist
def _fake_mnist(root: Path, split_name: str, n_images: int, n_labels: int, gz: bool) -> None:
    prefix = "t10k" if split_name == "test" else "train"
    rng = np.random.default_rng(1)
    ext = ".gz" if gz else ""
    write_idx(root / f"{prefix}-images-idx3-ubyte{ext}",
              rng.integers(0, 256, (n_images, 28, 28), dtype=np.uint8), gz=gz)
    write_idx(root / f"{prefix}-labels-idx1-ubyte{ext}",
              rng.integers(0, 10, n_labels, dtype=np.uint8), gz=gz)


@pytest.mark.parametrize("split_name", ["test", "train"])
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_load_mnist_fake(tmp_path: Path, split_name: str, gz: bool) -> None:
    _fake_mnist(tmp_path, split_name, 5, 5, gz)
    images, labels = load_mnist(tmp_path, split=split_name)
    assert images.shape == (5, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() <= 9


def test_load_mnist_mismatched_counts(tmp_path: Path) -> None:
    _fake_mnist(tmp_path, "test", 5, 4, gz=True)
    with pytest.raises(DataError, match="5 images .* but 4 labels"):
        load_mnist(tmp_path)


def test_load_mnist_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError) as exc:
        load_mnist(tmp_path, split="train")
    msg = str(exc.value)
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte",
                 "train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"):
        assert name in msg
    assert str(tmp_path) in msg
    # only the labels are missing: only they are listed
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte") as exc:
        load_mnist(tmp_path)
    assert "images" not in str(exc.value)
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "absent")


def test_load_mnist_bad_split(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="'test' or 'train'"):
        load_mnist(tmp_path, split="valid")


def test_load_mnist_wrong_image_shape(tmp_path: Path) -> None:
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 8, 8), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(DataError, match=r"expected uint8 images of shape \[N, 28, 28\]"):
        load_mnist(tmp_path)


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"MNIST not found at {MNIST_DIR}")
def test_genuine_mnist_test_set() -> None:
    images, labels = load_mnist(MNIST_DIR, split="test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.int64
    counts = np.bincount(labels, minlength=10)
    assert len(counts) == 10 and set(np.unique(labels)) == set(range(10))
    assert all(800 <= c <= 1200 for c in counts), counts
    assert 30.0 < images.mean() < 36.0
    assert images.min() == 0 and images.max() == 255
    # the border pixels are background in nearly every image
    assert images[:, 0, :].mean() < 1.0
    t = to_tensor(images[:16])
    assert t.shape == (16, 1, 28, 28) and float(t.max()) <= 1.0


# ------------------------------------------------------------------ load_digits
def test_load_digits() -> None:
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(np.unique(labels)) == set(range(10))


def test_load_digits_without_sklearn(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError, match="pip install scikit-learn"):
        load_digits()


# ------------------------------------------------------------------ split
def test_split_reproducible_and_disjoint() -> None:
    x = np.arange(100) * 10
    y = np.arange(100)
    (xa, ya), (xb, yb) = split(x, y, 60, 30, seed=3)
    (xa2, ya2), (xb2, yb2) = split(x, y, 60, 30, seed=3)
    np.testing.assert_array_equal(xa, xa2)
    np.testing.assert_array_equal(yb, yb2)
    assert len(xa) == 60 and len(xb) == 30
    np.testing.assert_array_equal(xa, ya * 10)  # x and y stay paired
    np.testing.assert_array_equal(xb, yb * 10)
    assert not set(ya) & set(yb)
    assert len(set(ya)) == 60 and len(set(yb)) == 30
    assert not np.array_equal(ya, np.arange(60))  # shuffled
    (xc, _), _ = split(x, y, 60, 30, seed=4)
    assert not np.array_equal(xa, xc)


def test_split_errors() -> None:
    x, y = np.zeros((10, 2)), np.zeros(10)
    with pytest.raises(ParameterError, match=r"n_train \+ n_test = 8 \+ 3 = 11 .* 10 samples"):
        split(x, y, 8, 3)
    with pytest.raises(ParameterError, match="n_test must be a non-negative integer"):
        split(x, y, 1, -1)
    with pytest.raises(ShapeError, match="x has 10 samples but y has 9"):
        split(x, y[:9], 1, 1)
    (_, _), (xt, _) = split(x, y, 10, 0)
    assert len(xt) == 0


# ------------------------------------------------------------------ to_tensor
def test_to_tensor_uint8() -> None:
    images = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    t = to_tensor(images)
    assert t.shape == (1, 1, 2, 2) and t.dtype == torch.float32
    assert t.flatten().tolist() == pytest.approx([0.0, 1.0, 0.2, 0.4])
    assert to_tensor(images, dtype=torch.float64).dtype == torch.float64


def test_to_tensor_float_kept() -> None:
    images = np.array([[[-1.5, 3.0]], [[0.25, 7.0]]], dtype=np.float32)
    t = to_tensor(images, device="cpu")
    assert t.shape == (2, 1, 1, 2)
    assert t.flatten().tolist() == [-1.5, 3.0, 0.25, 7.0]
    x4 = torch.rand(3, 2, 4, 4)
    assert torch.equal(to_tensor(x4), x4)


def test_to_tensor_errors() -> None:
    with pytest.raises(ShapeError, match=r"\[N, H, W\]"):
        to_tensor(np.zeros((4, 4), np.uint8))
    with pytest.raises(ParameterError, match="uint8 .* or floating"):
        to_tensor(np.zeros((1, 4, 4), np.int32))
