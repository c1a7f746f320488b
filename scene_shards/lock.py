"""One writer per folder: an exclusive OS lock (fcntl.flock) on a lock file, held while a command writes.

A generation holds `.NAME.lock` in its --out folder (one writer per dataset, so two datasets may be generated
into one folder at once); a training run holds `.run.lock` in its run folder. A second writer is refused at
once with one line naming the folder and the holder's pid. The kernel releases the lock when the holding
process dies, even by SIGKILL, so the command can be run again at once and resumes. Readers take no lock:
every file is renamed into place only when complete (scene_shards.files). See docs/format.md.
"""

import errno
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from .common import UserError
from .files import new_folder

_HELD = {}   # lock file descriptor -> path, for the fork hook below


def _close_in_child() -> None:
    # A forked child (a generation worker, a DataLoader worker) shares the parent's lock; closing its copy of the
    # descriptor leaves the parent's lock intact but means the lock dies with the parent alone.
    for fd in list(_HELD):
        os.close(fd)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_in_child)


class FolderLock:
    """The exclusive lock `folder/name` held by one writer; `what` says what it writes (for the refusal line).

    `acquire()` returns self or raises UserError when another process holds it; `release()` deletes the lock
    file and unlocks. Also a context manager."""

    def __init__(self, folder, name: str, what: str):
        self.folder, self.path, self.what, self.fd = Path(folder), Path(folder) / name, what, None

    def acquire(self) -> "FolderLock":
        """Take the lock (the folder must exist); raises UserError naming the holder when it is taken."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                    raise
                raise UserError(f"{self.folder} is being written by another process ({self.holder()}, {self.what}); "
                                f"wait until it ends, or write to another folder") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:   # not a file its last holder deleted between our open and our lock: ours
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        _HELD[fd] = self.path
        return self

    def holder(self) -> str:
        """Return "pid N" of the process holding the lock, as written in the lock file ("pid unknown" if unreadable)."""
        try:
            pid = self.path.read_text().strip()
        except OSError:
            pid = ""
        return f"pid {pid}" if pid.isdigit() else "pid unknown"

    def release(self) -> None:
        """Delete the lock file and unlock (deleting first, while still holding it, so no waiter locks a stale file)."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        _HELD.pop(self.fd, None)
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


@contextmanager
def writing_folder(folder, name: str, what: str):
    """Create `folder` (and missing parents) if needed, hold FolderLock(folder, name, what) for the block, yield
    the lock; afterwards release it and remove the folders this call created if they are still empty (bad input
    found inside the block leaves nothing behind)."""
    with new_folder(folder), FolderLock(folder, name, what) as lock:
        yield lock


#: The lock file a training run holds in its run folder (jumpdata train).
RUN_LOCK = ".run.lock"
