"""`jumpdata export`: a jumpdata dataset as GQN TFRecords (DeepMind's layout) or as gqnlib's scene files.

    gqn-tfrecord   OUT/NAME/<train|test>/<i>-of-<N>.tfrecord   (layout.file_name), Examples with `frames` (JPEG,
                   --quality, 4:4:4) and `cameras` (raw 5-vectors), as deepmind/gqn-datasets' reader parses them
    gqnlib         OUT/NAME/<train|test>/NAME-<k>.pt.gz         k = 1.. zero-padded; each a gzip of torch.save of a
                   list of (frames float32 [V, H, W, 3] in [0, 1], cameras float32 [V, 5]) numpy pairs, what
                   gqnlib's SceneDataset loads (it turns the raw cameras into its 7-vectors itself)

Both record their settings in OUT/NAME/jumpdata-export.json. The folder is written under a hidden temporary
name beside OUT/NAME and renamed when complete, so an export that fails leaves nothing behind.
"""

import gzip
import json
import os
import shutil
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from scene_shards.common import UserError
from scene_shards.files import TMP_MARK, atomic_open
from scene_shards.manifest import SPLITS, resolve_dataset
from scene_shards.reader import open_dataset

from .layout import CAMERA_PARAMS, RAW_CAMERA, file_name
from .scenes import JPEG_SUBSAMPLING, scene_to_record

FORMATS = ("gqn-tfrecord", "gqnlib")
DEFAULT_SCENES_PER_FILE = {"gqn-tfrecord": 1000, "gqnlib": 100}
METADATA_FILE = "jumpdata-export.json"
GQNLIB_GZIP_LEVEL = 1      # gqnlib reads any gzip level; 1 is the fastest
TIME_AS_CAMERA = "time viewpoints are written as cameras [t, 0, 0, 0, 0] (t = frame index)"


def raw_cameras(viewpoints: np.ndarray, kind: str) -> np.ndarray:
    """Return float32 [V, 5] raw GQN cameras of one scene's viewpoints: a camera's as they are, a time t as
    [t, 0, 0, 0, 0] (TIME_AS_CAMERA)."""
    if kind == "camera":
        return np.asarray(viewpoints, np.float32)
    cameras = np.zeros((len(viewpoints), CAMERA_PARAMS), np.float32)
    cameras[:, 0] = viewpoints[:, 0]
    return cameras


def _file_groups(scenes: int, per_file: int) -> list:
    """Return [(first scene, scene count)] of the files of a split of `scenes` scenes."""
    return [(first, min(per_file, scenes - first)) for first in range(0, scenes, per_file)]


def _write_tfrecord(ds, folder: Path, per_file: int, quality: int, step: Callable) -> int:
    groups = _file_groups(len(ds), per_file)
    for i, (first, count) in enumerate(groups, start=1):
        with atomic_open(folder / file_name(i, len(groups)), "wb", durable=False) as f:
            for j in range(first, first + count):
                scene = ds.scene(j)
                f.write(scene_to_record(scene["frames"], raw_cameras(scene["viewpoints"], ds.viewpoint_kind), quality))
                step()
    return len(groups)


def _write_gqnlib(ds, folder: Path, per_file: int, name: str, step: Callable) -> int:
    import torch   # only this format needs it
    groups = _file_groups(len(ds), per_file)
    width = len(str(len(groups)))
    for k, (first, count) in enumerate(groups, start=1):
        pairs = []
        for j in range(first, first + count):
            scene = ds.scene(j)
            pairs.append((scene["frames"].astype(np.float32) / 255.0, raw_cameras(scene["viewpoints"], ds.viewpoint_kind)))
            step()
        with atomic_open(folder / f"{name}-{k:0{width}d}.pt.gz", "wb", durable=False) as f, \
                gzip.GzipFile(fileobj=f, mode="wb", compresslevel=GQNLIB_GZIP_LEVEL, mtime=0) as gz:
            torch.save(pairs, gz)
    return len(groups)


def _metadata(ds, fmt: str, name: str, files: dict, per_file: int, quality: int) -> dict:
    """Return the jumpdata-export.json of an export (the conventions and what DeepMind's reader needs)."""
    size, views = ds.frame_shape[0], ds.views_per_scene
    meta = {"format": fmt, "dataset": name, "generator": ds.manifest["generator"], "frame_size": size,
            "sequence_size": views, "files": files, "scenes_per_file": per_file,
            "camera_convention": RAW_CAMERA, "viewpoint_kind": ds.viewpoint_kind}
    if ds.viewpoint_kind == "time":
        meta["time_viewpoints"] = TIME_AS_CAMERA
    if fmt == "gqn-tfrecord":
        meta.update(jpeg_quality=quality, jpeg_subsampling=":".join(JPEG_SUBSAMPLING), deepmind_dataset_info=(
            f"{name}=DatasetInfo(basepath='{name}', train_size={files['train']}, test_size={files['test']}, "
            f"frame_size={size}, sequence_size={views})"))
    else:
        meta["frames"] = "float32 [V, H, W, 3] in [0, 1]"
    return meta


def _remove_stale_staging(out: Path, name: str) -> None:
    """Delete staging folders of exports of `name` into `out` whose process is gone (killed exports)."""
    for staging in out.glob(f".{name}{TMP_MARK}*"):
        pid = staging.name.rsplit(TMP_MARK, 1)[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(staging, ignore_errors=True)


def export_dataset(folder, dataset: Optional[str], fmt: str, out, quality: int = 95,
                   scenes_per_file: Optional[int] = None, on_progress: Optional[Callable] = None) -> Path:
    """Export dataset `dataset` (or the only one) of shard folder `folder` as `fmt` into OUT/NAME; return that
    path. Raises UserError if OUT/NAME exists or the dataset cannot be read; nothing is left behind then."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format '{fmt}' (choose {', '.join(FORMATS)})")
    name = resolve_dataset(folder, dataset)
    splits = {split: open_dataset(folder, name, split) for split in SPLITS}
    height, width, _ = splits["train"].frame_shape
    if height != width:
        raise UserError(f"GQN frames are square; '{name}' has {width}x{height} frames")
    out = Path(out)
    target = out / name
    if target.exists():
        raise UserError(f"{target} exists; choose another --out or delete it first")
    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out, name)
    per_file = scenes_per_file or DEFAULT_SCENES_PER_FILE[fmt]
    total, done = sum(len(ds) for ds in splits.values()), [0]

    def step():
        done[0] += 1
        if on_progress:
            on_progress(done[0], total)

    staging = out / f".{name}{TMP_MARK}{os.getpid()}"
    try:
        files = {}
        for split, ds in splits.items():
            (staging / split).mkdir(parents=True)
            files[split] = (_write_tfrecord(ds, staging / split, per_file, quality, step) if fmt == "gqn-tfrecord"
                            else _write_gqnlib(ds, staging / split, per_file, name, step))
        with atomic_open(staging / METADATA_FILE, "w", durable=False) as f:
            json.dump(_metadata(splits["train"], fmt, name, files, per_file, quality), f, indent=2)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        for ds in splits.values():
            ds.close()
    return target

