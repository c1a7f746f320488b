"""The video metrics: `min-mse` (figure 5a: forward prediction) and `speed` (section 4: time to obtain frame N).

    min_mse_per_scene   min over sampled continuations of a video's MSE
    time_to_frame_ms    wall time to obtain frame N of a video
"""

import time
import warnings

import numpy as np
import torch

from scene_shards.common import Note, UserError

from .. import names
from ..nets.blocks import frames_to_images
from .figures import REPEAT_UNITS, entry, figure
from .metric import Metric
from .sampling import copies, model_device, per_scene, sample_chunks

DEFAULT_VIDEO_CONTEXT = 5     # the first 5 frames are the context (the paper's salesman setup)
SPEED_BATCHES = (1, 16)
SPEED_REPEATS = 10
SPEED_WARMUP = 2              # untimed calls before the timed ones
VIDEOS = "videos (time viewpoints)"


def video_context(study) -> int:
    """Return the number of first frames given (--context-frames, default 5); UserError when it leaves nothing
    to predict."""
    context = study.settings.context_frames or DEFAULT_VIDEO_CONTEXT
    if context >= study.scenes.views_per_scene:
        raise UserError(f"--context-frames {context} leaves nothing to predict in videos of "
                        f"{study.scenes.views_per_scene} frames")
    study.shared("context note", lambda: note_context_beyond_training(study.runs, context))
    return context


def note_context_beyond_training(runs, context: int) -> None:
    """Warn (a Note, once per eval) about the runs that trained on fewer context views than `context`: their
    representation is a sum over the context views, so more views than they ever saw put it out of the range
    they learnt (docs/reproduce.md, "The metrics"). ar reads its context frame by frame and is left out, and so
    is a run without a training config (a hand-built model)."""
    fewer = [f"{run.path} ({run.cfg.context})" for run in runs
             if run.cfg is not None and run.kind != "ar" and run.cfg.context < context]
    if fewer:
        warnings.warn(Note(f"--context-frames {context} gives more context views than these runs trained on (at most "
                           f"--context): {', '.join(fewer)}; give --context-frames at most that, or train with "
                           f"--context {context}"))


@torch.no_grad()
def min_mse_per_scene(model, scenes, indices, context_frames: int, samples: int, seed: int = 0,
                      on_scene=None) -> np.ndarray:
    """Per video: the smallest, over `samples` sampled continuations of its first `context_frames` frames, of
    the mean squared error over all later frames (pixels in [0, 1]). Returns float64 [len(indices)].

    on_scene(): called after each video.
    """
    device = model_device(model)

    def best_continuation(i):
        frames, views = scenes.frames(i), scenes.viewpoints(i)
        truth = frames_to_images(torch.from_numpy(frames[context_frames:]).to(device))
        best = float("inf")
        for n in sample_chunks(samples):
            pred = model.sample(copies(frames[:context_frames], n, device), copies(views[:context_frames], n, device),
                                copies(views[context_frames:], n, device))
            best = min(best, float((pred.float() - truth).square().flatten(1).mean(1).min()))
        return best

    return np.array(per_scene(indices, lambda i: i, best_continuation, seed, on_scene))


@torch.no_grad()
def time_to_frame_ms(model, frames, viewpoints, context_frames: int, frame: int, batch: int, repeats: int,
                     on_repeat=None) -> np.ndarray:
    """Wall time (milliseconds) of `repeats` calls of model.sample that obtain frame number `frame` (1-based) of
    a batch of `batch` copies of one video from its first `context_frames` frames, after SPEED_WARMUP untimed
    calls. frames uint8 [V, H, W, 3], viewpoints float32 [V, D]. Returns float64 [repeats]."""
    device = model_device(model)
    ctx, ctx_views = copies(frames[:context_frames], batch, device), copies(viewpoints[:context_frames], batch, device)
    query = copies(viewpoints[frame - 1:frame], batch, device)
    finish = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    for _ in range(SPEED_WARMUP):
        model.sample(ctx, ctx_views, query)
    times = []
    for _ in range(repeats):
        finish()
        start = time.perf_counter()
        model.sample(ctx, ctx_views, query)
        finish()
        times.append((time.perf_counter() - start) * 1000.0)
        if on_repeat:
            on_repeat()
    return np.array(times)


class MinMse(Metric):
    """min-mse: per video, the best of --samples continuations of its first frames (figure 5a)."""

    name, figures, viewpoint_kind, needs, default_samples = names.MIN_MSE, ("min_mse",), "time", VIDEOS, 30

    def check(self) -> None:
        self.context = video_context(self.study)

    def units(self) -> int:
        return len(self.study.indices) * len(self.study.runs)

    def measure(self, progress) -> dict:
        entries = []
        for run in self.study.runs:
            progress.text = f"min-mse {run.path}"
            per_scene = min_mse_per_scene(run.model, self.study.scenes, self.study.indices, self.context,
                                          self.samples(), on_scene=progress.step)
            entries.append(entry(run, min_mse=figure(per_scene)))
        return {**self.header(len(self.study.indices)), names.SAMPLES: self.samples(),
                names.CONTEXT_FRAMES: self.context, names.RUNS: entries}


class Speed(Metric):
    """speed: the median time to obtain frame --frames of the first test video, per run and batch size; a jumpy
    run's speedup is over the first ar run given (section 4)."""

    name, viewpoint_kind, needs = names.SPEED, "time", VIDEOS
    figures = ("jumpy_ms", "autoregressive_ms", "speedup")

    def check(self) -> None:
        s, scenes = self.study.settings, self.study.scenes
        self.context = video_context(self.study)
        if not 1 <= s.frames <= scenes.views_per_scene or s.frames <= self.context:
            raise UserError(f"--frames {s.frames}: the videos of '{scenes.name}' have {scenes.views_per_scene} "
                            f"frames and the context is the first {self.context}; ask for a frame after the "
                            f"context (or generate longer videos: jumpdata narratives --frames {s.frames})")

    def units(self) -> int:
        return len(SPEED_BATCHES) * SPEED_REPEATS * len(self.study.runs)

    def measure(self, progress) -> dict:
        study, frame = self.study, self.study.settings.frames
        video = study.indices[0]
        frames, views = study.scenes.frames(video), study.scenes.viewpoints(video)
        times = {}
        for run in study.runs:
            progress.text = f"speed {run.path}"
            for batch in SPEED_BATCHES:
                times[run.path, batch] = time_to_frame_ms(run.model, frames, views, self.context, frame, batch,
                                                          SPEED_REPEATS, on_repeat=progress.step)
        reference = next((r for r in study.runs if r.kind == names.AUTOREGRESSIVE), None)
        entries = [self.speed_entry(run, batch, times, reference) for batch in SPEED_BATCHES for run in study.runs]
        return {**self.header(1), names.FRAMES: frame, names.CONTEXT_FRAMES: self.context,
                names.REPEATS: SPEED_REPEATS, names.DEVICE: str(model_device(study.runs[0].model)),
                names.RUNS: entries}

    @staticmethod
    def speed_entry(run, batch: int, times: dict, reference) -> dict:
        """The runs[] entry of `run` at `batch`: an ar run's own time, a jumpy run's time and its speedup over
        the `reference` ar run (when there is one). times: {(run path, batch): float64 [repeats] ms}."""
        own = figure(times[run.path, batch], np.median, units=REPEAT_UNITS)
        if run.kind == names.AUTOREGRESSIVE:
            return entry(run, autoregressive_ms=own) | {names.BATCH: batch}
        figures = {"jumpy_ms": own}
        if reference is not None:
            ar_ms = times[reference.path, batch]
            pair = np.stack([ar_ms, times[run.path, batch]], axis=1)
            figures["autoregressive_ms"] = figure(ar_ms, np.median, units=REPEAT_UNITS)
            figures["speedup"] = figure(pair, lambda v: np.median(v[:, 0]) / np.median(v[:, 1]), units=REPEAT_UNITS)
        extra = {names.REFERENCE: reference.path} if reference is not None else {}
        return entry(run, **figures) | {names.BATCH: batch, **extra}


PLUGINS = (MinMse, Speed)   # the metrics this file registers (registry.py)
