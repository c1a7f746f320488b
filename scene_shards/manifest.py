"""The manifest `NAME.json` of a dataset: file names, creation, loading and checks.

The manifest is the table of contents of a dataset folder. It lists, per split,
how many scenes the split holds and the shards completed so far (file name,
scene count, first global scene index, sha256). See docs/format.md.
"""

import json
import math
import re
from pathlib import Path

from .common import UserError, one_line

FORMAT = "jumpdata-shards"
FORMAT_VERSION = 4          # 4: frames deflated by ISA-L at level 0 (same format as 1 and 2, other bytes); docs/format.md
READABLE_VERSIONS = (1, 2, 3, 4)  # the versions this jumpdata reads
#: How a dataset stores its frames: decoded pixels (format version 4) or, `import-gqn --frames jpeg`, the source's
#: JPEG images (format version 3; older readers refuse it by its version). A manifest names only "jpeg".
PIXELS, JPEG = "pixels", "jpeg"
FRAME_ENCODING_VERSIONS = {PIXELS: FORMAT_VERSION, JPEG: 3}
SPLITS = ("train", "test")
SPLIT_ID = {"train": 0, "test": 1}

#: The viewpoint kinds and the names of their components, in the order of a shard's `viewpoints` columns.
VIEWPOINT_NAMES = {"time": ("t",), "camera": ("x", "y", "z", "yaw", "pitch")}

#: What a dataset name may be: it becomes part of file names.
DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
#: Most shards in a split: shard file names number them with five digits.
MAX_SHARDS = 99_999
#: The dtypes a label may have (numpy names): numbers only, never "object" (which h5py would read as pickles).
LABEL_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16",
                "float32", "float64")

REQUIRED_KEYS = ("dataset", "generator", "seed", "config", "frame_shape", "views_per_scene", "viewpoint_kind",
                 "viewpoint_names", "shard_size", "splits")
# Keys that must agree for a re-run to resume an existing dataset.
IDENTITY_KEYS = ("format_version", "frame_encoding", "generator", "seed", "config", "frame_shape", "views_per_scene",
                 "viewpoint_kind", "viewpoint_names", "shard_size")


def shard_file_name(dataset: str, split: str, index: int, count: int) -> str:
    """Return the file name of shard `index` of `count` in a split, e.g. `salesman-train-00003-of-00098.h5`."""
    return f"{dataset}-{split}-{index:05d}-of-{count:05d}.h5"


def check_dataset_name(name: str) -> None:
    """Raise UserError unless `name` is an allowed dataset name (DATASET_NAME)."""
    if not DATASET_NAME.fullmatch(name):
        raise UserError(f"dataset name '{name}' is not allowed: use 1 to 100 letters, digits, '_', '.' and '-' "
                        f"(starting with a letter or digit)")


def manifest_path(folder, dataset: str) -> Path:
    """Return the path of the manifest of `dataset` in `folder`."""
    return Path(folder) / f"{dataset}.json"


def shard_count(scenes: int, shard_size: int) -> int:
    """Return how many shards hold `scenes` scenes at `shard_size` scenes per shard (0 for an empty split)."""
    return math.ceil(scenes / shard_size)


def frame_encoding(m: dict) -> str:
    """Return how the dataset of manifest `m` stores its frames: PIXELS or JPEG."""
    return m.get("frame_encoding", PIXELS)


def encoding_keys(encoding: str) -> dict:
    """Return the manifest keys (and shard attributes) that say a frame encoding: its format_version, and
    frame_encoding for JPEG (a pixel dataset's are those of FORMAT_VERSION alone)."""
    return {"format_version": FRAME_ENCODING_VERSIONS[encoding], **({"frame_encoding": encoding} if encoding != PIXELS
                                                                     else {})}


def new_manifest(spec, seed: int, scenes: dict, shard_size: int, version: str) -> dict:
    """Return a manifest (dict) for `spec` with no completed shards; `scenes` maps split -> scene count."""
    return {
        "format": FORMAT,
        **encoding_keys(spec.frame_encoding),
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
    """Read and check a manifest; return it as a dict. Raises UserError (one line naming the damage) if it is
    missing, empty, not JSON, not a manifest, or its keys, counts and shard list do not agree."""
    path = Path(path)
    m = read_manifest_json(path, FORMAT, "a jumpdata manifest")
    check_structure(path, m, path.stem)
    return m


def read_manifest_json(path: Path, kind: str, what: str) -> dict:
    """Return the JSON object in `path`, checked to have format `kind` and a version this jumpdata reads;
    UserError (one line, `what` naming the kind) if it is missing, empty, not JSON or of another kind."""
    if (path.exists() or path.is_symlink()) and not path.is_file():
        raise UserError(f"manifest {path} is not a readable file ({_what_it_is(path)})")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"no manifest {path}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read manifest {path}: {one_line(e)}") from None
    if not text.strip():
        raise UserError(f"manifest {path} is empty (damaged)")
    try:
        m = json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"manifest {path} is not valid JSON (damaged: {one_line(e)})") from None
    if not isinstance(m, dict) or m.get("format") != kind:
        raise UserError(f"{path} is not {what}")
    if m.get("format_version") not in READABLE_VERSIONS:
        raise UserError(f"{path} has format version {m.get('format_version')}; this jumpdata reads "
                        f"{' and '.join(map(str, READABLE_VERSIONS))}")
    return m


def _what_it_is(path: Path) -> str:
    """Return what a path that is not a regular file is, in a few words."""
    try:
        if path.is_dir():
            return "a folder"
        return "not a regular file" if path.exists() else "a symbolic link to nothing, or a loop of links"
    except OSError as e:
        return one_line(e)


def _is_count(value, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def check_structure(path: Path, m: dict, dataset: str) -> None:
    """Raise UserError unless manifest `m` (read from `path`) describes `dataset` and has the keys readers rely
    on, with values of the right types, split counts that agree with each other, and a shard list naming only
    its own shards, each once, with the scene count its place requires."""
    missing = [key for key in REQUIRED_KEYS if key not in m]
    if missing:
        raise UserError(f"{path} is damaged: it has no {', '.join(missing)}")

    def damaged(what):
        return UserError(f"{path} is damaged: {what}")

    if m["dataset"] != dataset:
        raise damaged(f"it describes dataset '{m['dataset']}', not '{dataset}'")
    if frame_encoding(m) not in FRAME_ENCODING_VERSIONS or (m["format_version"] == FRAME_ENCODING_VERSIONS[JPEG]) != (
            frame_encoding(m) == JPEG):
        raise damaged(f"frame_encoding {frame_encoding(m)!r} does not go with format version {m['format_version']}")
    shape = m["frame_shape"]
    if not (isinstance(shape, list) and len(shape) == 3 and all(_is_count(x, 1) for x in shape) and shape[2] == 3):
        raise damaged(f"frame_shape {shape} is not [height, width, 3]")
    if not _is_count(m["views_per_scene"], 1) or not _is_count(m["shard_size"], 1):
        raise damaged("views_per_scene and shard_size must be positive integers")
    if m["viewpoint_kind"] not in VIEWPOINT_NAMES or m["viewpoint_names"] != list(VIEWPOINT_NAMES[m["viewpoint_kind"]]):
        raise damaged(f"viewpoint_kind {m['viewpoint_kind']!r} with names {m['viewpoint_names']!r} is not known")
    labels = m.get("labels", {})
    if not isinstance(labels, dict):
        raise damaged("its labels are not an object")
    for name, spec in labels.items():
        if not (isinstance(spec, dict) and spec.get("dtype") in LABEL_DTYPES and isinstance(spec.get("shape"), list)
                and all(_is_count(x) for x in spec["shape"])):
            raise damaged(f"label {name!r} is {spec!r}, not a numeric dtype ({', '.join(LABEL_DTYPES)}) and a shape")
    try:
        for split in SPLITS:
            info = m["splits"][split]
            scenes, count, shards = info["scenes"], info["shard_count"], info["shards"]
            if not (_is_count(scenes) and _is_count(count) and isinstance(shards, list)):
                raise damaged(f"{split} scenes, shard_count and shards must be counts and a list")
            if count != shard_count(scenes, m["shard_size"]):
                raise damaged(f"{split} has shard_count {count}, but {scenes} scenes at shard_size {m['shard_size']} "
                              f"make {shard_count(scenes, m['shard_size'])}")
            seen = set()
            for entry in shards:
                first = entry["first_scene"]
                index = first // m["shard_size"] if _is_count(first) else -1
                expected = shard_file_name(m["dataset"], split, index, count)
                if (entry["file"] != expected or not 0 <= index < count or first % m["shard_size"]
                        or not isinstance(entry["sha256"], str)):
                    raise damaged(f"its entry for '{entry['file']}' is not one of its shards")
                if entry["scenes"] != min(m["shard_size"], scenes - first):
                    raise damaged(f"its entry for '{entry['file']}' says {entry['scenes']} scenes, but that shard "
                                  f"holds {min(m['shard_size'], scenes - first)}")
                if index in seen:
                    raise damaged(f"it lists '{entry['file']}' twice")
                seen.add(index)
    except (KeyError, TypeError) as e:
        raise damaged(f"missing or malformed {one_line(e)}") from None


def list_datasets(folder) -> list:
    """Return the sorted names of the datasets in `folder`: every NAME.json that is a jumpdata manifest, or that
    cannot be read as JSON at all, or is not a regular file (a damaged manifest, reported when loaded; jumpdata
    writes no other .json into a shard folder). JSON files of other programs are left out. Raises UserError if
    `folder` is not a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    names = []
    for p in sorted(folder.glob("*.json")):
        if not p.is_file():   # a folder, a dangling link or a loop of links in a manifest's place: damaged
            names.append(p.stem)
            continue
        try:
            m = json.loads(p.read_text())
        except (OSError, ValueError):   # empty, truncated, not text: a damaged manifest
            names.append(p.stem)
            continue
        if isinstance(m, dict) and m.get("format") == FORMAT:
            names.append(p.stem)
    return names


def resolve_dataset(folder, dataset=None) -> str:
    """Return the dataset name to use in `folder`: `dataset` if given and present, else the only one there.

    Raises UserError when the folder holds no dataset, or several and none was named.
    """
    names = list_datasets(folder)
    return choose_name(names, dataset,
                       missing=f"no dataset '{dataset}' in {folder} (it holds: {', '.join(names) or 'none'})",
                       empty=f"{folder} holds no jumpdata dataset (no manifest NAME.json)",
                       several=f"{folder} holds several datasets ({', '.join(names)}); choose one with --dataset NAME")


def choose_name(names: list, wanted, missing: str, empty: str, several: str) -> str:
    """Return `wanted` if given and one of `names`, else the only one of `names`; UserError with the message
    `missing` (wanted is not there), `empty` (no names) or `several` (more than one and none wanted)."""
    if wanted is not None:
        if wanted not in names:
            raise UserError(missing)
        return wanted
    if not names:
        raise UserError(empty)
    if len(names) > 1:
        raise UserError(several)
    return names[0]
