"""The probe metrics of `jumpdata eval`: sampled frames read by a ground-truth probe (jump_model/probes.py).

    readable_picks        the dice selection's scenes whose hidden face the digit probe can read in every target view
    true_digits           the digit on each pick's hidden face, and what the probe reads on its true views
    sampled_digits        what the probe reads on sampled sets of views of each pick's hidden face
    agreement_per_scene   per scene: share of sets read as one digit, share of views read as the true digit
    random_floor          the same two figures for independent uniformly random classes
    true_story            per video: is the true video coherent, as the probe reads it
    sampled_story         per video: the share of sampled continuations that are coherent, as the probe reads them

Sampled numbers are functions of (seed, scene index), as in jump_model.metrics, so every model is measured on
the same draws and a rerun gives the same figures.
"""

import numpy as np
import torch

from .metric_names import DIGIT_LABEL, FACE_LABEL
from .metrics import draw_views, scene_seed
from .probes import read_frames
from .story_checks import read_video

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
    read, kept = [], []
    for n, pick in enumerate(picks):
        torch.manual_seed(scene_seed(seed, pick.scene))
        views = draw_views(model, scenes.frames(pick.scene), scenes.viewpoints(pick.scene), list(pick.context),
                           list(pick.targets), sets)
        read.append(read_frames(probe, views))
        if n < keep:
            kept.append(views)
        if on_scene:
            on_scene()
    return np.stack(read), kept


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
    coherent, kept = [], []
    for n, i in enumerate(indices):
        frames, labels = scenes.frames(i), scenes.labels(i)
        torch.manual_seed(scene_seed(seed, i))
        later = draw_views(model, frames, scenes.viewpoints(i), list(range(context_frames)),
                           list(range(context_frames, len(frames))), samples)
        videos = np.concatenate([np.broadcast_to(frames[:context_frames], (samples, *frames[:context_frames].shape)),
                                 later], axis=1)
        kinds, colours = read_frames(probe, videos)
        readings = [read_video(kinds[s], colours[s], labels) for s in range(samples)]
        verdicts = np.array([check(r, labels) for r in readings])
        coherent.append(float(verdicts.mean()))
        if n < keep:
            kept.append((videos, readings, verdicts))
        if on_scene:
            on_scene()
    return np.array(coherent), kept
