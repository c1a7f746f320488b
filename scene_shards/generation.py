"""The generation driver shared by all generators: plan shards, run scenes on a process pool, write, resume.

Scene `j` of split `s` is drawn from `numpy.random.default_rng([seed, SPLIT_ID[s], j])`,
so the bytes of every scene depend only on the command's settings, never on
the number of workers, the shard size, or an interruption.
"""

import multiprocessing
import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .common import UserError
from .files import TMP_MARK, sha256_of, write_json_atomic
from .manifest import SPLIT_ID, SPLITS, differences, load_manifest, manifest_path, new_manifest, shard_file_name
from .writer import ShardWriter, encode_scene

BLOCK_SCENES = 16  # scenes per task sent to a worker
DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


@dataclass
class GeneratorSpec:
    """Everything the driver needs to know about a generator (plain data plus one factory).

    `scene_maker(config)` is called once per worker process and returns a
    callable `make(rng) -> scene`, a scene being {"frames": uint8 [V,H,W,3],
    "viewpoints": float32 [V,D], "labels": {name: array}}. `labels` maps a
    label name to (dtype name, per-scene shape). `viewpoint_kind` is a key of
    manifest.VIEWPOINT_NAMES, which names the columns of the viewpoints. `extra_datasets` maps an HDF5
    path to an array written once into every shard (e.g. a digit bank). A generator that draws many
    scenes faster together may give `block_maker(config)`, returning `make_all(rngs) -> [scene, ...]`,
    scene i being exactly what make(rngs[i]) returns; the driver then uses it instead.
    """

    dataset: str
    generator: str
    config: dict
    frame_shape: tuple
    views_per_scene: int
    viewpoint_kind: str
    labels: dict
    scene_maker: Callable
    extra_datasets: Optional[dict] = field(default=None)
    block_maker: Optional[Callable] = field(default=None)


def default_workers() -> int:
    """Return the number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_test_scenes(n: int) -> int:
    """Return the default held-out scene count: 1000 like the paper, a tenth of `n` (at least 1) when `n` is small."""
    return min(1000, max(1, n // 10))


# Per-worker state, set by _start_worker in each pool process (or in-process for one worker).
_WORKER = {}


def _start_worker(spec: GeneratorSpec, seed: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    _begin(spec, seed)


def _begin(spec: GeneratorSpec, seed: int) -> None:
    if spec.block_maker is not None:
        make_all = spec.block_maker(spec.config)
    else:
        make = spec.scene_maker(spec.config)
        make_all = lambda rngs: [make(rng) for rng in rngs]  # noqa: E731
    _WORKER.update(spec=spec, seed=seed, make_all=make_all)


def _make_block(task) -> list:
    split, first, count = task
    spec, seed, make_all = _WORKER["spec"], _WORKER["seed"], _WORKER["make_all"]
    rngs = [np.random.default_rng([seed, SPLIT_ID[split], j]) for j in range(first, first + count)]
    return [encode_scene(scene, spec) for scene in make_all(rngs)]


def _remove_stale_temporaries(folder: Path, dataset: str) -> None:
    """Delete the temporary files of `dataset` left by killed runs (those of live processes are kept)."""
    patterns = [f".{dataset}-{split}-*.h5{TMP_MARK}*" for split in SPLITS] + [f".{dataset}.json{TMP_MARK}*"]
    for p in (p for pattern in patterns for p in folder.glob(pattern)):
        pid = p.name.rpartition(TMP_MARK)[2]
        if not (pid.isdigit() and int(pid) != os.getpid() and _process_alive(int(pid))):
            p.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


def _plan(manifest: dict, shard_size: int) -> list:
    """Return the shards still to make: (split, index, count, first_scene, scenes) in writing order."""
    todo = []
    for split in SPLITS:
        info = manifest["splits"][split]
        done = {e["file"] for e in info["shards"]}
        count = info["shard_count"]
        for k in range(count):
            first = k * shard_size
            scenes = min(shard_size, info["scenes"] - first)
            if shard_file_name(manifest["dataset"], split, k, count) not in done:
                todo.append((split, k, count, first, scenes))
    return todo


def _keep_intact_shards(folder: Path, old: dict, new: dict) -> None:
    """Copy into `new` the shard entries of `old` whose files exist and match their checksum."""
    for split in SPLITS:
        for entry in old["splits"][split]["shards"]:
            path = folder / entry["file"]
            if path.is_file() and sha256_of(path) == entry["sha256"]:
                new["splits"][split]["shards"].append(entry)


def prepare_folder(out, spec: GeneratorSpec, seed: int, n: int, test_n: int, shard_size: int,
                   version: str) -> dict:
    """Create `out` if needed and return the manifest to resume from (intact shards of an earlier run kept).

    Raises UserError if `out` is a file, or holds shards of a dataset of the same name made with other
    settings (a manifest of other settings that lists no shard yet is simply replaced).
    """
    if not DATASET_NAME.fullmatch(spec.dataset):
        raise UserError(f"dataset name '{spec.dataset}' is not allowed: use letters, digits, '_', '.' and '-' "
                        f"(starting with a letter or digit)")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = new_manifest(spec, seed, {"train": n, "test": test_n}, shard_size, version)
    path = manifest_path(folder, spec.dataset)
    if path.exists():
        old = load_manifest(path)
        changed = differences(old, manifest)
        if changed and any(old["splits"][s]["shards"] for s in SPLITS):
            raise UserError(f"{path} holds '{spec.dataset}' made with other settings ({', '.join(changed)}); "
                            f"use another --out or --name, or delete that dataset's files first")
        if not changed:
            _keep_intact_shards(folder, old, manifest)
    _remove_stale_temporaries(folder, spec.dataset)
    write_json_atomic(path, manifest)
    return manifest


def generate_dataset(spec: GeneratorSpec, out, n: int, test_n: int, seed: int = 0, workers: Optional[int] = None,
                     shard_size: int = 1000, on_progress: Optional[Callable] = None, version: str = "0") -> dict:
    """Generate (or finish) a dataset in folder `out`; return its final manifest (dict).

    Shards already complete and intact are kept. `on_progress(done, total)` is
    called as scenes are written. On KeyboardInterrupt the pool is stopped,
    unfinished shards are deleted and the interrupt is re-raised; the manifest
    then lists exactly the complete shards.
    """
    if n < 1 or test_n < 0 or shard_size < 1:
        raise UserError("--n and --shard-size must be positive and --test-n not negative")
    workers = workers or default_workers()
    folder = Path(out)
    manifest = prepare_folder(folder, spec, seed, n, test_n, shard_size, version)
    todo = _plan(manifest, shard_size)
    tasks = [(split, first + b, min(BLOCK_SCENES, scenes - b))
             for split, _, _, first, scenes in todo for b in range(0, scenes, BLOCK_SCENES)]
    total = sum(t[2] for t in tasks)
    done = 0
    if on_progress:
        on_progress(0, total)
    pool = None
    writer = None
    try:
        if workers > 1 and len(tasks) > 1:
            ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
            pool = ctx.Pool(min(workers, len(tasks)), initializer=_start_worker, initargs=(spec, seed))
            results = pool.imap(_make_block, tasks)
        else:
            _begin(spec, seed)
            results = map(_make_block, tasks)
        shards = iter(todo)
        for encoded in results:
            for scene in encoded:
                if writer is None:
                    split, k, count, first, scenes = next(shards)
                    writer = ShardWriter(folder, shard_file_name(spec.dataset, split, k, count), spec, split, k,
                                         count, first, scenes)
                writer.add(scene)
                if writer.written == writer.scenes:
                    entries = manifest["splits"][writer.split]["shards"]
                    entries.append(writer.finish())
                    writer = None
                    entries.sort(key=lambda e: e["first_scene"])
                    write_json_atomic(manifest_path(folder, spec.dataset), manifest)
            done += len(encoded)
            if on_progress:
                on_progress(done, total)
    except BaseException:
        if pool is not None:
            pool.terminate()
        if writer is not None:
            writer.abandon()
        raise
    finally:
        _WORKER.clear()
        if pool is not None:
            pool.close()
            pool.join()
    return manifest
