"""A run's data: the dataset facts a run stores, and training examples (per scene a random context set and
disjoint target views) from a shard folder.

Everything random here is a function of (seed, example index), and the
example index of step s is fixed ((s * world + rank) * batch + j), so a run
resumed at step s reads exactly the batches the uninterrupted run would have.
Training draws the view counts per batch (`view_counts`): the batch's B
scenes take a seeded permutation of a fixed multiset of 1..K context and one
of 1..T target counts, so every batch holds the same numbers of real views
and the model computes just those (docs/model.md, "The static step").
"""

import itertools
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate

from scene_shards import data_fingerprint, open_dataset
from scene_shards.common import Note, UserError
from scene_shards.fingerprint import check_same_data
from scene_shards.manifest import manifest_path

from .config import DataFacts, RunConfig
from .runtime import auto_loader_workers, node_cores

EPOCH_STREAM, PICK_STREAM = 101, 102   # the fixed tags that separate the random streams below
COUNT_STREAMS = {"context": 105, "target": 106}


def count_multiset(batch: int, most: int) -> np.ndarray:
    """Return the view counts (context or target) of one training batch, sorted: int64 [batch], each of 1..most
    batch // most times and the r = batch % most left over the values at the centres of r equal parts of 1..most
    (round(1 + (most - 1) (i + 1/2) / r), i < r). Their sum is the batch's number of real views."""
    r = batch % most
    rest = np.floor(1 + (most - 1) * (np.arange(r) + 0.5) / max(r, 1) + 0.5).astype(np.int64)
    return np.sort(np.concatenate([np.repeat(np.arange(1, most + 1), batch // most), rest]))


def batch_counts(seed: int, part: str, batch_index: int, batch: int, most: int) -> np.ndarray:
    """Return the `part` ("context" or "target") view count of each of the `batch` scenes of training batch
    `batch_index`: int64 [batch], a permutation of count_multiset(batch, most) drawn from (seed, part,
    batch_index)."""
    rng = np.random.default_rng([seed, COUNT_STREAMS[part], batch_index])
    return rng.permutation(count_multiset(batch, most))


class SceneViews(Dataset):
    """Map-style dataset of training examples over one split of a shard dataset.

    `shuffle=True`: example g is scene perm_e[g mod N] of epoch e = g // N (a fresh
    permutation per epoch). `shuffle=False`: example g is scene g (for evaluation).
    Each example has k in 1..context context views and t in 1..targets target views, other views than the
    context's. `batch` given (training): k and t are the example's entries of its batch's counts (batch_counts
    of batch g // batch, entry g % batch: the batches of StepSampler), so every batch of `batch` examples holds
    the same numbers of real views (`batch_totals`); None: each example draws its own, uniform on 1..context
    and 1..targets. `sequential=True` (the autoregressive model): the views are a window of consecutive frames,
    k context frames from a random start, then the t frames that follow them, t always `targets`.
    `all_targets=True`: t is always `targets` (benchmarks against models that render a fixed count).
    """

    def __init__(self, scenes, context: int, targets: int, seed: int, shuffle: bool, sequential: bool = False,
                 all_targets: bool = False, batch: int = None):
        if context + targets > scenes.views_per_scene:
            raise UserError(f"context ({context}) + targets ({targets}) must be at most the {scenes.views_per_scene} "
                            f"views per scene of dataset '{scenes.name}'")
        self.scenes, self.context, self.targets = scenes, context, targets
        self.seed, self.shuffle, self.sequential, self.all_targets = seed, shuffle, sequential, all_targets
        self.batch = batch
        self._epoch, self._perm, self._counted, self._counts = None, None, None, None

    @property
    def all_target_views(self) -> bool:
        """True when every example has `targets` target views (sequential or all_targets)."""
        return self.all_targets or self.sequential

    @property
    def batch_totals(self) -> dict:
        """The numbers of real views in each batch of `batch` examples (StepSampler's batches):
        {"context_count": int, "target_count": int}, or {} when they vary (no `batch`: each example draws its
        own counts)."""
        if self.batch is None:
            return {}
        targets = self.batch * self.targets if self.all_target_views else count_multiset(self.batch, self.targets)
        return {"context_count": int(count_multiset(self.batch, self.context).sum()),
                "target_count": int(np.sum(targets))}

    def view_counts(self, g: int, drawn: tuple) -> tuple:
        """Return (k, t), the context and target view counts of example g, whose own draws were `drawn` (k, t)."""
        if self.batch is not None:
            index, j = divmod(g, self.batch)
            if index != self._counted:
                self._counts = [batch_counts(self.seed, part, index, self.batch, most)
                                for part, most in (("context", self.context), ("target", self.targets))]
                self._counted = index
            drawn = (int(self._counts[0][j]), int(self._counts[1][j]))
        return drawn[0], self.targets if self.all_target_views else drawn[1]

    def __len__(self) -> int:
        return len(self.scenes)

    def scene_index(self, g: int) -> int:
        """Return the scene index of example g."""
        if not self.shuffle:
            return g
        epoch, pos = divmod(g, len(self.scenes))
        if epoch != self._epoch:
            self._perm = np.random.default_rng([self.seed, EPOCH_STREAM, epoch]).permutation(len(self.scenes))
            self._epoch = epoch
        return int(self._perm[pos])

    def __getitem__(self, g: int) -> dict:
        """Return example g: context_frames uint8 [K, H, W, 3], context_viewpoints float32 [K, D], context_mask
        bool [K], target_frames uint8 [T, H, W, 3], target_viewpoints float32 [T, D], target_mask bool [T]
        (K = context, T = targets; the real views first, the rest zero padding marked False in the masks)."""
        i = self.scene_index(g)
        rng = np.random.default_rng([self.seed, PICK_STREAM, g])
        views = self.scenes.viewpoints(i)
        k, t = self.view_counts(g, (int(rng.integers(1, self.context + 1)), int(rng.integers(1, self.targets + 1))))
        if self.sequential:
            picks = int(rng.integers(0, len(views) - k - t + 1)) + np.arange(k + t)
        else:
            picks = rng.choice(len(views), size=k + t, replace=False)
        ctx, tgt = picks[:k], picks[k:]
        frames = self.scenes.frames(i, picks)   # the picked views only, context then targets
        return {"context_frames": padded(frames[:k], self.context),
                "context_viewpoints": padded(views[ctx], self.context),
                "context_mask": np.arange(self.context) < k,
                "target_frames": padded(frames[k:], self.targets),
                "target_viewpoints": padded(views[tgt], self.targets),
                "target_mask": np.arange(self.targets) < t}


def training_examples(cfg: RunConfig, scenes, shuffle: bool) -> SceneViews:
    """Return the examples the run's model trains on (shuffle=True) or is evaluated on: windows of consecutive
    frames for the autoregressive model (k context frames, then the `targets` frames after them), random view
    sets for the others; in training with cfg.view_counts "batch" the view counts drawn per batch of
    cfg.batch_size (SceneViews), else per scene."""
    per_batch = shuffle and cfg.view_counts == "batch"
    return SceneViews(scenes, cfg.context, cfg.targets, cfg.seed, shuffle, sequential=cfg.model.kind == "ar",
                      batch=cfg.batch_size if per_batch else None)


def padded(a: np.ndarray, n: int) -> np.ndarray:
    """Return `a` [m, ...] with zeros appended along the first axis up to length n: [n, ...]."""
    return np.concatenate([a, np.zeros((n - len(a),) + a.shape[1:], a.dtype)])


class StepSampler(Sampler):
    """Endless example indices for steps start, start+1, ...: rank r of `world` takes (s*world + r)*batch + j.

    This plays the part of a DistributedSampler (each rank reads different scenes)
    while staying resumable at any step.
    """

    def __init__(self, start_step: int, batch_size: int, rank: int = 0, world: int = 1):
        self.start, self.batch, self.rank, self.world = start_step, batch_size, rank, world

    def __iter__(self):
        for step in itertools.count(self.start):
            first = (step * self.world + self.rank) * self.batch
            yield from range(first, first + self.batch)


def loader_workers(requested: int, device: torch.device) -> int:
    """Return this rank's DataLoader worker count: `requested` if >= 0, else (-1, auto) its share of the node's
    cores on a GPU machine (runtime.auto_loader_workers; the ranks on the node from torchrun's LOCAL_WORLD_SIZE)
    and one beside the compute on a CPU."""
    if requested >= 0:
        return requested
    return auto_loader_workers(device.type, node_cores(), int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


class CollateViews:
    """The loader's collate_fn: the examples' dicts stacked into a batch (default_collate), with "context_count"
    and "target_count", the batch's numbers of real context and target views (ints), when every batch has the
    same (SceneViews.batch_totals); the models then compute just those (nets/blocks.py, Packing)."""

    def __init__(self, totals: dict):
        self.totals = totals

    def __call__(self, examples: list) -> dict:
        """Return the batch; RuntimeError when it does not hold the promised numbers of real views (a sampler
        whose batches are not SceneViews' batches)."""
        batch = default_collate(examples)
        for key, total in self.totals.items():
            found = int(batch[key.replace("_count", "_mask")].sum())
            if found != total:
                raise RuntimeError(f"a batch with {found} real views where every batch holds {total} ({key}): the "
                                   f"sampler's batches are not the examples' batches")
        return {**batch, **self.totals}


def make_loader(examples: Dataset, sampler, batch_size: int, workers: int, device: torch.device) -> DataLoader:
    """Return a DataLoader of batches (dicts of tensors, see SceneViews, and the counts of real views where fixed:
    see CollateViews) set up to keep `device` fed."""
    return DataLoader(examples, batch_size=batch_size, sampler=sampler, num_workers=workers,
                      collate_fn=CollateViews(getattr(examples, "batch_totals", {})),
                      pin_memory=device.type == "cuda", persistent_workers=workers > 0,
                      prefetch_factor=4 if workers > 0 else None, drop_last=True)


def open_split(cfg: RunConfig, split: str, run: str = None):
    """Open `split` of the run's dataset (cfg.data_dir, cfg.dataset); returns a scene_shards.ShardDataset that is
    the data the run (folder `run`, named in errors) trained on (check_run_data) and whose shard headers were
    checked against the manifest (UserError naming other data, or a truncated or swapped shard)."""
    scenes = open_dataset(cfg.data_dir, cfg.dataset or None, split)
    check_run_data(run or cfg.data_dir, cfg, scenes.manifest, scenes.folder)
    scenes.check_shards()
    return scenes


def recorded_data(cfg: RunConfig) -> dict:
    """Return what the run knows of its data, as a (partial) fingerprint: its data_fingerprint, or for a run of
    an older jumpdata the frame shape, views per scene and viewpoint kind of its model."""
    if cfg.data_fingerprint:
        return cfg.data_fingerprint
    m = cfg.model
    return {"frame_shape": [m.image_size, m.image_size, 3], "views_per_scene": m.views_per_scene,
            "viewpoint_kind": m.viewpoint_kind}


def check_run_data(run: str, cfg: RunConfig, manifest: dict, folder) -> None:
    """Raise UserError (one line naming what differs) unless `manifest` (in `folder`) describes the data the run
    in folder `run` trained on; a run without a fingerprint is compared on the facts it has, with a warning."""
    if not cfg.data_fingerprint:
        warnings.warn(f"{run} recorded no data fingerprint (made by an older jumpdata): only the frame shape, views "
                      f"per scene and viewpoint kind are compared with the data", Note)
    check_same_data(recorded_data(cfg), manifest, folder, run, "run")


def position_scale(scenes, probe: int = 64) -> float:
    """Return max |x|, |y|, |z| over the camera positions of the first `probe` scenes (1.0 if all zero)."""
    top = max(float(np.abs(scenes.viewpoints(i)[:, :3]).max()) for i in range(min(probe, len(scenes))))
    return top if top > 0 else 1.0


def dataset_facts(scenes) -> DataFacts:
    """Return the DataFacts of a run on `scenes` (its train split): frame size, views, viewpoint kind,
    position scale, and the absolute data folder and manifest path. UserError on frames that are not square."""
    h, w, _ = scenes.frame_shape
    if h != w:
        raise UserError(f"frames of {h}x{w} are not square; the models need square frames")
    manifest = manifest_path(scenes.folder, scenes.name)
    return DataFacts(dataset=scenes.name, generator=scenes.manifest["generator"],
                     data_dir=str(Path(scenes.folder).resolve()), manifest=str(manifest.resolve()), image_size=h,
                     views_per_scene=scenes.views_per_scene, viewpoint_kind=scenes.viewpoint_kind,
                     position_scale=position_scale(scenes) if scenes.viewpoint_kind == "camera" else 1.0,
                     data_fingerprint=data_fingerprint(scenes.manifest))


def open_test_split(cfg: RunConfig, run: str = None):
    """Open the run's test split (evaluation and sample pictures) as open_split does; UserError when it holds no
    scenes."""
    scenes = open_split(cfg, "test", run)
    if len(scenes) == 0:
        raise UserError(f"dataset '{scenes.name}' in {scenes.folder} has no test scenes (made with --test-n 0); "
                        f"training evaluates on them and draws its sample pictures from them: generate it again "
                        f"with --test-n 1 or more")
    return scenes


def to_device(batch: dict, device: torch.device) -> dict:
    """Move a batch's tensors to `device` (non-blocking from pinned memory); its view counts stay ints."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
