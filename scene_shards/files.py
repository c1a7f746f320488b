"""Small file helpers: the one way jumpdata writes a file safely, checksums, temporary names.

Every file jumpdata writes (shards, manifests, pictures, run configs,
checkpoints, metrics rewrites, the digit bank) goes through `AtomicFile` or
`atomic_open`: it is written under a hidden temporary name in the same folder
and renamed into place only when complete, so a reader never sees half a file
and a failure (an exception, a full disk, Ctrl-C) leaves the old file intact
and no temporary file behind. A killed process may leave a temporary file;
its name ends in `TMP_MARK` + the writer's pid, so it can be recognised and
cleaned up later (see generation.py).
"""

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

TMP_MARK = ".tmp-"


def temporary_name(path: Path) -> Path:
    """Return a hidden temporary path beside `path` (same folder, so a rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicFile:
    """A file written under a temporary name (`.tmp`) and renamed to `path` by `commit()`.

    As a context manager it yields the temporary path, commits when the block
    ends normally and removes the temporary file when it raises. `durable=True`
    flushes the file and its folder to disk (fsync) around the rename, for data
    that must survive a crash; pictures can skip it.
    """

    def __init__(self, path, durable: bool = True):
        self.path = Path(path)
        self.tmp = temporary_name(self.path)
        self.durable = durable

    def commit(self) -> None:
        """Rename the finished temporary file into place (removing it if that fails, then re-raising)."""
        try:
            if self.durable:
                _fsync(self.tmp)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise
        if self.durable:
            _fsync(self.path.parent, directory=True)

    def discard(self) -> None:
        """Delete the temporary file, if any."""
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> Path:
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False


@contextmanager
def atomic_open(path, mode: str = "w", durable: bool = True):
    """Open a temporary file beside `path` for writing (`mode` "w" or "wb"); yield the file object; when the
    block ends normally close it and rename it to `path` (see AtomicFile), otherwise delete it."""
    with AtomicFile(path, durable) as tmp, open(tmp, mode) as f:
        yield f


@contextmanager
def new_folder(folder):
    """Create `folder` and its missing parents for the block, yielding it as a Path; afterwards remove the
    folders this call created if they are still empty (bad input found inside the block leaves nothing behind)."""
    folder = Path(folder)
    created = [p for p in [folder, *folder.parents] if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        for p in created:   # deepest first
            try:
                p.rmdir()
            except OSError:
                break


def write_json_atomic(path, obj) -> None:
    """Write `obj` as indented JSON to `path` atomically and durably; a failed write (a full disk) leaves the old
    file and no temporary, and raises an OSError whose message names `path`."""
    try:
        with atomic_open(path, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=False)
            f.write("\n")
    except OSError as e:
        raise OSError(e.errno, f"cannot write {path}: {e.strerror or e}") from None


def sha256_of(path: Path, block: int = 1 << 20) -> str:
    """Return the hex sha256 digest of the file at `path`."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            h.update(chunk)
    return h.hexdigest()


class FileGroup:
    """Files that appear together or not at all (a report and its pictures).

    `tmp = group.temporary(path)` returns the temporary name to write `path` under. When the `with` block ends
    normally every temporary is renamed into place, after checking that no final name is taken by a folder;
    when it raises, every temporary is deleted and nothing appears. An OSError raised while writing (a full
    disk) is re-raised naming the final path of the file being written."""

    def __init__(self, durable: bool = False):
        self.durable, self.files = durable, []

    def temporary(self, path) -> Path:
        """Return the temporary path to write the final `path` under (see AtomicFile)."""
        self.files.append(AtomicFile(path, self.durable))
        return self.files[-1].tmp

    def __enter__(self) -> "FileGroup":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            if exc_type is None:
                taken = [f.path for f in self.files if f.path.is_dir()]
                if taken:
                    raise IsADirectoryError(21, f"cannot write {taken[0]}: a folder has that name")
                for f in self.files:
                    f.commit()
        except BaseException:
            self.discard()
            raise
        if exc_type is not None:
            self.discard()
            if isinstance(exc, OSError) and self.files:
                raise OSError(exc.errno, f"cannot write {self.files[-1].path}: {exc.strerror or exc}") from None
        return False

    def discard(self) -> None:
        """Delete every temporary of the group."""
        for f in self.files:
            f.discard()


def replace_folder(tmp, path) -> None:
    """Move the complete folder `tmp` (written beside `path`, e.g. at temporary_name(path)) to `path`: a folder
    already there is renamed aside first and deleted once the new one is in place, so a reader finds the old
    folder or the new one, each whole (or, between the two renames, none)."""
    tmp, path = Path(tmp), Path(path)
    old = path.with_name(f".{path.name}.old{TMP_MARK}{os.getpid()}")
    if path.exists():
        os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        if old.exists():
            os.replace(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)
    _fsync(path.parent, directory=True)
