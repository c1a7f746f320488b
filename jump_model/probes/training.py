"""Training a ground-truth probe (`jumpdata probe train`): per-view targets from the labels, random examples,
the loss, the held-out accuracy. The networks and their folder are in nets.py (docs/probes.md)."""

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from narratives import vocabulary as vocab
from narratives.label_names import COLORS, KINDS, POSITIONS, SIZES
from scene_shards import data_fingerprint, open_dataset
from scene_shards.common import UserError
from scene_shards.files import write_json_atomic
from scene_shards.manifest import manifest_path

from ..eval.hidden_face import side_faces
from ..names import CHECKPOINT_FILE as CHECKPOINT
from ..names import CONFIG_FILE as CONFIG
from ..names import DIGIT_LABEL, DIGIT_PROBE, FACE_LABEL, ORIENTATION_LABEL, SHAPE_PROBE
from ..run_folder import save_torch
from .nets import FACE_MIN, NETWORKS, ProbeConfig

NONE = -1              # "no shape here" in the kind and colour maps; also the ignored target of edge pixels
EDGE_LOW, EDGE_HIGH = 0.25, 0.75   # narratives pixels whose brightness is between these shares of their
                                    # shape's colour are anti-aliased edges: left out of the loss
PROBE_KINDS = {"dice": DIGIT_PROBE, "narratives": SHAPE_PROBE}   # manifest "generator" -> probe kind


def dice_targets(labels: dict, face_min: float = FACE_MIN) -> np.ndarray:
    """Return int64 [V]: per view of a dice scene the digit class on its largest face, NONE where that face
    covers less than `face_min` of the image or is not a side face (the top face's digit lies at any angle;
    labels: the scene's `visible_faces`, `digit_classes`, `cube_orientation`)."""
    visible = labels[FACE_LABEL]
    face = visible.argmax(axis=1)
    classes = labels[DIGIT_LABEL].astype(np.int64)[face]
    readable = (visible.max(axis=1) >= face_min) & np.isin(face, side_faces(labels[ORIENTATION_LABEL]))
    return np.where(readable, classes, NONE)


def shape_owner(labels: dict, frame_index: int, size: int) -> np.ndarray:
    """Return int64 [size, size]: the shape slot drawn on each pixel's centre by its layout (within its
    bounding radius, the actor over the others, a later slot over an earlier one), NONE where no shape
    reaches. labels: a narrative scene's `sizes` [S] and `positions` [V, S, 2] (px, x then y)."""
    centres = labels[POSITIONS][frame_index].astype(np.float64)
    radii = vocab.radii_px(size)[labels[SIZES].astype(np.int64)]
    grid = np.arange(size) + 0.5
    inside = np.hypot(grid[None, None, :] - centres[:, 0, None, None],
                      grid[None, :, None] - centres[:, 1, None, None]) <= radii[:, None, None] + 0.5
    owner = np.full((size, size), NONE, np.int64)
    for slot in list(range(1, len(radii))) + [0]:   # the rasteriser's draw order
        owner[inside[slot]] = slot
    return owner


def shape_targets(frame: np.ndarray, labels: dict, frame_index: int) -> tuple:
    """Return (kind, colour) int64 [H, W] targets of one narrative frame uint8 [H, W, 3]: the class + 1 of the
    shape covering each pixel, 0 for background, NONE (ignored) on anti-aliased edges. A pixel belongs to its
    shape_owner when it is at least EDGE_HIGH as bright as that shape's colour, to the background when at
    most EDGE_LOW."""
    size = frame.shape[0]
    owner = shape_owner(labels, frame_index, size)
    slot = np.maximum(owner, 0)
    colour = labels[COLORS][frame_index].astype(np.int64)[slot]
    brightness = frame.max(axis=-1) / np.maximum(vocab.PALETTE[colour].max(axis=-1), 1)
    kind = np.where(owner >= 0, labels[KINDS].astype(np.int64)[slot] + 1, 0)
    colour = np.where(owner >= 0, colour + 1, 0)
    background = (owner < 0) | (brightness <= EDGE_LOW)
    edge = ~background & (brightness < EDGE_HIGH)
    kind, colour = np.where(background, 0, kind), np.where(background, 0, colour)
    return np.where(edge, NONE, kind), np.where(edge, NONE, colour)


class ProbeExamples:
    """Random (frame, target) examples of one split for a probe, drawn from (seed, split, step)."""

    def __init__(self, scenes, kind: str, face_min: float):
        self.scenes, self.kind, self.face_min = scenes, kind, face_min

    def example(self, scene: int, view: int):
        """Return (frame uint8 [H, W, 3], target): digit: int class or NONE; shapes: (kind, colour) maps."""
        frame = self.scenes.frames(scene, [view])[0]
        labels = self.scenes.labels(scene)
        if self.kind == DIGIT_PROBE:
            return frame, int(dice_targets(labels, self.face_min)[view])
        return frame, shape_targets(frame, labels, view)

    def batch(self, rng: np.random.Generator, count: int) -> tuple:
        """Return (frames uint8 [N, H, W, 3], targets) of `count` random views (drawn with replacement); digit
        views without a readable face are skipped, so N <= count. targets: int64 [N] (digit) or two int64
        [N, H, W] maps."""
        return self.views(rng.integers(len(self.scenes), size=count) * self.scenes.views_per_scene
                          + rng.integers(self.scenes.views_per_scene, size=count))

    def views(self, flat) -> tuple:
        """Return batch()'s (frames, targets) of the views numbered `flat` (scene * views_per_scene + view)."""
        pairs = [self.example(*divmod(int(k), self.scenes.views_per_scene)) for k in flat]
        if self.kind == DIGIT_PROBE:
            pairs = [(f, t) for f, t in pairs if t != NONE]
            return np.stack([f for f, _ in pairs]), np.array([t for _, t in pairs], np.int64)
        return (np.stack([f for f, _ in pairs]), np.stack([t[0] for _, t in pairs]),
                np.stack([t[1] for _, t in pairs]))


def probe_loss(net: nn.Module, kind: str, frames: torch.Tensor, *targets) -> torch.Tensor:
    """Return the cross-entropy of a probe on a batch: digit: the mean over views; shapes: the mean over shape
    pixels plus the mean over background pixels, of the kind's and the colour's (edge pixels left out)."""
    if kind == DIGIT_PROBE:
        return F.cross_entropy(net(frames), targets[0])
    logits = net(frames)
    foreground = targets[0] > 0
    loss = 0.0
    for part in (foreground, targets[0] == 0):   # shapes and background weigh the same, however small the shapes
        for out, target in zip(logits, targets):
            loss = loss + F.cross_entropy(out.movedim(1, -1)[part], target[part]) if part.any() else loss
    return loss


@torch.no_grad()
def held_out_accuracy(net: nn.Module, kind: str, examples: ProbeExamples, views: int = 1000,
                      seed: int = 0) -> tuple:
    """Return (accuracy, examples counted) on up to `views` distinct random test views (each view of the split
    at most once): digit: share of kept views whose class is right; shapes: share of foreground pixels (not
    edges) whose kind AND colour are both right."""
    net.eval()
    every = len(examples.scenes) * examples.scenes.views_per_scene
    chosen = np.random.default_rng([seed, 1, 7]).permutation(every)[:views]
    right = total = 0
    for start in range(0, len(chosen), 100):
        frames, *targets = examples.views(chosen[start:start + 100])
        if kind == DIGIT_PROBE:
            predicted = net(torch.from_numpy(frames)).argmax(1).numpy()
            right, total = right + int((predicted == targets[0]).sum()), total + len(predicted)
        else:
            kinds, colours = (t.argmax(1).numpy() for t in net(torch.from_numpy(frames)))
            counted = targets[0] > 0
            right += int(((kinds == targets[0]) & (colours == targets[1]) & counted).sum())
            total += int(counted.sum())
    net.train()
    return right / max(total, 1), total


def train_probe(folder, dataset, out, steps: int = 1500, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
                on_progress=None) -> ProbeConfig:
    """Train the probe of `dataset` in shard folder `folder` on its train split and save it to folder `out`.

    on_progress(step, steps, loss) is called after each step. Returns the saved ProbeConfig, whose
    test_accuracy is measured on the test split. Raises UserError on bad input (before writing anything).
    """
    train_scenes = open_dataset(folder, dataset, "train")
    test_scenes = open_dataset(folder, train_scenes.name, "test")
    for scenes in (train_scenes, test_scenes):
        scenes.check_shards()
    path = manifest_path(folder, train_scenes.name)
    generator = train_scenes.manifest["generator"]
    if generator not in PROBE_KINDS:
        raise UserError(f"no probe reads datasets made by generator '{generator}' (probes exist for: "
                        f"{', '.join(PROBE_KINDS)})")
    if len(test_scenes) == 0:
        raise UserError(f"dataset '{train_scenes.name}' has no test scenes to measure the probe on; generate it "
                        f"with --test-n 1 or more")
    out = Path(out)
    if (out / CHECKPOINT).exists():
        raise UserError(f"{out} already holds a probe; choose another --out or delete it")
    cfg = ProbeConfig(kind=PROBE_KINDS[generator], dataset=train_scenes.name, generator=generator,
                      data_dir=str(Path(folder).resolve()), manifest=str(path.resolve()),
                      image_size=train_scenes.frame_shape[0], steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                      data_fingerprint=data_fingerprint(train_scenes.manifest))
    torch.manual_seed(seed)
    net = NETWORKS[cfg.kind]()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    examples = ProbeExamples(train_scenes, cfg.kind, cfg.face_min)
    class_counts = np.zeros(10)
    for step in range(steps):
        frames, *targets = examples.batch(np.random.default_rng([seed, 0, step]), batch_size)
        if cfg.kind == DIGIT_PROBE:
            class_counts += np.bincount(targets[0], minlength=10)
        loss = probe_loss(net, cfg.kind, torch.from_numpy(frames), *(torch.from_numpy(t) for t in targets))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if on_progress is not None:
            on_progress(step + 1, steps, loss.item())
    accuracy, counted = held_out_accuracy(net, cfg.kind, ProbeExamples(test_scenes, cfg.kind, cfg.face_min),
                                          seed=seed)
    chance = (class_counts.max() / max(class_counts.sum(), 1) if cfg.kind == DIGIT_PROBE
              else 1 / (len(vocab.KINDS) * len(vocab.COLORS)))
    cfg = dataclasses.replace(cfg, test_accuracy=accuracy, test_examples=counted, chance=float(chance))
    out.mkdir(parents=True, exist_ok=True)
    save_torch(out / CHECKPOINT, {"probe": net.state_dict(), "config": dataclasses.asdict(cfg)}, "probe")
    try:
        write_json_atomic(out / CONFIG, dataclasses.asdict(cfg))
    except OSError:
        (out / CHECKPOINT).unlink()   # a probe folder has both files or neither
        raise
    return cfg
