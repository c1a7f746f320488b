"""`digit-agreement` (docs/probes.md): sampled views of a dice scene read by the digit probe.

Per scene of the dice selection whose hidden face H the probe can read in every target view, S sampled sets of
the T target views (and of one more view of a face the context does show, where the scene has one):

    agreement         share of the S sets whose T views are read as one digit
    cross_agreement   the same for S triples of views taken from T different sets (set k's view 1, set k+1's
                      view 2, ...): a blur scores high on both, a consistent and diverse model on the first only,
                      a model that samples each view independently the same on both
    consistency_gain  agreement - cross_agreement, per scene
    diversity         distinct digits read on one view over the S sets, minus one, over min(S, 10) - 1; mean over
                      the T views: 0 when every set shows the same digit
    accuracy          share of the S x T views read as the digit truly on H: at chance (0.1) for any model, the
                      truth included, since H's digit is drawn independently of the faces the context shows
    seen_accuracy     share of the S samples of the seen view read as the digit on its face: rendering quality,
                      the truth row is its ceiling

    readable_picks    the dice selection's scenes with three views of the hidden face the probe reads
    seen_view         per scene: a view, outside the context, whose largest face is one the context shows
"""

from dataclasses import replace

import numpy as np
import torch

from scene_shards.common import UserError

from .. import names
from ..names import DIGIT_LABEL, FACE_LABEL, ORIENTATION_LABEL
from ..probes.nets import read_frames
from .dice import MIN_QUALIFIED, PICTURE_SCENES, PICTURE_SAMPLES, dice_picks
from .figures import entry, exact, figure, reference_entry
from .hidden_face import TARGET_VIEWS, side_faces
from .metric import Metric
from .plots import save_digit_picture
from .probe_metrics import probe_header, probe_of
from .sampling import draw_views, per_scene

DIGIT_CLASSES = 10
SET_FIGURES = ("agreement", "cross_agreement", "consistency_gain", "diversity")   # need S >= T sets


def readable_picks(scenes, picks: list, face_min: float) -> list:
    """Return the HiddenFace picks (of a ShardDataset) with TARGET_VIEWS views, outside their context, in which
    the hidden face is the largest face and covers at least `face_min`: the views a digit probe is trained to
    read. Those views (the most of the face first) replace the pick's targets (new_area and new_walls, which
    describe the consistency targets, become NaN); picks with fewer are left out."""
    kept = []
    for pick in picks:
        visible = scenes.labels(pick.scene)[FACE_LABEL]
        views = [int(v) for v in np.argsort(-visible[:, pick.face], kind="stable") if v not in pick.context
                 and visible[v].argmax() == pick.face and visible[v, pick.face] >= face_min][:TARGET_VIEWS]
        if len(views) == TARGET_VIEWS:
            kept.append(replace(pick, targets=tuple(views), new_area=float("nan"), new_walls=float("nan")))
    return kept


def seen_view(labels: dict, pick, face_min: float):
    """Return (view, face) for one pick: the view outside the context whose largest face is a side face other
    than the hidden one, covering at least `face_min` of it, that some context view shows at least as large
    (so its digit is in the context); the largest such. None when the scene has none."""
    visible = np.asarray(labels[FACE_LABEL], np.float64)
    in_context = visible[list(pick.context)].max(axis=0)
    sides = side_faces(labels[ORIENTATION_LABEL])
    best = None
    for v in range(len(visible)):
        face = int(visible[v].argmax())
        if v in pick.context or face == pick.face or face not in sides:
            continue
        if visible[v, face] >= face_min and in_context[face] >= face_min and \
                (best is None or visible[v, face] > visible[best[0], best[1]]):
            best = (v, face)
    return best


def set_figures(read: np.ndarray) -> dict:
    """The per-scene set figures of readings int [N, S, T] (S >= T): {name: float64 [N]} for SET_FIGURES."""
    sets, views = read.shape[1:]
    agreement = set_agreement(read)
    shifted = np.stack([np.roll(read[:, :, t], -t, axis=1) for t in range(views)], axis=-1)   # set k+t's view t
    cross = (shifted == shifted[..., :1]).all(axis=-1).mean(axis=-1)
    distinct = np.array([[len(np.unique(read[n, :, t])) for t in range(views)] for n in range(len(read))])
    diversity = ((distinct - 1) / (min(sets, DIGIT_CLASSES) - 1)).mean(axis=1)
    return {"agreement": agreement, "cross_agreement": cross, "consistency_gain": agreement - cross,
            "diversity": diversity}


def accuracy(read: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Per scene the share of its readings int [N, ...] equal to its digit int [N]: float64 [N]."""
    return (read.reshape(len(read), -1) == digits[:, None]).mean(axis=1).astype(np.float64)


def random_floor(sets: int, views: int = TARGET_VIEWS, classes: int = DIGIT_CLASSES) -> dict:
    """The figures of independent uniformly random classes, exactly: agreement and cross_agreement
    classes^(1 - views), gain 0, diversity E[distinct of `sets` draws - 1] / (min(sets, classes) - 1), both
    accuracies 1 / classes."""
    agree = float(classes) ** (1 - views)
    distinct = classes * (1 - (1 - 1 / classes) ** sets)
    return {"agreement": agree, "cross_agreement": agree, "consistency_gain": 0.0,
            "diversity": (distinct - 1) / (min(sets, classes) - 1), "accuracy": 1 / classes,
            "seen_accuracy": 1 / classes}


def figures_of(read: np.ndarray, digits: np.ndarray, seen_read: list, seen_digits: np.ndarray) -> dict:
    """The Figures of readings int [N, S, T] of N scenes with true digits int [N], and of their seen views
    (seen_read: per scene int [S] or None; seen_digits int [N], -1 where none)."""
    has = [k for k, r in enumerate(seen_read) if r is not None]
    out = {"accuracy": figure(accuracy(read, digits))}
    if read.shape[1] >= read.shape[2]:
        out.update({name: figure(values) for name, values in set_figures(read).items()})
    if has:
        out["seen_accuracy"] = figure(accuracy(np.stack([seen_read[k] for k in has]), seen_digits[has]))
    return out


@torch.no_grad()
def sampled_reads(model, probe, scenes, picks: list, seen: list, sets: int, seed: int = 0, on_scene=None,
                  keep: int = 0) -> tuple:
    """Per pick, `sets` sampled sets of its target views and its seen view (seen: (view, face) or None per pick)
    given its context views, read by the digit probe.

    Returns (read int64 [N, sets, T], seen_read: per pick int64 [sets] or None, kept: the sampled target views
    uint8 [sets, T, H, W, 3] of the first `keep` picks). on_scene(): called after each pick."""
    kept, seen_read = [], []

    def read_sets(numbered):
        n, pick = numbered
        query = list(pick.targets) + ([seen[n][0]] if seen[n] else [])
        views = draw_views(model, scenes.frames(pick.scene), scenes.viewpoints(pick.scene), list(pick.context),
                           query, sets)
        if n < keep:
            kept.append(views[:, :TARGET_VIEWS])
        read = read_frames(probe, views)
        seen_read.append(read[:, TARGET_VIEWS] if seen[n] else None)
        return read[:, :TARGET_VIEWS]

    read = np.stack(per_scene(list(enumerate(picks)), lambda p: p[1].scene, read_sets, seed, on_scene))
    return read, seen_read, kept


class DigitAgreement(Metric):
    """digit-agreement: a row per run, then the probe on the true views (its ceiling) and random classes."""

    name, viewpoint_kind, probe_kind = names.DIGIT_AGREEMENT, "camera", names.DIGIT_PROBE
    figures = SET_FIGURES + ("accuracy", "seen_accuracy")
    labels, default_samples = (FACE_LABEL, DIGIT_LABEL), 10
    needs = f"camera scenes with the {FACE_LABEL} and {DIGIT_LABEL} labels (jumpdata dice)"
    pictures = {"digits": save_digit_picture}

    def check(self) -> None:
        picks = dice_picks(self.study)
        if self.samples() < TARGET_VIEWS:
            raise UserError(f"digit-agreement compares views of {TARGET_VIEWS} different sampled sets: give "
                            f"--samples {TARGET_VIEWS} or more (got {self.samples()})")
        self.probe_cfg, self.probe = probe_of(self.study, self)
        scenes, face_min = self.study.scenes, self.probe_cfg.face_min
        self.readable = readable_picks(scenes, picks, face_min)
        if len(self.readable) < MIN_QUALIFIED:
            raise UserError(
                f"only {len(self.readable)} of {len(picks)} selected test scenes of '{scenes.name}' show "
                f"their hidden face as the largest face (at least {face_min:.0%} of the image) in "
                f"all {TARGET_VIEWS} target views (at least {MIN_QUALIFIED} needed): generate more test scenes "
                f"(--test-n)")
        self.seen = [seen_view(scenes.labels(p.scene), p, face_min) for p in self.readable]

    def units(self) -> int:
        return len(self.readable) * len(self.study.runs)

    def measure(self, progress) -> dict:
        study, entries, self.shown = self.study, [], {}
        scenes = study.scenes
        self.digits = np.array([scenes.labels(p.scene)[DIGIT_LABEL][p.face] for p in self.readable], np.int64)
        seen_digits = np.array([scenes.labels(p.scene)[DIGIT_LABEL][s[1]] if s else -1
                                for p, s in zip(self.readable, self.seen)], np.int64)
        for run in study.runs:
            progress.text = f"digit-agreement {run.path}"
            read, seen_read, kept = sampled_reads(run.model, self.probe, scenes, self.readable, self.seen,
                                                  self.samples(), on_scene=progress.step, keep=PICTURE_SCENES)
            entries.append(entry(run, **figures_of(read, self.digits, seen_read, seen_digits)))
            self.shown[study.picture_name(run)] = (kept, read[:PICTURE_SCENES])
        self.true_read = np.stack([read_frames(self.probe, scenes.frames(p.scene, list(p.targets)))[None]
                                   for p in self.readable])
        true_seen = [read_frames(self.probe, scenes.frames(p.scene, [s[0]])) if s else None
                     for p, s in zip(self.readable, self.seen)]
        truth = figures_of(self.true_read, self.digits, true_seen, seen_digits)
        truth["agreement"] = figure(set_agreement(self.true_read))
        entries.append(reference_entry("probe on the true views", names.TRUTH, **truth))
        entries.append(reference_entry("random classes", names.RANDOM,
                                       **{k: exact(v) for k, v in random_floor(self.samples()).items()}))
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


def set_agreement(read: np.ndarray) -> np.ndarray:
    """Per scene the share of its sets int [N, S, T] read as one digit (any S): float64 [N]."""
    return (read == read[..., :1]).all(axis=-1).mean(axis=-1).astype(np.float64)


PLUGINS = (DigitAgreement,)   # the metrics this file registers (registry.py)
