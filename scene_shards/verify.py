"""Checking a dataset folder: every shard the manifest lists exists and matches its sha256."""

from pathlib import Path

from .files import sha256_of
from .manifest import SPLITS, list_datasets, load_manifest, manifest_path


def verify_dataset(folder, dataset: str, manifest=None) -> list:
    """Return a list of problems (one-line strings naming the file) of `dataset` in `folder`; empty if intact.

    `manifest` may be given when already loaded; otherwise it is read from the folder.
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
    return problems


def summarize_folder(folder) -> list:
    """Return one dict per dataset in `folder`: name, generator, frame shape, views, per-split scenes/shards/bytes, problems."""
    folder = Path(folder)
    summaries = []
    for name in list_datasets(folder):
        m = load_manifest(manifest_path(folder, name))
        splits = {}
        for split in SPLITS:
            info = m["splits"][split]
            size = sum((folder / e["file"]).stat().st_size for e in info["shards"] if (folder / e["file"]).is_file())
            splits[split] = {"scenes": info["scenes"], "shards": len(info["shards"]),
                             "shard_count": info["shard_count"], "bytes": size}
        summaries.append({"dataset": name, "generator": m["generator"], "seed": m["seed"],
                          "frame_shape": m["frame_shape"], "views_per_scene": m["views_per_scene"],
                          "viewpoint_kind": m["viewpoint_kind"], "splits": splits,
                          "problems": verify_dataset(folder, name, m)})
    return summaries
