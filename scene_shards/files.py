"""Small file helpers: atomic replacement, checksums, temporary names."""

import hashlib
import json
import os
from pathlib import Path

TMP_MARK = ".tmp-"


def temporary_name(path: Path) -> Path:
    """Return a hidden temporary path beside `path` (same folder, so a rename is atomic)."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


def write_json_atomic(path: Path, obj) -> None:
    """Write `obj` as indented JSON to `path` through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = temporary_name(path)
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def sha256_of(path: Path, block: int = 1 << 20) -> str:
    """Return the hex sha256 digest of the file at `path`."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()
