"""The MNIST digit bank: the shipped sample of real MNIST digits, or the user's own MNIST IDX files.

A bank of N digits is balanced: it takes the classes in turn (0, 1, ..., 9,
0, 1, ...), each class's digits in file order, so any N >= 10 holds all ten
classes and no class has more than one digit more than another.
"""

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scene_shards.common import UserError

SHIPPED_BANK = Path(__file__).with_name("data") / "mnist_bank.npz"
IMAGE_SIDE = 28


@dataclass(frozen=True)
class DigitBank:
    """A bank of digits: `images` uint8 [N, 28, 28] (ink = 255), `classes` int8 [N] (0-9), `source` (str)."""

    images: np.ndarray
    classes: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.classes)


MAX_DIGITS = np.iinfo(np.int16).max  # bank indices are stored as int16 labels


def balanced_order(classes: np.ndarray, n: int) -> np.ndarray:
    """Return int64 [min(n, len(classes))] indices into `classes`, taking the classes 0-9 in turn.

    The k-th round takes the k-th digit (in file order) of every class that
    still has one, so the first N indices are balanced for every N.
    """
    per_class = [np.flatnonzero(classes == c) for c in range(10)]
    rounds = max(len(ix) for ix in per_class)
    order = [ix[k] for k in range(rounds) for ix in per_class if k < len(ix)]
    return np.asarray(order[:n], dtype=np.int64)


def read_idx(path: Path) -> np.ndarray:
    """Return the uint8 array stored in an IDX file (optionally gzip-compressed), shape from its header.

    Raises UserError when the file cannot be read or is not an unsigned-byte IDX file.
    """
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise UserError(f"cannot read MNIST file {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 3:
        raise UserError(f"{path} is not an MNIST IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    start = 4 + 4 * ndim
    if len(raw) != start + int(np.prod(shape)):
        raise UserError(f"{path} is truncated or has a wrong IDX header")
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(shape)


def find_mnist_files(path: str) -> tuple:
    """Return (images path, labels path) for `path`: a folder holding MNIST IDX files, or an images file.

    In a folder the training files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
    optionally .gz) are preferred over t10k ones. Raises UserError when none is found.
    """
    p = Path(path)
    if p.is_dir():
        for prefix in ("train", "t10k"):
            for suffix in ("", ".gz"):
                images = p / f"{prefix}-images-idx3-ubyte{suffix}"
                labels = p / f"{prefix}-labels-idx1-ubyte{suffix}"
                if images.is_file() and labels.is_file():
                    return images, labels
        raise UserError(f"--mnist {path}: no train-images-idx3-ubyte[.gz] with its labels file in that folder")
    if not p.is_file():
        raise UserError(f"--mnist {path}: no such file or folder")
    if "images-idx3" not in p.name:
        raise UserError(f"--mnist {path}: expected an MNIST images file named *-images-idx3-ubyte[.gz] or a folder")
    labels = p.with_name(p.name.replace("images-idx3", "labels-idx1"))
    if not labels.is_file():
        raise UserError(f"--mnist {path}: its labels file {labels.name} is missing")
    return p, labels


def read_mnist(path: str) -> tuple:
    """Return (images uint8 [M, 28, 28], classes int8 [M]) read from the user's MNIST IDX files at `path`."""
    images_path, labels_path = find_mnist_files(path)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE) or labels.ndim != 1:
        raise UserError(f"--mnist {path}: expected 28x28 images and a vector of labels")
    if len(images) != len(labels):
        raise UserError(f"--mnist {path}: images and labels do not match (counts {len(images)} vs {len(labels)})")
    if labels.max(initial=0) > 9:
        raise UserError(f"--mnist {path}: the labels file holds {int(labels.max())}; MNIST labels are 0-9")
    return images, labels.astype(np.int8)


def check_balanced(classes: np.ndarray, n: int, where: str) -> None:
    """Raise UserError unless `classes` holds enough digits of every class for a balanced bank of `n` digits
    (class c needs n // 10 digits, one more when c < n % 10), naming the first class that falls short."""
    counts = np.bincount(classes.astype(np.int64), minlength=10)
    for c in range(10):
        need = n // 10 + (c < n % 10)
        if counts[c] < need:
            raise UserError(f"--digits {n} needs {need} digits of class {c} for a bank balanced over the ten classes, "
                            f"but {where} holds {counts[c]}")


def read_shipped() -> tuple:
    """Return (images uint8 [1000, 28, 28], classes int8 [1000]) of the bank shipped with the package."""
    with np.load(SHIPPED_BANK, allow_pickle=False) as f:
        return f["images"], f["classes"]


def load_bank(n: int, mnist: str | None = None) -> DigitBank:
    """Return a balanced bank of `n` digits from the shipped sample, or from the MNIST IDX files at `mnist`.

    Raises UserError when `n` < 1, when the source holds fewer than `n` digits (or too few of a class
    for a balanced bank), or when `mnist` cannot be read.
    """
    if not 1 <= n <= MAX_DIGITS:
        raise UserError(f"--digits must be between 1 and {MAX_DIGITS} (got {n}): the label `digits` is int16")
    images, classes = read_mnist(mnist) if mnist else read_shipped()
    where = f"the MNIST files at {mnist}" if mnist else "the shipped digit bank"
    if n > len(classes):
        raise UserError(f"--digits {n} is more than {where} holds ({len(classes)})")
    check_balanced(classes, n, where)
    order = balanced_order(classes, n)
    source = f"mnist:{Path(mnist).resolve()}" if mnist else "shipped"
    return DigitBank(images=np.ascontiguousarray(images[order]), classes=classes[order].astype(np.int8),
                     source=source)
