"""Small image data sets for the examples: MNIST from local IDX files, scikit-learn's digits.

Nothing is downloaded and nothing is bundled: :func:`load_mnist` reads the four standard
MNIST files from a folder you point it at (``.gz`` or uncompressed), :func:`load_digits`
uses the 8x8 digits that ship with scikit-learn.

Example::

    from snncc.io.datasets import load_digits, load_mnist, split, to_tensor

    x, y = load_digits()                      # float32 [1797, 8, 8] in [0, 1], int64 [1797]
    (x_tr, y_tr), (x_te, y_te) = split(x, y, n_train=1000, n_test=500, seed=0)
    batch = to_tensor(x_tr[:32])              # torch.float32 [32, 1, 8, 8]

    images, labels = load_mnist("datasets/mnist", split="test")   # uint8 [10000, 28, 28]
    inputs = to_tensor(images[:100])          # torch.float32 [100, 1, 28, 28] in [0, 1]

Every failure raises :class:`snncc.errors.DataError` (bad files) or
:class:`snncc.errors.ParameterError` / :class:`snncc.errors.ShapeError` (bad arguments).
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from snncc.errors import DataError, ParameterError, ShapeError

__all__ = ["load_idx", "load_mnist", "load_digits", "split", "to_tensor"]

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> big-endian numpy dtype of the stored data
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_MNIST_FILES = {
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
}


def _read_bytes(path: Path) -> bytes:
    """The content of ``path``, decompressed when it starts with the gzip magic bytes."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(
            f"no such file: '{path}'; load_idx takes the path to an IDX file such as "
            "'t10k-images-idx3-ubyte.gz' (gzip-compressed or raw)") from None
    except IsADirectoryError:
        raise DataError(
            f"'{path}' is a folder; load_idx takes the path to an IDX file such as "
            "'t10k-images-idx3-ubyte.gz' (use load_mnist for a folder)") from None
    except OSError as exc:
        raise DataError(f"cannot read '{path}': {exc.strerror or exc}") from None
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"'{path}' starts like a gzip file but cannot be decompressed "
                        f"({exc}); the file is probably truncated or corrupt") from None


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into an array of the stored shape.

    The dtype is the native-endian version of the stored type (uint8, int8, int16, int32,
    float32 or float64). Raises :class:`~snncc.errors.DataError` for a missing file, a bad
    header or truncated data.
    """
    try:
        path = Path(os.fspath(path))
    except TypeError:
        raise ParameterError(f"load_idx takes a path (str or os.PathLike), not "
                             f"{type(path).__name__}") from None
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"'{path}' is not an IDX file: it has {len(data)} bytes, fewer than "
                        "the 4-byte IDX header")
    if data[0] != 0 or data[1] != 0:
        raise DataError(f"'{path}' is not an IDX file: bad magic number "
                        f"0x{data[:4].hex()} (an IDX file starts with two zero bytes, a "
                        "type code and the number of dimensions)")
    code, ndim = data[2], data[3]
    if code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_TYPES)
        raise DataError(f"'{path}': unknown IDX type code 0x{code:02X} (known: {known})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"'{path}' is truncated: the header of {ndim} dimensions needs "
                        f"{header} bytes, found {len(data)}")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    stored = _IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * stored.itemsize
    found = len(data) - header
    if found < expected:
        raise DataError(f"'{path}' is truncated: shape {shape} of {stored.name} needs "
                        f"{expected} bytes of data, found {found}")
    if found > expected:
        raise DataError(f"'{path}' has {found - expected} bytes more than shape {shape} of "
                        f"{stored.name} needs ({expected} bytes expected, found {found}); "
                        "the header does not match the data")
    arr = np.frombuffer(data, dtype=stored, count=expected // stored.itemsize, offset=header)
    return arr.astype(stored.newbyteorder("="), copy=True).reshape(shape)


def _find(root: Path, name: str) -> Path | None:
    """``root/name.gz`` or ``root/name``, whichever exists first; None if neither does."""
    for candidate in (root / f"{name}.gz", root / name):
        if candidate.is_file():
            return candidate
    return None


def load_mnist(root: str | os.PathLike, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images (uint8 [N, 28, 28]) and labels (int64 [N]) from the IDX files in ``root``.

    ``split`` is ``"test"`` (``t10k-*``, 10000 images) or ``"train"`` (``train-*``, 60000
    images); each file may be gzip-compressed (``.gz``) or raw. Nothing is downloaded.
    """
    if split not in _MNIST_FILES:
        raise ParameterError(f"load_mnist: split must be 'test' or 'train', not {split!r}")
    folder = Path(os.fspath(root))
    names = _MNIST_FILES[split]
    found = [_find(folder, name) for name in names]
    if any(p is None for p in found):
        looked = ", ".join(f"{n}.gz or {n}" for n, p in zip(names, found) if p is None)
        where = "" if folder.is_dir() else " (the folder does not exist)"
        raise DataError(f"load_mnist(split={split!r}): missing in '{folder}'{where}: "
                        f"{looked}. Download the MNIST files into that folder (nothing is "
                        "downloaded automatically)")
    images_path, labels_path = found
    assert images_path is not None and labels_path is not None
    images = load_idx(images_path)
    labels = load_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(f"'{images_path}' holds {images.dtype} {images.shape}, expected "
                        "uint8 images of shape [N, 28, 28]")
    if labels.ndim != 1:
        raise DataError(f"'{labels_path}' holds labels of shape {labels.shape}, expected [N]")
    if len(images) != len(labels):
        raise DataError(f"load_mnist: {len(images)} images in '{images_path}' but "
                        f"{len(labels)} labels in '{labels_path}'; the counts must match")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"'{labels_path}' holds labels outside 0..9 "
                        f"(min {labels.min()}, max {labels.max()})")
    return images, labels


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: images float32 [1797, 8, 8] in [0, 1], labels int64 [1797]."""
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError:
        raise DataError("load_digits needs scikit-learn, which is not installed: "
                        "pip install scikit-learn") from None
    bunch = _sk_load_digits()
    images = (np.asarray(bunch.images, dtype=np.float32) / np.float32(16.0)).astype(np.float32)
    labels = np.asarray(bunch.target, dtype=np.int64)
    return images, labels


def split(x: np.ndarray, y: np.ndarray, n_train: int, n_test: int,
          seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A reproducible shuffled split: ``(x_train, y_train), (x_test, y_test)``.

    The samples are permuted with ``numpy.random.default_rng(seed)``; the first ``n_train``
    go to the training set, the next ``n_test`` to the test set (disjoint).
    """
    if len(x) != len(y):
        raise ShapeError(f"split: x has {len(x)} samples but y has {len(y)}; they must match")
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ParameterError(f"split: {name} must be a non-negative integer, got {n!r}")
    if n_train + n_test > len(x):
        raise ParameterError(f"split: n_train + n_test = {n_train} + {n_test} = "
                             f"{n_train + n_test} is more than the {len(x)} samples available")
    order = np.random.default_rng(seed).permutation(len(x))
    train, test = order[:n_train], order[n_train:n_train + n_test]
    return (x[train], y[train]), (x[test], y[test])


def to_tensor(images: np.ndarray | torch.Tensor, device: str | torch.device | None = None,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Images [N, H, W] (or [N, C, H, W]) as a float tensor [N, 1, H, W] (or [N, C, H, W]).

    uint8 images are scaled to [0, 1] (divided by 255); float images keep their values and
    are only reshaped (and cast to ``dtype``).
    """
    t = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    if t.ndim == 3:
        t = t.unsqueeze(1)
    elif t.ndim != 4:
        raise ShapeError(f"to_tensor: images must have shape [N, H, W] or [N, C, H, W], "
                         f"got {tuple(t.shape)}")
    if not dtype.is_floating_point:
        raise ParameterError(f"to_tensor: dtype must be a floating-point dtype, not {dtype}")
    if t.dtype == torch.uint8:
        return t.to(device=device, dtype=dtype) / 255.0
    if not t.dtype.is_floating_point:
        raise ParameterError(f"to_tensor: images must be uint8 (scaled to [0, 1]) or floating "
                             f"point (kept as they are), not {t.dtype}")
    return t.to(device=device, dtype=dtype)
