"""A full disk for tests, without privileges and without timing: `jumpdata_on_full_disk` runs the command line in
a subprocess in which every file jumpdata writes whose final name matches a glob pattern gets, as its temporary
name, a symbolic link to /dev/full. Each write to it then fails in the kernel with ENOSPC, as on a full disk, for
Python and C writers alike (torch.save, libpng); the other files are written normally. (A real tmpfs needs mount
rights, and RLIMIT_FSIZE gives EFBIG, not ENOSPC.)"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_SCRIPT = """
import fnmatch, os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
import scene_shards.files as files

plain_name = files.temporary_name

def full_disk_name(path):
    tmp = plain_name(path)
    if fnmatch.fnmatch(Path(path).name, {pattern!r}):
        tmp.unlink(missing_ok=True)
        os.symlink("/dev/full", tmp)
    return tmp

files.temporary_name = full_disk_name
sys.argv = ["jumpdata", *sys.argv[1:]]
from cli import run
run()
"""


def jumpdata_on_full_disk(pattern: str, *argv, cwd=ROOT) -> subprocess.CompletedProcess:
    """Run `jumpdata ARGV` with the files named like `pattern` on a full disk; returns the CompletedProcess (text)."""
    script = _SCRIPT.format(root=str(ROOT), pattern=pattern)
    return subprocess.run([sys.executable, "-c", script, *map(str, argv)], capture_output=True, text=True, cwd=cwd)


def hidden_files(folder: Path) -> list:
    """Return the sorted names of the hidden files (temporaries, lock files) in `folder`."""
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith("."))
