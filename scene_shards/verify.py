"""Checking a dataset folder (`jumpdata info`): every manifest readable and consistent, every shard it lists
present, matching its sha256 and its header, and no shard file it does not list."""

import re
from pathlib import Path

import h5py

from .common import UserError, one_line
from .files import sha256_of
from .fingerprint import data_fingerprint
from .manifest import SPLITS, list_datasets, load_manifest, manifest_path
from .reader import readable_header_problem


def verify_dataset(folder, dataset: str, manifest=None) -> list:
    """Return a list of problems (one-line strings naming the file) of `dataset` in `folder`; empty if intact.

    `manifest` may be given when already loaded; otherwise it is read from the folder (UserError if damaged).
    """
    folder = Path(folder)
    manifest = manifest or load_manifest(manifest_path(folder, dataset))
    problems = []
    for split in SPLITS:
        info = manifest["splits"][split]
        missing = info["shard_count"] - len(info["shards"])
        if missing:
            problems.append(f"{dataset} {split}: {missing} of {info['shard_count']} shards not generated yet")
        for entry in info["shards"]:
            path = folder / entry["file"]
            if not path.is_file():
                problems.append(f"{entry['file']}: missing")
            elif sha256_of(path) != entry["sha256"]:
                problems.append(f"{entry['file']}: does not match its sha256 (truncated or altered)")
            elif problem := _header_problem(path, manifest, split, entry):
                problems.append(f"{entry['file']}: {problem}")
        listed = {entry["file"] for entry in info["shards"]}
        pattern = re.compile(re.escape(f"{dataset}-{split}-") + r"\d{5}-of-\d{5}\.h5")
        for path in sorted(folder.glob(f"{dataset}-{split}-*.h5")):
            if pattern.fullmatch(path.name) and path.name not in listed:
                problems.append(f"{path.name}: a shard file the manifest does not list")
    return problems


def _header_problem(path: Path, manifest: dict, split: str, entry: dict):
    try:
        h5 = h5py.File(path, "r")
    except OSError as e:
        return f"cannot be read as a shard ({one_line(e)})"
    with h5:
        return readable_header_problem(h5, manifest, split, entry)


def summarize_folder(folder) -> list:
    """Return one dict per dataset in `folder`: name, generator, frame shape, views, per-split scenes/shards/bytes,
    the data fingerprint's digest, problems; a dataset whose manifest is damaged gives {"dataset", "damaged": the
    one-line reason} instead."""
    folder = Path(folder)
    summaries = []
    for name in list_datasets(folder):
        try:
            m = load_manifest(manifest_path(folder, name))
        except UserError as e:
            summaries.append({"dataset": name, "damaged": str(e)})
            continue
        splits = {}
        for split in SPLITS:
            info = m["splits"][split]
            size = sum((folder / e["file"]).stat().st_size for e in info["shards"] if (folder / e["file"]).is_file())
            splits[split] = {"scenes": info["scenes"], "shards": len(info["shards"]),
                             "shard_count": info["shard_count"], "bytes": size}
        summaries.append({"dataset": name, "generator": m["generator"], "seed": m["seed"],
                          "frame_shape": m["frame_shape"], "views_per_scene": m["views_per_scene"],
                          "viewpoint_kind": m["viewpoint_kind"], "splits": splits,
                          "fingerprint": data_fingerprint(m)["digest"],
                          "problems": verify_dataset(folder, name, m)})
    return summaries
