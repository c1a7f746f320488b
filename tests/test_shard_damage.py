"""Damage a checksum cannot see (the manifest's sha256 refreshed after the change) and manifests that are not
files: named in one line when a shard is opened, and by `jumpdata info`, which exits non-zero."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from narratives import make_spec
from scene_shards import UserError, generate_dataset, open_dataset, verify_dataset
from scene_shards.files import sha256_of

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stories(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stories")
    generate_dataset(make_spec("salesman", size=32), folder, n=4, test_n=2, workers=1, shard_size=4)
    return folder


def info(folder):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), "info", str(folder)], capture_output=True,
                          text=True)


def damaged_copy(stories, tmp_path, change):
    """Copy `stories`, apply change(h5py test shard opened r+), refresh the manifest's sha256; return the copy."""
    folder = tmp_path / "data"
    folder.mkdir()
    for p in stories.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    shard = folder / "salesman-test-00000-of-00001.h5"
    with h5py.File(shard, "r+") as f:
        change(f)
    m = json.loads((folder / "salesman.json").read_text())
    m["splits"]["test"]["shards"][0]["sha256"] = sha256_of(shard)
    (folder / "salesman.json").write_text(json.dumps(m))
    return folder


def set_first(name, value):
    def change(f):
        data = f[name][()]
        data.flat[0] = value
        f[name][...] = data
    return change


def replace(name, data):
    def change(f):
        del f[name]
        if data is not None:
            f[name] = data
    return change


@pytest.mark.parametrize("change, message", [
    (set_first("viewpoints", np.nan), "its viewpoints hold 1 NaN or infinite values"),
    (set_first("labels/positions", np.inf), "its labels/positions hold 1 NaN or infinite values"),
    (replace("labels/kinds", None), "it has no label kinds, which the manifest lists"),
    (replace("labels/sizes", np.zeros((2, 1), np.int8)), "its label sizes is int8(2, 1), the manifest says int8(2, "),
    (replace("labels/order", np.zeros((2, 4), np.float32)), "its label order is float32(2, 4), the manifest says int8"),
])
def test_a_shard_damaged_behind_its_checksum_is_named_when_opened_and_by_info(stories, tmp_path, change, message):
    folder = damaged_copy(stories, tmp_path, change)
    shard = "salesman-test-00000-of-00001.h5"
    with pytest.raises(UserError, match=re.escape(f"{shard} does not match its manifest: {message}")):
        open_dataset(folder, split="test").frames(0)
    assert [p.split(": ", 1)[1] for p in verify_dataset(folder, "salesman")][0].startswith(message)
    r = info(folder)
    assert r.returncode == 2 and message in r.stdout and len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("replace_manifest, what", [
    (lambda p: p.mkdir(), "a folder"),
    (lambda p: p.symlink_to(p.name), "a symbolic link to nothing, or a loop of links"),
    (lambda p: p.symlink_to("gone.json"), "a symbolic link to nothing, or a loop of links"),
    (lambda p: os.mkfifo(p), "not a regular file"),
])
def test_a_manifest_that_is_not_a_file_is_named_by_info(stories, tmp_path, replace_manifest, what):
    folder = damaged_copy(stories, tmp_path, lambda f: None)
    (folder / "salesman.json").unlink()
    replace_manifest(folder / "salesman.json")
    r = info(folder)
    assert r.returncode == 2, r.stdout
    assert r.stdout.strip() == f"salesman  DAMAGED: manifest {folder}/salesman.json is not a readable file ({what})"
    with pytest.raises(UserError, match="is not a readable file"):
        open_dataset(folder)


def test_a_label_of_dtype_object_is_refused(stories, tmp_path):
    folder = damaged_copy(stories, tmp_path, lambda f: None)
    m = json.loads((folder / "salesman.json").read_text())
    m["labels"]["kinds"]["dtype"] = "object"
    (folder / "salesman.json").write_text(json.dumps(m))
    with pytest.raises(UserError, match="is damaged: label 'kinds' is .* not a numeric dtype"):
        open_dataset(folder)
    assert "DAMAGED" in info(folder).stdout
