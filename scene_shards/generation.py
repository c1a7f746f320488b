"""The generation driver shared by all generators: plan shards, run scenes on a process pool, write, resume.

Scene `j` of split `s` is drawn from `numpy.random.default_rng([seed, SPLIT_ID[s], j])`,
so the bytes of every scene depend only on the command's settings, never on
the number of workers, the shard size, or an interruption.
"""

import multiprocessing
import os
import signal
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .common import MAX_WORKERS, UserError, one_line
from .files import TMP_MARK, sha256_of, write_json_atomic
from .lock import writing_folder
from .manifest import (MAX_SHARDS, PIXELS, SPLIT_ID, SPLITS, VIEWPOINT_NAMES, check_dataset_name, differences,
                       load_manifest, new_manifest, shard_count, shard_file_name)
from .parts import Part, as_part_manifest, load_part_manifest, lock_name, owned_shards, part_manifest_path
from .writer import ShardWriter, check_scene, encode_block

BLOCK_SCENES = 16               # most scenes per task sent to a worker
BLOCK_BYTES = 64 << 20          # most uncompressed frame bytes per task (fewer scenes per task for big scenes)
MAX_SCENE_BYTES = 64 << 20      # most uncompressed frame bytes of one scene (views x height x width x 3)
MAX_SCENES = 100_000_000        # most scenes per split
MAX_SHARD_BYTES = 4 << 30       # most bytes of one shard, frames uncompressed (it is assembled in memory: writer.py)


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
    scene i being exactly what make(rngs[i]) returns; the driver then uses it instead. `frame_encoding`
    manifest.JPEG: the scenes' frames are lists of V JPEG files, stored as they are (scene_shards/jpeg_frames.py).
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
    range_maker: Optional[Callable] = field(default=None)
    frame_encoding: str = field(default=PIXELS)


def default_workers() -> int:
    """Return the number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_test_scenes(n: int) -> int:
    """Return the default held-out scene count: 1000 like the paper, a tenth of `n` (at least 1) when `n` is small."""
    return min(1000, max(1, n // 10))


def check_sizes(spec: GeneratorSpec, n: int, test_n: int, shard_size: int, workers: int) -> None:
    """Raise UserError (one line, before anything is written) when the request is too big to run: more than
    MAX_SCENES scenes in a split, more than MAX_SHARDS shards (the file names have five digits), a scene larger
    than MAX_SCENE_BYTES, a shard whose frames (uncompressed, their most stored size), viewpoints and labels exceed
    MAX_SHARD_BYTES, more than MAX_WORKERS workers."""
    if n < 0 or test_n < 0 or n + test_n < 1 or shard_size < 1:
        raise UserError("a dataset needs at least one scene, --shard-size must be positive and --n, --test-n "
                        "not negative")
    for option, scenes in (("--n", n), ("--test-n", test_n)):
        if scenes > MAX_SCENES:
            raise UserError(f"{option} {scenes} is more than {MAX_SCENES} scenes, the most one split may hold")
    if shard_count(max(n, test_n), shard_size) > MAX_SHARDS:
        raise UserError(f"{max(n, test_n)} scenes at --shard-size {shard_size} make more than {MAX_SHARDS} shards; "
                        f"use --shard-size {-(-max(n, test_n) // MAX_SHARDS)} or more")
    scene_bytes = spec.views_per_scene * int(np.prod(spec.frame_shape))
    if scene_bytes > MAX_SCENE_BYTES:
        raise UserError(f"a scene of {spec.views_per_scene} views of {spec.frame_shape[1]}x{spec.frame_shape[0]} "
                        f"pixels takes {scene_bytes / 2**20:.0f} MiB, more than the {MAX_SCENE_BYTES >> 20} MiB "
                        f"allowed: use fewer views or a smaller --size")
    v = spec.views_per_scene * len(VIEWPOINT_NAMES[spec.viewpoint_kind]) * 4
    per_scene = scene_bytes + v + sum(np.dtype(dt).itemsize * int(np.prod(shape)) for dt, shape in spec.labels.values())
    largest = min(shard_size, max(n, test_n))   # scenes in the largest shard
    if per_scene * largest > MAX_SHARD_BYTES:
        raise UserError(f"--shard-size {shard_size}: one shard, assembled in memory, could take up to "
                        f"{per_scene * largest / 2**30:.1f} GiB; use --shard-size {MAX_SHARD_BYTES // per_scene} "
                        f"or less")
    if workers > MAX_WORKERS:
        raise UserError(f"--workers {workers} is more than {MAX_WORKERS}")


def block_scenes(spec: GeneratorSpec) -> int:
    """Return how many scenes one worker task makes: BLOCK_SCENES, fewer when that would exceed BLOCK_BYTES."""
    return max(1, min(BLOCK_SCENES, BLOCK_BYTES // (spec.views_per_scene * int(np.prod(spec.frame_shape)))))


# Per-worker state, set by the first task in each pool process (or in-process for one worker).
_WORKER = {}


def _start_worker(spec: GeneratorSpec, seed: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    _WORKER.clear()   # a worker forked after the parent built its own scene maker builds a fresh one
    _WORKER.update(spec=spec, seed=seed)


def _make_block(task) -> dict:
    """Make and encode the scenes of one task (split, first, count), consecutive scenes of one shard; returns
    writer.encode_block's block. Any error becomes a one-line UserError naming the scene, so it reaches the
    user as one line from a pool worker too (an error in a pool's initializer would instead make the pool
    restart its workers forever: the scene maker is built here)."""
    split, first, count = task
    spec, seed = _WORKER["spec"], _WORKER["seed"]
    rngs = [np.random.default_rng([seed, SPLIT_ID[split], j]) for j in range(first, first + count)]
    where = f"scene {first}" if spec.block_maker is None and spec.range_maker is None else \
        f"scenes {first}..{first + count - 1}"
    try:
        if spec.range_maker is not None:
            if "make_range" not in _WORKER:   # built once per process, by its first task
                _WORKER["make_range"] = spec.range_maker(spec.config)
            scenes = list(_WORKER["make_range"](split, first, count))
        elif spec.block_maker is not None:
            if "make_all" not in _WORKER:   # built once per process, by its first task
                _WORKER["make_all"] = spec.block_maker(spec.config)
            scenes = _WORKER["make_all"](rngs)
        else:
            if "make" not in _WORKER:
                _WORKER["make"] = spec.scene_maker(spec.config)
            scenes = []
            for j, rng in zip(range(first, first + count), rngs):
                where = f"scene {j}"
                scenes.append(_WORKER["make"](rng))
        checked = []
        for j, scene in zip(range(first, first + count), scenes):
            where = f"scene {j}"
            checked.append(check_scene(scene, spec))
        return encode_block(scenes, checked, spec.frame_encoding)
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"generating {split} {where} of '{spec.dataset}' failed: {type(e).__name__}: "
                        f"{one_line(e)}") from None


def _remove_stale_temporaries(folder: Path, names) -> None:
    """Delete the temporary files of the files `names` (this run's shards and manifest) left by killed runs (the
    caller holds the lock of those files, so no live process is writing any; other parts' are left alone)."""
    for name in names:
        for p in folder.glob(f".{name}{TMP_MARK}*"):
            p.unlink(missing_ok=True)


def _plan(manifest: dict, shard_size: int, owned: set) -> list:
    """Return the shards of `owned` still to make: (split, index, count, first_scene, scenes) in writing order."""
    todo = []
    for split in SPLITS:
        info = manifest["splits"][split]
        done = {e["file"] for e in info["shards"]}
        count = info["shard_count"]
        for k in range(count):
            first = k * shard_size
            scenes = min(shard_size, info["scenes"] - first)
            name = shard_file_name(manifest["dataset"], split, k, count)
            if name in owned and name not in done:
                todo.append((split, k, count, first, scenes))
    return todo


def _keep_intact_shards(folder: Path, old: dict, new: dict) -> None:
    """Copy into `new` the shard entries of `old` whose files exist and match their checksum."""
    for split in SPLITS:
        for entry in old["splits"][split]["shards"]:
            path = folder / entry["file"]
            if path.is_file() and sha256_of(path) == entry["sha256"]:
                new["splits"][split]["shards"].append(entry)


def _prepare_folder(folder: Path, spec: GeneratorSpec, seed: int, n: int, test_n: int, shard_size: int,
                    version: str, part: Optional[Part]) -> tuple:
    """Return (the manifest to resume from in `folder`, intact shards of an earlier run kept, written there; its
    path; the shard files this run owns). For a `part` the manifest is that part's (scene_shards.parts).

    Raises UserError if `folder` holds shards of a dataset (or part) of the same name made with other settings
    (a manifest of other settings that lists no shard yet is simply replaced). The caller holds the lock.
    """
    manifest = new_manifest(spec, seed, {"train": n, "test": test_n}, shard_size, version)
    if part is not None:
        manifest = as_part_manifest(manifest, part)
    path = part_manifest_path(folder, spec.dataset, part)
    if path.exists():
        old = load_manifest(path) if part is None else load_part_manifest(path)[1]
        changed = differences(old, manifest)
        if changed and any(old["splits"][s]["shards"] for s in SPLITS):
            raise UserError(f"{path} holds '{spec.dataset}' made with other settings ({', '.join(changed)}); "
                            f"use another --out or --name, or delete that dataset's files first")
        if not changed:
            _keep_intact_shards(folder, old, manifest)
    owned = owned_shards(manifest, part)
    _remove_stale_temporaries(folder, sorted(owned) + [path.name])
    write_json_atomic(path, manifest)
    return manifest, path, owned


def generate_dataset(spec: GeneratorSpec, out, n: int, test_n: int, seed: int = 0, workers: Optional[int] = None,
                     shard_size: int = 1000, on_progress: Optional[Callable] = None, version: str = "0",
                     part: Optional[Part] = None) -> dict:
    """Generate (or finish) a dataset in folder `out`, or only its shards that `part` owns; return the final
    manifest (dict; a part manifest for a part, which `jumpdata merge` joins into the dataset's).

    Shards already complete and intact are kept. `on_progress(done, total)` is
    called as scenes are written. On KeyboardInterrupt the pool is stopped,
    unfinished shards are deleted and the interrupt is re-raised; the manifest
    then lists exactly the complete shards.
    """
    workers = workers or default_workers()
    check_dataset_name(spec.dataset)
    check_sizes(spec, n, test_n, shard_size, workers)
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder} is a file, not a folder")
    what = f"generating {'' if part is None else f'part {part} of '}dataset '{spec.dataset}'"
    with writing_folder(folder, lock_name(spec.dataset, part), what):
        manifest, path, owned = _prepare_folder(folder, spec, seed, n, test_n, shard_size, version, part)
        _run(spec, folder, manifest, path, _plan(manifest, shard_size, owned), seed, workers, on_progress)
    return manifest


SIGNAL_POLL_S = 0.1   # the longest the main thread waits for a pool result before it looks for a Ctrl-C


@contextmanager
def _interrupts_held():
    """Run the block with Ctrl-C (SIGINT) held back: one that comes during it takes effect when it ends (as the
    handler in place before would have taken it). Only in the main thread, the one Python signals reach."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught and callable(previous):
        previous(signal.SIGINT, caught[0])
    elif caught and previous == signal.SIG_DFL:
        raise KeyboardInterrupt


def _ordered_blocks(tasks, pool, window: int):
    """Yield the blocks of `tasks` in order, made by the `pool` and by this process: up to `window` tasks wait
    in the pool; whenever the next block in order is not ready yet, this process makes the next task itself
    (holding at most `window` such blocks), instead of waiting idle beside the pool's workers. An error is
    raised when its task's turn comes, so the first failing scene in order is the one reported."""
    pending = deque()   # in task order: the pool's AsyncResults and the blocks made here
    tasks = iter(tasks)
    in_pool = made_here = 0
    while True:
        while in_pool < window and (task := next(tasks, None)) is not None:
            pending.append(pool.apply_async(_make_block, (task,)))
            in_pool += 1
        if not pending:
            return
        head = pending[0]
        if isinstance(head, AsyncResult) and not head.ready() and made_here < window:
            task = next(tasks, None)
            if task is not None:
                try:
                    pending.append(_make_block(task))
                except UserError as e:
                    pending.append(e)
                made_here += 1
                continue
        pending.popleft()
        if isinstance(head, AsyncResult):
            in_pool -= 1
            while not head.ready():
                # timed: a Ctrl-C that the kernel hands to one of the pool's threads only marks the signal, which
                # the main thread takes when it next runs Python code; an untimed wait would never let it
                head.wait(SIGNAL_POLL_S)
            yield head.get()
        else:
            made_here -= 1
            if isinstance(head, UserError):
                raise head
            yield head


def _run(spec: GeneratorSpec, folder: Path, manifest: dict, path: Path, todo: list, seed: int, workers: int,
         on_progress) -> None:
    """Make the shards `todo` (see _plan) on `workers` processes, adding each to `manifest` when complete and
    rewriting it at `path`."""
    step = block_scenes(spec)
    tasks = ((split, first + b, min(step, scenes - b))
             for split, _, _, first, scenes in todo for b in range(0, scenes, step))
    total = sum(t[4] for t in todo)
    task_count = sum(-(-t[4] // step) for t in todo)
    done = 0
    if on_progress:
        on_progress(0, total)
    pool = None
    writer = None
    try:
        if workers > 1 and task_count > 1:
            ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
            pool = ctx.Pool(min(workers, task_count) - 1, initializer=_start_worker, initargs=(spec, seed))
        _WORKER.update(spec=spec, seed=seed)   # after the fork: this process makes scenes too
        results = map(_make_block, tasks) if pool is None else _ordered_blocks(tasks, pool, 2 * workers)
        shards = iter(todo)
        for block in results:   # tasks never span two shards
            if writer is None:
                split, k, count, first, scenes = next(shards)
                with _interrupts_held():   # a temporary file created is one `writer` names, to abandon
                    writer = ShardWriter(folder, shard_file_name(spec.dataset, split, k, count), spec, split, k,
                                         count, first, scenes)
            writer.add(block)
            if writer.written == writer.scenes:
                with _interrupts_held():   # a shard renamed into place is listed before Ctrl-C lands
                    entries = manifest["splits"][writer.split]["shards"]
                    entries.append(writer.finish())
                    writer = None
                    entries.sort(key=lambda e: e["first_scene"])
                    write_json_atomic(path, manifest)
            done += len(block["frames"])
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
