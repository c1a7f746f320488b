"""The manifest `NAME.json` of a dataset: file names, creation, loading and checks.

The manifest is the table of contents of a dataset folder. It lists, per split,
how many scenes the split holds and the shards completed so far (file name,
scene count, first global scene index, sha256). See docs/format.md.
"""

import json
import math
from pathlib import Path

from .common import UserError

FORMAT = "jumpdata-shards"
FORMAT_VERSION = 1
SPLITS = ("train", "test")
SPLIT_ID = {"train": 0, "test": 1}

#: The viewpoint kinds and the names of their components, in the order of a shard's `viewpoints` columns.
VIEWPOINT_NAMES = {"time": ("t",), "camera": ("x", "y", "z", "yaw", "pitch")}

REQUIRED_KEYS = ("dataset", "generator", "seed", "config", "frame_shape", "views_per_scene", "viewpoint_kind",
                 "viewpoint_names", "shard_size", "splits")
# Keys that must agree for a re-run to resume an existing dataset.
IDENTITY_KEYS = ("generator", "seed", "config", "frame_shape", "views_per_scene",
                 "viewpoint_kind", "viewpoint_names", "shard_size")


def shard_file_name(dataset: str, split: str, index: int, count: int) -> str:
    """Return the file name of shard `index` of `count` in a split, e.g. `salesman-train-00003-of-00098.h5`."""
    return f"{dataset}-{split}-{index:05d}-of-{count:05d}.h5"


def manifest_path(folder, dataset: str) -> Path:
    """Return the path of the manifest of `dataset` in `folder`."""
    return Path(folder) / f"{dataset}.json"


def shard_count(scenes: int, shard_size: int) -> int:
    """Return how many shards hold `scenes` scenes at `shard_size` scenes per shard (0 for an empty split)."""
    return math.ceil(scenes / shard_size)


def new_manifest(spec, seed: int, scenes: dict, shard_size: int, version: str) -> dict:
    """Return a manifest (dict) for `spec` with no completed shards; `scenes` maps split -> scene count."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dataset": spec.dataset,
        "generator": spec.generator,
        "jumpdata_version": version,
        "seed": seed,
        "config": spec.config,
        "frame_shape": list(spec.frame_shape),
        "views_per_scene": spec.views_per_scene,
        "viewpoint_kind": spec.viewpoint_kind,
        "viewpoint_names": list(VIEWPOINT_NAMES[spec.viewpoint_kind]),
        "labels": {name: {"dtype": dt, "shape": list(shape)} for name, (dt, shape) in spec.labels.items()},
        "shard_size": shard_size,
        "splits": {
            split: {"scenes": scenes[split], "shard_count": shard_count(scenes[split], shard_size), "shards": []}
            for split in SPLITS
        },
    }


def differences(old: dict, new: dict) -> list:
    """Return the names of the identity keys (and split sizes) on which two manifests disagree."""
    keys = [k for k in IDENTITY_KEYS if json.dumps(old.get(k), sort_keys=True) != json.dumps(new.get(k), sort_keys=True)]
    keys += [f"{s} scenes" for s in SPLITS
             if old.get("splits", {}).get(s, {}).get("scenes") != new["splits"][s]["scenes"]]
    return keys


def load_manifest(path) -> dict:
    """Read and check a manifest; return it as a dict. Raises UserError if it is missing or not a manifest."""
    path = Path(path)
    try:
        with open(path) as f:
            m = json.load(f)
    except FileNotFoundError:
        raise UserError(f"no manifest {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"{path} is not a readable manifest ({e})") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise UserError(f"{path} is not a jumpdata manifest")
    if m.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{path} has format version {m.get('format_version')}; this jumpdata reads {FORMAT_VERSION}")
    _check_structure(path, m)
    return m


def _check_structure(path: Path, m: dict) -> None:
    """Raise UserError unless manifest `m` has the keys readers rely on and names only its own shard files."""
    missing = [key for key in REQUIRED_KEYS if key not in m]
    if missing:
        raise UserError(f"{path} is damaged: it has no {', '.join(missing)}")
    try:
        for split in SPLITS:
            info = m["splits"][split]
            for entry in info["shards"]:
                index = int(entry["first_scene"]) // int(m["shard_size"])
                expected = shard_file_name(m["dataset"], split, index, int(info["shard_count"]))
                if entry["file"] != expected or not isinstance(entry["sha256"], str) or int(entry["scenes"]) < 1:
                    raise UserError(f"{path} is damaged: its entry for '{entry['file']}' is not one of its shards")
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path} is damaged: missing or malformed {e}") from None


def list_datasets(folder) -> list:
    """Return the sorted names of the datasets (manifests) in `folder`. Raises UserError if it is not a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    names = []
    for p in sorted(folder.glob("*.json")):
        try:
            with open(p) as f:
                if json.load(f).get("format") == FORMAT:
                    names.append(p.stem)
        except (OSError, ValueError, AttributeError):
            continue
    return names


def resolve_dataset(folder, dataset=None) -> str:
    """Return the dataset name to use in `folder`: `dataset` if given and present, else the only one there.

    Raises UserError when the folder holds no dataset, or several and none was named.
    """
    names = list_datasets(folder)
    if dataset is not None:
        if dataset not in names:
            have = ", ".join(names) if names else "none"
            raise UserError(f"no dataset '{dataset}' in {folder} (it holds: {have})")
        return dataset
    if not names:
        raise UserError(f"{folder} holds no jumpdata dataset (no manifest NAME.json)")
    if len(names) > 1:
        raise UserError(f"{folder} holds several datasets ({', '.join(names)}); choose one with --dataset NAME")
    return names[0]
