"""Tiny datasets for the model tests: a square moving across a 16x16 (or 32x32) frame, time or camera viewpoints."""

import json
import os
import sys

import numpy as np

from jump_model.config import DataFacts, new_run_config
from jump_model.run_folder import plan_run
from scene_shards import GeneratorSpec, generate_dataset


def make_moving_square(config):
    """Return make(rng) -> a scene where a coloured 4x4 square moves in a straight line over `views` frames.

    camera kind: the viewpoint is a fake pose (x, y, z, yaw, pitch) whose x is the frame index.
    """
    views, size, kind = config["views"], config["size"], config["kind"]

    def make(rng):
        start, end = rng.integers(0, size - 4, size=(2, 2))
        colour = rng.integers(80, 256, size=3).astype(np.uint8)
        frames = np.zeros((views, size, size, 3), np.uint8)
        for t in range(views):
            x, y = np.round(start + (end - start) * t / (views - 1)).astype(int)
            frames[t, y:y + 4, x:x + 4] = colour
        index = np.arange(views, dtype=np.float32)[:, None]
        if kind == "time":
            viewpoints = index
        else:
            viewpoints = np.concatenate([index, np.ones((views, 2), np.float32), 0.1 * index, 0.05 * index], 1)
        return {"frames": frames, "viewpoints": viewpoints.astype(np.float32),
                "labels": {"start": start.astype(np.int16)}}

    return make


def make_square_dataset(folder, kind="time", size=16, views=6, n=24, test_n=8, name="squares", generator="test"):
    """Write the moving-square dataset into `folder` (manifest "generator": `generator`); returns the manifest."""
    spec = GeneratorSpec(dataset=name, generator=generator, config={"views": views, "size": size, "kind": kind},
                         frame_shape=(size, size, 3), views_per_scene=views, viewpoint_kind=kind,
                         labels={"start": ("int16", (2,))}, scene_maker=make_moving_square)
    return generate_dataset(spec, folder, n=n, test_n=test_n, seed=0, workers=1, shard_size=16)


def facts(viewpoint_kind="time", size=16, views=6, generator="test") -> DataFacts:
    """Return the DataFacts of a made-up dataset of `views` views of size x size per scene (no files)."""
    return DataFacts(dataset="squares", generator=generator, data_dir="/nowhere", manifest="/nowhere/squares.json",
                     image_size=size, views_per_scene=views, viewpoint_kind=viewpoint_kind, position_scale=1.0)


def model_config(viewpoint_kind="time", model="jump", preset="tiny", size=16, views=6, **options):
    """Return the ModelConfig of `preset` and `model` for frames of size x size and `views` views per scene."""
    return new_run_config(facts(viewpoint_kind, size, views), preset, model=model, **options).model


FAST = dict(batch_size=4, log_every=1, eval_every=6, sample_every=6, checkpoint_every=3, eval_scenes=4,
            workers=0)   # a training run's settings in the model tests: every line logged, often saved


def fast_config(data, steps, **changes):
    """Return the RunConfig of a new tiny run of `steps` steps on the dataset in `data`, FAST's settings and
    `changes` applied."""
    return plan_run(data, preset="tiny", steps=steps, **dict(FAST, **changes))


def resumed_config(data, run, **changes):
    """Return the RunConfig that resumes run folder `run` on the data in `data` with `changes` (e.g. steps)."""
    return plan_run(data, run, resume=True, **changes)


def logged_losses(run) -> list:
    """Return the `loss` of every line of a run folder's metrics.jsonl."""
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def exit_without_teardown() -> None:
    """End a spawned DDP test worker whose results are written: leave at once (os._exit(0)) instead of through
    the interpreter's finalization. There torch's C++ threads can still try to take the GIL and abort a process
    whose work is done ("terminate called without an active exception", SIGABRT; seen once in CI on the
    Ctrl-C test, pytorch/pytorch#179291 describes the class); the tests check the training, not torch's exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
