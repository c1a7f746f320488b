"""Parts: one dataset made by N independent runs (`--part K/N`, on N machines), joined by `jumpdata merge`.

The shards of a dataset are a fixed function of its scene counts and shard size, so they can be dealt out
before any is made: number the shards of the train split, then those of the test split, 0, 1, 2, ...;
part K of N owns the shards whose number g has g mod N = K - 1. A part writes exactly those shards, under
their usual names and with the bytes a one-machine run gives them, plus its part manifest
`NAME.part-K-of-N.json` (a manifest listing only its own shards) while holding its own lock
`.NAME.part-K-of-N.lock`, so the N parts may write into one shared folder at once. See docs/format.md,
"Many machines".
"""

import re
from dataclasses import dataclass
from pathlib import Path

from .common import UserError
from .manifest import SPLITS, check_structure, manifest_path, read_manifest_json, shard_file_name

PART_FORMAT = "jumpdata-part"
MAX_PARTS = 99_999   # no more parts than a split may have shards
PART_SPEC = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Part:
    """Part `index` (1-based) of `count`."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_part(text: str) -> Part:
    """Return the Part written `K/N` (1 <= K <= N); UserError (one line) for anything else."""
    match = PART_SPEC.fullmatch(text.strip())
    if not match:
        raise UserError(f"{text}: write K/N, e.g. 2/8 for the second of 8 parts")
    index, count = int(match[1]), int(match[2])
    if not 1 <= count <= MAX_PARTS:
        raise UserError(f"{text}: N must be between 1 and {MAX_PARTS}")
    if not 1 <= index <= count:
        raise UserError(f"{text}: K must be between 1 and N ({count}); parts are numbered from 1")
    return Part(index, count)


def part_file_stem(dataset: str, part: Part) -> str:
    """Return `NAME.part-K-of-N`, the name of part `part`'s manifest without `.json`."""
    return f"{dataset}.part-{part.index}-of-{part.count}"


def part_manifest_path(folder, dataset: str, part) -> Path:
    """Return the path of the manifest a run of `part` of `dataset` writes in `folder` (for part None, a
    one-machine run: the dataset's manifest NAME.json)."""
    return manifest_path(folder, dataset) if part is None else Path(folder) / f"{part_file_stem(dataset, part)}.json"


def lock_name(dataset: str, part=None) -> str:
    """Return the name of the lock file a generation of `part` of `dataset` holds in its folder: `.NAME.lock` for
    part None (a one-machine run, and `merge`), `.NAME.part-K-of-N.lock` for a part."""
    return f".{dataset}.lock" if part is None else f".{part_file_stem(dataset, part)}.lock"


def owned_shards(manifest: dict, part) -> set:
    """Return the file names of the shards of `manifest` (a dataset or part manifest) that `part` owns: all of
    them for part None."""
    names, g = set(), 0
    for split in SPLITS:
        count = manifest["splits"][split]["shard_count"]
        for k in range(count):
            if part is None or g % part.count == part.index - 1:
                names.add(shard_file_name(manifest["dataset"], split, k, count))
            g += 1
    return names


def as_part_manifest(manifest: dict, part: Part) -> dict:
    """Return `manifest` (a new dataset manifest) turned into the manifest of `part`: the same keys in the same
    order, the format PART_FORMAT, and "part": {"index", "count"} at the end."""
    return {**manifest, "format": PART_FORMAT, "part": {"index": part.index, "count": part.count}}


PART_FILE = re.compile(r"(?P<dataset>.+)\.part-(?P<index>\d+)-of-(?P<count>\d+)\.json")


def named_part(path) -> tuple:
    """Return (dataset, Part) that the file name of part manifest `path` (NAME.part-K-of-N.json) gives;
    UserError when it is not named like one."""
    match = PART_FILE.fullmatch(Path(path).name)
    if not match:
        raise UserError(f"{path} is not named like a part manifest (NAME.part-K-of-N.json)")
    return match["dataset"], Part(int(match["index"]), int(match["count"]))


def load_part_manifest(path) -> tuple:
    """Read and check the part manifest at `path`; return (Part, manifest dict). UserError (one line) if it is
    damaged or does not agree with its file name."""
    path = Path(path)
    dataset, part = named_part(path)
    m = read_manifest_json(path, PART_FORMAT, "a jumpdata part manifest")
    check_structure(path, m, dataset)
    if m.get("part") != {"index": part.index, "count": part.count}:
        raise UserError(f"{path} is damaged: it says it is part {m.get('part')}, its name says {part}")
    if not {e["file"] for s in SPLITS for e in m["splits"][s]["shards"]} <= owned_shards(m, part):
        raise UserError(f"{path} is damaged: it lists shards that part {part} does not own")
    return part, m


def find_part_manifests(folder) -> list:
    """Return the paths of the files in `folder` named like part manifests (NAME.part-K-of-N.json), sorted."""
    return sorted(p for p in Path(folder).glob("*.part-*-of-*.json") if PART_FILE.fullmatch(p.name) and p.is_file())


def parts_in(folder, dataset: str) -> list:
    """Return [(Part, manifest path)] of the part manifests of `dataset` in `folder`, by file name."""
    return [(part, path) for path in find_part_manifests(folder) for name, part in [named_part(path)]
            if name == dataset]
