"""`story` (docs/probes.md): sampled continuations of narrative videos read by the shape probe and judged
against their story (probes/story_checks.py): `coherent` (the whole story told) and its graded parts.

    true_story      per video: the true video's verdict and graded parts, as the probe reads it
    sampled_story   per video: the share of sampled continuations that are coherent, and the mean of each part
"""

import numpy as np
import torch

from narratives.spec import STORY_KEY
from scene_shards.common import UserError

from .. import names
from ..probes.nets import read_frames
from ..probes.story_checks import CHECKS, GRADES, read_video
from .dice import PICTURE_SAMPLES, PICTURE_SCENES
from .figures import entry, figure, reference_entry
from .metric import Metric
from .plots import save_story_picture
from .probe_metrics import probe_header, probe_of
from .sampling import draw_views, per_scene
from .video import video_context

COHERENT = "coherent"


def judged(reading: dict, labels: dict, story: str, context: int) -> dict:
    """Return {"coherent": 0.0 or 1.0, each graded part of `story`: a share} of one read video."""
    return {COHERENT: float(CHECKS[story](reading, labels)), **GRADES[story](reading, labels, context)}


def columns(rows: list) -> dict:
    """[{name: float}] per video -> {name: float64 [videos]}."""
    return {name: np.array([r[name] for r in rows], np.float64) for name in rows[0]}


def true_story(probe, scenes, indices, story: str, context: int, keep: int = 0) -> tuple:
    """Per video of `indices`: the true video judged as the shape probe reads it (the graded parts from frame
    `context` on). Returns ({name: float64 [N]}, the read_video dicts of the first `keep` videos)."""
    rows, kept = [], []
    for n, i in enumerate(indices):
        labels = scenes.labels(i)
        reading = read_video(*read_frames(probe, scenes.frames(i)), labels)
        rows.append(judged(reading, labels, story, context))
        if n < keep:
            kept.append(reading)
    return columns(rows), kept


@torch.no_grad()
def sampled_story(model, probe, scenes, indices, context_frames: int, samples: int, story: str, seed: int = 0,
                  on_scene=None, keep: int = 0) -> tuple:
    """Per video: `samples` continuations of its first `context_frames` frames, each joined to the true context,
    read by the shape probe and judged; per video the mean over its continuations of each judgement.

    Returns ({"coherent", parts...: float64 [N]}, kept): kept lists, for the first `keep` videos, (full videos
    uint8 [samples, V, H, W, 3], readings [samples] of read_video dicts, verdicts bool [samples]) for pictures.
    on_scene(): called after each video."""
    kept = []

    def judge_continuations(numbered):
        n, i = numbered
        frames, labels = scenes.frames(i), scenes.labels(i)
        later = draw_views(model, frames, scenes.viewpoints(i), list(range(context_frames)),
                           list(range(context_frames, len(frames))), samples)
        videos = np.concatenate([np.broadcast_to(frames[:context_frames], (samples, *frames[:context_frames].shape)),
                                 later], axis=1)
        kinds, colours = read_frames(probe, videos)
        readings = [read_video(kinds[s], colours[s], labels) for s in range(samples)]
        rows = columns([judged(r, labels, story, context_frames) for r in readings])
        if n < keep:
            kept.append((videos, readings, rows[COHERENT].astype(bool)))
        return {name: float(values.mean()) for name, values in rows.items()}

    return columns(per_scene(list(enumerate(indices)), lambda p: p[1], judge_continuations, seed, on_scene)), kept


class Story(Metric):
    """story: per video, the share of sampled continuations the story's check finds coherent as the shape probe
    reads them, and the graded parts; then those of the true videos (the ceiling through these checks)."""

    name, viewpoint_kind, probe_kind = names.STORY, "time", names.SHAPE_PROBE
    figures = (COHERENT, "resting_kept", "actor_present", "arrivals", "visited", "reached", "changed_once")
    labels, default_samples, needs = (names.POSITION_LABEL,), 10, "narrative videos (jumpdata narratives)"
    pictures = {"story": save_story_picture}

    def check(self) -> None:
        scenes = self.study.scenes
        self.context = video_context(self.study)
        self.probe_cfg, self.probe = probe_of(self.study, self)
        self.story = scenes.manifest.get("config", {}).get(STORY_KEY)
        if self.story not in CHECKS:
            raise UserError(f"metric story has no check for the story of '{scenes.name}' ({self.story}); it checks "
                            f"{', '.join(CHECKS)}")

    def units(self) -> int:
        return len(self.study.indices) * len(self.study.runs)

    def measure(self, progress) -> dict:
        study, entries, self.shown = self.study, [], {}
        for run in study.runs:
            progress.text = f"story {run.path}"
            shares, kept = sampled_story(run.model, self.probe, study.scenes, study.indices, self.context,
                                         self.samples(), self.story, on_scene=progress.step, keep=PICTURE_SCENES)
            entries.append(entry(run, **{k: figure(v) for k, v in shares.items()}))
            self.shown[study.picture_name(run)] = kept
        self.truth, self.truth_read = true_story(self.probe, study.scenes, study.indices, self.story, self.context,
                                                 keep=PICTURE_SCENES)
        entries.append(reference_entry("probe on the true videos", names.TRUTH,
                                       **{k: figure(v) for k, v in self.truth.items()}))
        return {**self.header(len(study.indices)), names.STORY_NAME: self.story, names.CONTEXT_FRAMES: self.context,
                **probe_header(self, self.probe_cfg), names.RUNS: entries}

    def picture_data(self) -> dict:
        return {"story": [
            {"scene": i, "story": self.story, "context_frames": self.context, "truth": self.study.scenes.frames(i),
             "truth_read": self.truth_read[k], "truth_coherent": bool(self.truth[COHERENT][k]),
             "samples": {name: tuple(part[:PICTURE_SAMPLES // 2] for part in kept[k])
                         for name, kept in self.shown.items()}}
            for k, i in enumerate(self.study.indices[:PICTURE_SCENES])]}


PLUGINS = (Story,)   # the metrics this file registers (registry.py)
