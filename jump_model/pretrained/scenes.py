"""The test scenes of a shipped model, remade where it is used: its card's data command run with a small --n and
--test-n into a cache folder, reused while it is intact.

Why they are the scenes it was evaluated on: the generation driver draws scene j of split s from
numpy default_rng([seed, SPLIT_ID[s], j]) alone (scene_shards/generation.py), whatever --n, --test-n, --workers
and --shard-size, so the same generator options and seed with --test-n K make exactly the first K test scenes of
the full dataset. A card also records the sha256 of its first test scenes (scene_digest): remade scenes are
checked against them, byte for byte, before they are used.

    $JUMPDATA_CACHE (else $XDG_CACHE_HOME/jumpdata, else ~/.cache/jumpdata)
        scenes/DATASET-FACTS/test-K/   the dataset with 1 train and K test scenes (FACTS: a digest of the
                                       generator, seed and config it must have: fingerprint.facts_of)

The generator runs in a child process (`python -m cli ...`, the command on the card), so pybullet, which the dice
generator loads, never enters the process that samples or evaluates.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from scene_shards.common import UserError
from scene_shards.fingerprint import json_digest
from scene_shards.manifest import manifest_path
from scene_shards.verify import verify_dataset

from .catalog import command_text

CACHE_ENV = "JUMPDATA_CACHE"
REMADE_OPTIONS = ("--n", "--test-n", "--workers", "--out")   # what a remake changes in the card's data command


def cache_root() -> Path:
    """Return jumpdata's cache folder: $JUMPDATA_CACHE, else $XDG_CACHE_HOME/jumpdata, else ~/.cache/jumpdata."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jumpdata"


def scene_digest(scenes, i: int) -> str:
    """Return the hex sha256 of test scene `i` of `scenes` (a ShardDataset): its frames, viewpoints and labels
    (name, dtype, shape and bytes of each, in name order)."""
    h = hashlib.sha256()
    for array in (scenes.frames(i), scenes.viewpoints(i)):
        h.update(np.ascontiguousarray(array).tobytes())
    for name, value in sorted(scenes.labels(i).items()):
        value = np.ascontiguousarray(value)
        h.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        h.update(value.tobytes())
    return h.hexdigest()


def check_scene_digests(scenes, recorded: list, holder: str) -> None:
    """Raise UserError unless the first scenes of `scenes` (as many as both have) have the digests `recorded`
    (those the card of `holder` lists)."""
    for i in range(min(len(scenes), len(recorded))):
        if scene_digest(scenes, i) != recorded[i]:
            raise UserError(f"test scene {i} remade for {holder} in {scenes.folder} is not the scene it was evaluated "
                            f"on (its sha256 differs from the card's): this jumpdata's generator draws other scenes "
                            f"than the one that made the model")


def facts_key(dataset: str, facts: dict) -> str:
    """Return the cache folder name of a dataset's facts: DATASET-<16 hex digits of their sha256>."""
    return f"{dataset}-{json_digest(facts)[:16]}"


def intact(folder: Path, dataset: str) -> bool:
    """Return True when `folder` holds `dataset` complete, every shard matching its sha256."""
    if not manifest_path(folder, dataset).is_file():
        return False
    try:
        return not verify_dataset(folder, dataset)
    except UserError:
        return False


def test_scenes(holder: str, data_command: list, dataset: str, facts: dict, count: int) -> Path:
    """Return a folder holding dataset `dataset` as `data_command` (argv, "jumpdata" first) makes it, with at
    least `count` test scenes: a cached one that is intact (the smallest that is big enough), else one made now.
    `facts` (fingerprint.facts_of the data `holder` learned from) name the cache folder; the caller compares them
    with the data. UserError (one line) when the command cannot run or fails."""
    base = cache_root() / "scenes" / facts_key(dataset, facts)
    cached = sorted((int(p.name[5:]), p) for p in base.glob("test-*") if p.name[5:].isdigit()) \
        if base.is_dir() else []
    for scenes, folder in cached:
        if scenes >= count and intact(folder, dataset):
            return folder
    folder = base / f"test-{count}"
    make_scenes(holder, data_command, folder, count)
    if not intact(folder, dataset):
        raise UserError(f"the test scenes of {holder} made in {folder} are not dataset '{dataset}' complete: does "
                        f"its card's data command make it? ({command_text(data_command)})")
    return folder


def remake_command(data_command: list, folder: Path, count: int) -> list:
    """Return the argv (after `jumpdata`) making 1 train and `count` test scenes of `data_command`'s dataset in
    `folder` on one worker: the card's options, then REMADE_OPTIONS (a later option wins in click)."""
    if not data_command or data_command[0] != "jumpdata" or "--part" in data_command:
        raise UserError(f"the card's data command is not a one-machine jumpdata generator command: "
                        f"{command_text(data_command)}")
    return [*data_command[1:], "--n", "1", "--test-n", str(count), "--workers", "1", "--out", str(folder)]


def make_scenes(holder: str, data_command: list, folder: Path, count: int) -> None:
    """Run the remake of `data_command` into `folder` in a child process (which resumes an interrupted one);
    UserError carrying the child's error line when it fails."""
    argv = remake_command(data_command, folder, count)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # cwd: the cache, so `-m cli` finds the installed module, not a cli.py in the user's folder
    done = subprocess.run([sys.executable, "-m", "cli", *argv], cwd=folder.parent, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"status {done.returncode}"]
        raise UserError(f"cannot make the test scenes of {holder} (jumpdata {' '.join(argv)}): "
                        f"{lines[-1].removeprefix('jumpdata: ')}")
