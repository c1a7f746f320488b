"""The probe metrics of `jumpdata eval`, `digit-agreement` and `story`: sampled frames read by a ground-truth probe
(jump_model/probes/nets.py).

    readable_picks        the dice selection's scenes whose hidden face the digit probe can read in every target view
    true_digits           the digit on each pick's hidden face, and what the probe reads on its true views
    sampled_digits        what the probe reads on sampled sets of views of each pick's hidden face
    agreement_per_scene   per scene: share of sets read as one digit, share of views read as the true digit
    random_floor          the same two figures for independent uniformly random classes
    true_story            per video: is the true video coherent, as the probe reads it
    sampled_story         per video: the share of sampled continuations that are coherent, as the probe reads them

Sampled numbers are functions of (seed, scene index), as in sampling.per_scene, so every model is measured on
the same draws and a rerun gives the same figures.
"""

import numpy as np
import torch

from narratives.spec import STORY_KEY
from scene_shards.common import UserError

from .. import names
from ..names import DIGIT_LABEL, FACE_LABEL
from ..probes.nets import check_probe_data, check_probe_fits, read_frames
from ..probes.story_checks import CHECKS, read_video
from .dice import MIN_QUALIFIED, PICTURE_SAMPLES, PICTURE_SCENES, dice_picks
from .figures import entry, figure, reference_entry
from .hidden_face import TARGET_VIEWS
from .metric import Metric, probe_missing
from .plots import save_digit_picture, save_story_picture
from .sampling import draw_views, model_device, per_scene
from .video import video_context

DIGIT_CLASSES = 10


def readable_picks(scenes, picks: list, face_min: float) -> list:
    """Return the HiddenFace picks (of a ShardDataset) whose hidden face is the largest face of every target view
    and covers at least `face_min` of it: the views a digit probe is trained to read."""
    kept = []
    for pick in picks:
        visible = scenes.labels(pick.scene)[FACE_LABEL][list(pick.targets)]
        if np.all(visible.argmax(axis=1) == pick.face) and np.all(visible[:, pick.face] >= face_min):
            kept.append(pick)
    return kept


def true_digits(probe, scenes, picks: list) -> tuple:
    """Return (digit int64 [N]: the class on each pick's hidden face, read int64 [N, 1, T]: the probe's reading of
    its T true target views) for N picks; `read` has the layout of sampled_digits with one set."""
    digits = np.array([scenes.labels(p.scene)[DIGIT_LABEL][p.face] for p in picks], np.int64)
    read = np.stack([read_frames(probe, scenes.frames(p.scene, list(p.targets)))[None] for p in picks])
    return digits, read


@torch.no_grad()
def sampled_digits(model, probe, scenes, picks: list, sets: int, seed: int = 0, on_scene=None,
                   keep: int = 0) -> tuple:
    """Per pick, `sets` sampled sets of its target views given its context views, read by the digit probe.

    Returns (read int64 [N, sets, T], kept): kept holds the sampled views uint8 [sets, T, H, W, 3] of the first
    `keep` picks, for pictures. on_scene(): called after each pick."""
    kept = []

    def read_sets(numbered):
        n, pick = numbered
        views = draw_views(model, scenes.frames(pick.scene), scenes.viewpoints(pick.scene), list(pick.context),
                           list(pick.targets), sets)
        if n < keep:
            kept.append(views)
        return read_frames(probe, views)

    return np.stack(per_scene(list(enumerate(picks)), lambda p: p[1].scene, read_sets, seed, on_scene)), kept


def agreement_per_scene(read: np.ndarray, digits: np.ndarray) -> tuple:
    """Return (agreement, accuracy), float64 [N] each, from readings int [N, S, T] and true digits int [N]:
    the share of a scene's S sets whose T views are all read as one class, and the share of its S x T views
    read as its true digit."""
    agreement = (read == read[..., :1]).all(axis=-1).mean(axis=-1)
    accuracy = (read == digits[:, None, None]).mean(axis=(1, 2))
    return agreement.astype(np.float64), accuracy.astype(np.float64)


def random_floor(views: int, classes: int = DIGIT_CLASSES) -> tuple:
    """Return (agreement, accuracy) of `views` independent uniformly random classes out of `classes`:
    classes x classes**-views that all agree, 1 / classes that one is right."""
    return float(classes) ** (1 - views), 1.0 / classes


def true_story(probe, scenes, indices, check, keep: int = 0) -> tuple:
    """Per video of `indices`: 1.0 if `check` (story_checks.CHECKS[story]) finds the true video coherent as the
    shape probe reads it, else 0.0. Returns (float64 [N], the read_video dicts of the first `keep` videos)."""
    out, kept = [], []
    for n, i in enumerate(indices):
        labels = scenes.labels(i)
        reading = read_video(*read_frames(probe, scenes.frames(i)), labels)
        out.append(float(check(reading, labels)))
        if n < keep:
            kept.append(reading)
    return np.array(out), kept


@torch.no_grad()
def sampled_story(model, probe, scenes, indices, context_frames: int, samples: int, check, seed: int = 0,
                  on_scene=None, keep: int = 0) -> tuple:
    """Per video: `samples` continuations of its first `context_frames` frames, each joined to the true context
    and read by the shape probe; the share of them `check` finds coherent.

    Returns (coherent float64 [N], kept): kept lists, for the first `keep` videos, (full videos uint8
    [samples, V, H, W, 3], readings [samples] of read_video dicts, verdicts bool [samples]) for pictures.
    on_scene(): called after each video."""
    kept = []

    def share_coherent(numbered):
        n, i = numbered
        frames, labels = scenes.frames(i), scenes.labels(i)
        later = draw_views(model, frames, scenes.viewpoints(i), list(range(context_frames)),
                           list(range(context_frames, len(frames))), samples)
        videos = np.concatenate([np.broadcast_to(frames[:context_frames], (samples, *frames[:context_frames].shape)),
                                 later], axis=1)
        kinds, colours = read_frames(probe, videos)
        readings = [read_video(kinds[s], colours[s], labels) for s in range(samples)]
        verdicts = np.array([check(r, labels) for r in readings])
        if n < keep:
            kept.append((videos, readings, verdicts))
        return float(verdicts.mean())

    return np.array(per_scene(list(enumerate(indices)), lambda p: p[1], share_coherent, seed, on_scene)), kept


def probe_of(study, metric) -> tuple:
    """Return the study's (ProbeConfig, network) after checking it is the probe `metric` reads with, trained on
    the study's dataset (UserError otherwise); the network is moved to the runs' device."""
    scenes = study.scenes
    if study.probe is None or study.settings.probe is None:
        raise probe_missing(metric.name, scenes.name)
    check_probe_fits(study.probe_cfg, study.settings.probe, metric.probe_kind, scenes.name, scenes.frame_shape[0])
    check_probe_data(study.probe_cfg, study.settings.probe, scenes.manifest, scenes.folder)
    study.probe.to(model_device(study.runs[0].model))
    return study.probe_cfg, study.probe


def probe_header(metric, probe_cfg) -> dict:
    """The probe metrics' settings: the probe folder and its held-out accuracy, the samples."""
    return {names.PROBE: str(metric.study.settings.probe), names.PROBE_ACCURACY: probe_cfg.test_accuracy,
            names.SAMPLES: metric.samples()}


def agreement_figures(read: np.ndarray, digits: np.ndarray) -> dict:
    """The digit-agreement figures of readings int [N, S, T] of N scenes whose true digits are int [N]."""
    agreement, accuracy = agreement_per_scene(read, digits)
    return {"agreement": figure(agreement), "accuracy": figure(accuracy)}


class DigitAgreement(Metric):
    """digit-agreement: per dice scene, sampled sets of the hidden face's views read by the digit probe; a row per
    run, then the probe on the true views (its ceiling) and independent random classes (the floor)."""

    name, figures, viewpoint_kind, probe_kind = names.DIGIT_AGREEMENT, ("agreement", "accuracy"), "camera", \
        names.DIGIT_PROBE
    labels, default_samples = (FACE_LABEL, DIGIT_LABEL), 10
    needs = f"camera scenes with the {FACE_LABEL} and {DIGIT_LABEL} labels (jumpdata dice)"
    pictures = {"digits": save_digit_picture}

    def check(self) -> None:
        picks = dice_picks(self.study)
        self.probe_cfg, self.probe = probe_of(self.study, self)
        self.readable = readable_picks(self.study.scenes, picks, self.probe_cfg.face_min)
        if len(self.readable) < MIN_QUALIFIED:
            raise UserError(
                f"only {len(self.readable)} of {len(picks)} selected test scenes of '{self.study.scenes.name}' show "
                f"their hidden face as the largest face (at least {self.probe_cfg.face_min:.0%} of the image) in "
                f"all {TARGET_VIEWS} target views (at least {MIN_QUALIFIED} needed): generate more test scenes "
                f"(--test-n)")

    def units(self) -> int:
        return len(self.readable) * len(self.study.runs)

    def measure(self, progress) -> dict:
        study, entries, self.shown = self.study, [], {}
        self.digits, self.true_read = true_digits(self.probe, study.scenes, self.readable)
        for run in study.runs:
            progress.text = f"digit-agreement {run.path}"
            read, kept = sampled_digits(run.model, self.probe, study.scenes, self.readable, self.samples(),
                                        on_scene=progress.step, keep=PICTURE_SCENES)
            entries.append(entry(run, **agreement_figures(read, self.digits)))
            self.shown[study.picture_name(run)] = (kept, read[:PICTURE_SCENES])
        entries.append(reference_entry("probe on the true views", names.TRUTH,
                                       **agreement_figures(self.true_read, self.digits)))
        floor = random_floor(TARGET_VIEWS)
        entries.append(reference_entry("random classes", names.RANDOM, agreement=(floor[0], None),
                                       accuracy=(floor[1], None)))
        return {**self.header(len(self.readable)), names.SCENES_CHECKED: len(study.indices),
                names.TARGET_VIEWS: TARGET_VIEWS, **probe_header(self, self.probe_cfg), names.RUNS: entries}

    def picture_data(self) -> dict:
        scenes = self.study.scenes
        return {"digits": [
            {"scene": p.scene, "face": p.face, "digit": int(self.digits[k]),
             "context": scenes.frames(p.scene, list(p.context)), "truth": scenes.frames(p.scene, list(p.targets)),
             "truth_read": self.true_read[k, 0],
             "samples": {name: (kept[k][:PICTURE_SAMPLES], read[k, :PICTURE_SAMPLES])
                         for name, (kept, read) in self.shown.items()}}
            for k, p in enumerate(self.readable[:PICTURE_SCENES])]}


class Story(Metric):
    """story: per video, the share of sampled continuations the story's check finds coherent as the shape probe
    reads them; then that of the true videos (the ceiling through these checks)."""

    name, figures, viewpoint_kind, probe_kind = names.STORY, ("coherent",), "time", names.SHAPE_PROBE
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
        study, check, entries, self.shown = self.study, CHECKS[self.story], [], {}
        for run in study.runs:
            progress.text = f"story {run.path}"
            coherent, kept = sampled_story(run.model, self.probe, study.scenes, study.indices, self.context,
                                           self.samples(), check, on_scene=progress.step, keep=PICTURE_SCENES)
            entries.append(entry(run, coherent=figure(coherent)))
            self.shown[study.picture_name(run)] = kept
        self.truth, self.truth_read = true_story(self.probe, study.scenes, study.indices, check, keep=PICTURE_SCENES)
        entries.append(reference_entry("probe on the true videos", names.TRUTH, coherent=figure(self.truth)))
        return {**self.header(len(study.indices)), names.STORY_NAME: self.story, names.CONTEXT_FRAMES: self.context,
                **probe_header(self, self.probe_cfg), names.RUNS: entries}

    def picture_data(self) -> dict:
        return {"story": [
            {"scene": i, "story": self.story, "context_frames": self.context, "truth": self.study.scenes.frames(i),
             "truth_read": self.truth_read[k], "truth_coherent": bool(self.truth[k]),
             "samples": {name: tuple(part[:PICTURE_SAMPLES // 2] for part in kept[k])
                         for name, kept in self.shown.items()}}
            for k, i in enumerate(self.study.indices[:PICTURE_SCENES])]}


PLUGINS = (DigitAgreement, Story)   # the metrics this file registers (registry.py)
