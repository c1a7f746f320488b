"""Benchmark: reading scenes, against plain h5py in the same run, and the DataLoader's rate at the presets.

    .venv/bin/python bench/read.py [--scenes 2000] [--dice-scenes 400] [--reads 3000] [--repeats 3]
                                   [--batches 30] [--workers 1,2,8]

Writes a 64x64 salesman set (21 views) and a 64x64 dice set (10 views) into a temporary folder, then:

1. Random-scene reads in one process: the frames and viewpoints of the same random scenes, read by
   `scene_shards.open_dataset` (read_direct_chunk + ISA-L inflate, viewpoints read once per shard) and by
   plain h5py, the way one writes it by hand (every shard opened once, `f["frames"][row]` and
   `f["viewpoints"][row]`, HDF5's own gzip filter, default chunk cache). The two alternate `--repeats`
   times; the fastest of each counts, as other jobs may share the machine.
2. Training batches through jump_model.data (SceneViews + make_loader, as `jumpdata train` builds them) at
   each preset's batch size, context and targets, with 1, 2 and 8 loader worker processes: scenes/s and
   batches/s after a warm-up. A GPU that trains at up to that many steps/s at the preset never waits for
   data; beyond it, the loader is the limit.
"""
import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import torch

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dice3d import make_spec as dice_spec  # noqa: E402
from jump_model.config import PRESETS, RunConfig  # noqa: E402
from jump_model.data import SceneViews, StepSampler, make_loader  # noqa: E402
from narratives import make_spec as narratives_spec  # noqa: E402
from scene_shards import generate_dataset, open_dataset  # noqa: E402


def plain_h5py_reads(folder, dataset, picks):
    """Read frames and viewpoints of scenes `picks` with plain h5py; return (seconds, checksum of the frames)."""
    ds = open_dataset(folder, dataset)   # only for the file list and each shard's first scene
    files = [h5py.File(path, "r") for path in ds.files]
    starts = np.asarray(ds.starts)
    total = 0
    start = time.perf_counter()
    for i in picks:
        k = int(np.searchsorted(starts, i, side="right")) - 1
        frames, views = files[k]["frames"][i - starts[k]], files[k]["viewpoints"][i - starts[k]]
        total += int(frames[0, 0, 0, 0]) + int(views[0, 0])
    seconds = time.perf_counter() - start
    for f in files:
        f.close()
    return seconds, total


def our_reads(folder, dataset, picks):
    """Read frames and viewpoints of scenes `picks` through open_dataset; return (seconds, checksum)."""
    ds = open_dataset(folder, dataset)
    ds.check_shards()   # as training does before its first step: every shard opened once
    total = 0
    start = time.perf_counter()
    for i in picks:
        frames, views = ds.frames(int(i)), ds.viewpoints(int(i))
        total += int(frames[0, 0, 0, 0]) + int(views[0, 0])
    seconds = time.perf_counter() - start
    ds.close()
    return seconds, total


def preset_batch(preset):
    """Return (batch size, most context views, most target views) of training preset `preset`."""
    settings = {**RunConfig().__dict__, **PRESETS[preset]}
    return settings["batch_size"], settings["context"], settings["targets"]


def loader_rate(folder, dataset, preset, workers, batches):
    """Return (scenes/s, batches/s) of training batches of `preset` from `dataset` with `workers` loader workers,
    timed over `batches` batches after as many warm-up batches as it takes to start every worker."""
    batch, context, targets = preset_batch(preset)
    scenes = open_dataset(folder, dataset)
    context, targets = min(context, scenes.views_per_scene - 1), min(targets, scenes.views_per_scene - 1)
    examples = SceneViews(scenes, context, targets, seed=0, shuffle=True)
    loader = iter(make_loader(examples, StepSampler(0, batch), batch, workers, torch.device("cpu")))
    for _ in range(2 * max(workers, 1)):
        next(loader)
    start = time.perf_counter()
    for _ in range(batches):
        next(loader)
    seconds = time.perf_counter() - start
    del loader
    return batches * batch / seconds, batches / seconds


def make_sets(folder, scenes, dice_scenes):
    """Write the salesman and dice sets into `folder` (all cores); return their names."""
    generate_dataset(narratives_spec("salesman", None, 64, None), folder, n=scenes, test_n=0, seed=0)
    generate_dataset(dice_spec(digits=100, views=10, size=64), folder, n=dice_scenes, test_n=0, seed=0)
    return "salesman", "dice"


def main():
    """Print random-read rates (ours and plain h5py, their ratio) and the DataLoader's rates at the presets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=2000, help="salesman scenes written (1000 per shard)")
    parser.add_argument("--dice-scenes", type=int, default=400, help="dice scenes written")
    parser.add_argument("--reads", type=int, default=3000, help="random scenes read per timed pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, default=30, help="timed batches per loader run")
    parser.add_argument("--workers", default="1,2,8", help="loader worker counts")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # 8 loader workers on a smaller machine are asked for on purpose; torch's advice against it is known
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    print(f"{len(os.sched_getaffinity(0))} cores; 64x64 frames; best of {args.repeats} passes of {args.reads} "
          f"random scenes each")
    with tempfile.TemporaryDirectory() as tmp:
        salesman, dice = make_sets(tmp, args.scenes, args.dice_scenes)
        for name, views in ((salesman, 21), (dice, 10)):
            size = len(open_dataset(tmp, name))
            picks = np.random.default_rng(1).integers(0, size, args.reads)
            plain, ours = [], []
            for _ in range(args.repeats):
                plain.append(plain_h5py_reads(tmp, name, picks))
                ours.append(our_reads(tmp, name, picks))
            assert {c for _, c in plain} == {c for _, c in ours}, "the two readers disagree"
            plain_s, ours_s = min(s for s, _ in plain), min(s for s, _ in ours)
            mb = args.reads * views * 64 * 64 * 3 / 1e6
            print(f"{name} ({size} scenes, {views} views): open_dataset {args.reads / ours_s:7.0f} scenes/s "
                  f"({mb / ours_s:5.0f} MB/s), plain h5py {args.reads / plain_s:7.0f} scenes/s "
                  f"({mb / plain_s:5.0f} MB/s): {plain_s / ours_s:.2f}x")
        for name, preset in ((salesman, "salesman"), (dice, "dice")):
            batch, context, targets = preset_batch(preset)
            for workers in (int(w) for w in args.workers.split(",")):
                scenes_s, batches_s = loader_rate(tmp, name, preset, workers, args.batches)
                print(f"preset {preset} (batch {batch}, context {context}, targets {targets}), {workers} loader "
                      f"workers: {scenes_s:7.0f} scenes/s = "
                      f"{batches_s:6.1f} batches/s, enough for a GPU at up to {batches_s:.1f} steps/s")


if __name__ == "__main__":
    main()
