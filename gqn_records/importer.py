"""`jumpdata import-gqn`: a downloaded gqn-datasets folder -> jumpdata shards.

The files are indexed first (every record's length checksum, the file sizes, the file list; nothing is written
if any of that is wrong). Scene j of a split is then record j of the split's files taken in order; the shared
generation driver (scene_shards.generation) reads, decodes and writes the scenes on all cores, resumably, with
the same bytes for any worker count.
"""

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from scene_shards.common import UserError
from scene_shards.generation import GeneratorSpec, generate_dataset
from scene_shards.manifest import JPEG, PIXELS, SPLITS

from .framing import index_records, open_for_reading, read_record
from .layout import GQN_DATASETS, RAW_CAMERA, file_name, parse_file_name
from .scenes import RESIZE, frame_size_of, record_to_scene

GENERATOR = "gqn"
JPEG_DECODER = "libjpeg-turbo (simplejpeg), RGB"


@dataclass
class SplitIndex:
    """Where each record of one split is: scene j is record j - starts[f] of file paths[f], starts[f] <= j."""

    paths: list             # the split's files, in order
    starts: np.ndarray      # int64 [F + 1]: the first scene of each file, then the split's scene count
    offsets: np.ndarray     # int64 [R]: where each record's data starts in its file
    lengths: np.ndarray     # int64 [R]: each record's data size in bytes

    def where(self, j: int) -> tuple:
        """Return (file index, record index in that file) of scene j."""
        f = int(np.searchsorted(self.starts, j, "right")) - 1
        return f, j - int(self.starts[f])


def find_root(src, dataset: str) -> Path:
    """Return the folder holding `dataset`'s train/ and test/ folders: SRC/DATASET, or SRC itself.
    Raises UserError when neither has one."""
    for root in (Path(src) / dataset, Path(src)):
        if any((root / split).is_dir() for split in SPLITS):
            return root
    raise UserError(f"{src} holds no {dataset}/train or {dataset}/test folder (a gqn-datasets download)")


def split_files(folder: Path, dataset: str, split: str, files: Optional[tuple]) -> list:
    """Return the paths of the files of one split to import, in order: all N (N from the dataset table, or
    from the file names for a dataset it does not know), or files A..B of --files. Raises UserError when the
    folder is missing, or any of those files is."""
    if not folder.is_dir():
        raise UserError(f"{folder} is missing; import the other split alone with --split")
    known = GQN_DATASETS.get(dataset)
    if known is not None:
        count = known.train_files if split == "train" else known.test_files
    else:
        counts = {parsed[1] for parsed in map(parse_file_name, os.listdir(folder)) if parsed}
        if len(counts) != 1:
            raise UserError(f"{folder} holds no files named like 0001-of-0010.tfrecord" if not counts else
                            f"{folder} holds files of several sets (-of-{', -of-'.join(map(str, sorted(counts)))})")
        count = counts.pop()
    first, last = files or (1, count)
    if last > count:
        raise UserError(f"--files {first}-{last}: {split} has only {count} files")
    wanted = [folder / file_name(i, count) for i in range(first, last + 1)]
    missing = [p.name for p in wanted if not p.is_file()]
    if missing:
        raise UserError(f"{folder}: {len(missing)} of the {len(wanted)} files to import are missing (first: "
                        f"{missing[0]}); import a range you have with --files A-B")
    return wanted


def index_split(paths: list) -> SplitIndex:
    """Return the SplitIndex of `paths` (every header read and checked; see framing.index_records)."""
    indexed = [index_records(p) for p in paths]
    counts = [len(offsets) for offsets, _ in indexed]
    return SplitIndex(paths=[str(p) for p in paths], starts=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                      offsets=np.concatenate([o for o, _ in indexed] or [np.zeros(0, np.int64)]),
                      lengths=np.concatenate([n for _, n in indexed] or [np.zeros(0, np.int64)]))


def read_scenes(index: dict, frames: str, config: dict) -> Callable:
    """The spec's range_maker: return make_range(split, first, count) -> the scenes first.. of the split, each
    read from its file (data checksum checked) and decoded by scenes.record_to_scene (frames JPEG: the scenes
    keep their JPEG files)."""
    views, size, side = config["sequence_size"], config["frame_size"], config.get("size")

    def make_range(split: str, first: int, count: int) -> list:
        split_index, scenes, open_file = index[split], [], (None, None)
        try:
            for j in range(first, first + count):
                f, record = split_index.where(j)
                if open_file[0] != f:
                    if open_file[1] is not None:
                        os.close(open_file[1])
                    open_file = (f, open_for_reading(split_index.paths[f]))
                where = f"{split_index.paths[f]}: record {record}"
                data = read_record(open_file[1], int(split_index.offsets[j]), int(split_index.lengths[j]), where)
                scenes.append(record_to_scene(data, views, size, where, side, frames == JPEG))
        finally:
            if open_file[1] is not None:
                os.close(open_file[1])
        return scenes

    return make_range


def _dataset_shape(dataset: str, index: dict) -> tuple:
    """Return (views per scene, frame side) from the table, or from the first record of an unknown dataset."""
    if dataset in GQN_DATASETS:
        return GQN_DATASETS[dataset].sequence_size, GQN_DATASETS[dataset].frame_size
    for split_index in index.values():
        if len(split_index.offsets):
            where = f"{split_index.paths[0]}: record 0"
            fd = open_for_reading(split_index.paths[0])
            try:
                data = read_record(fd, int(split_index.offsets[0]), int(split_index.lengths[0]), where)
            finally:
                os.close(fd)
            return frame_size_of(data, where)
    raise UserError("the files to import hold no record")


def gqn_spec(src, dataset: str, name: str, splits: tuple, files: Optional[tuple], size: Optional[int] = None,
             frames: str = PIXELS) -> tuple:
    """Index the files and return (GeneratorSpec, {split: scene count}) of an import; `size`: the frame side to
    resize to (None or the source's side: no resizing); `frames`: PIXELS (decoded) or JPEG (the source's files).
    Raises UserError for damaged input, or resizing asked of kept JPEGs."""
    root = find_root(src, dataset)
    index = {split: index_split(split_files(root / split, dataset, split, files)) for split in splits}
    views, source_size = _dataset_shape(dataset, index)
    resize = {"size": size, "resize": RESIZE} if size not in (None, source_size) else {}
    if resize and frames == JPEG:
        raise UserError(f"--size {size}: --frames jpeg keeps the source's {source_size}x{source_size} JPEG files as "
                        f"they are; resize with --frames pixels")
    size = resize.get("size", source_size)
    config = {"source_dataset": dataset, "frame_size": source_size, "sequence_size": views, **resize,
              "camera_convention": RAW_CAMERA, "jpeg_decoder": JPEG_DECODER,
              "files": {split: [{"file": Path(p).name, "records": int(b - a)} for p, a, b in
                                zip(index[split].paths, index[split].starts, index[split].starts[1:])]
                        if split in index else [] for split in SPLITS}}
    spec = GeneratorSpec(dataset=name, generator=GENERATOR, config=config, frame_shape=(size, size, 3),
                         views_per_scene=views, viewpoint_kind="camera", labels={}, scene_maker=None,
                         range_maker=partial(read_scenes, index, frames), frame_encoding=frames)
    return spec, {split: int(index[split].starts[-1]) if split in index else 0 for split in SPLITS}


def import_gqn(src, dataset: str, out, name: Optional[str] = None, splits: tuple = SPLITS,
               files: Optional[tuple] = None, workers: Optional[int] = None, shard_size: int = 1000,
               on_progress: Optional[Callable] = None, version: str = "0", size: Optional[int] = None,
               frames: str = PIXELS) -> dict:
    """Import GQN dataset `dataset` from the gqn-datasets folder `src` into the shard folder `out` as dataset
    `name` (default: `dataset`); return its manifest. `files` = (A, B) imports files A..B (1-based) of each
    split; `size` resizes every frame to size x size (scenes.RESIZE); `frames` JPEG keeps each view's JPEG file
    instead of its pixels (scene_shards/jpeg_frames.py). Resumes an interrupted import of the same files.
    Raises UserError (one line) for damaged input."""
    spec, scenes = gqn_spec(src, dataset, name or dataset, splits, files, size, frames)
    return generate_dataset(spec, out, n=scenes["train"], test_n=scenes["test"], seed=0, workers=workers,
                            shard_size=shard_size, on_progress=on_progress, version=version)
