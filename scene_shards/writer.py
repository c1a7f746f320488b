"""Writing one shard: an HDF5 file of N scenes, written to a temporary name and renamed when complete.

Frames are stored one scene per chunk with the standard HDF5 deflate (gzip)
filter, so any HDF5 reader can decode them. The chunks are compressed by the
generation workers (`check_scene`, `encode_block`, with ISA-L: scene_shards/chunks.py) and
written as they are here, which keeps the writing process light.

A shard is assembled in memory (HDF5's core driver, no backing store: its
compressed size, tens of MB at the default shard size) and its finished image
is written by `files.atomic_open`. So HDF5 never writes to the disk itself: a
full disk or an I/O error is an OSError of one plain write, reported in one
line, instead of an HDF5 file left in a state whose close crashes the process.
The bytes are those the file driver would have written.
"""

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np

from .chunks import compress_frames, deflate_filter
from .common import UserError, one_line
from .files import atomic_open
from .jpeg_frames import check_jpegs, jpeg_dtype, jpeg_rows
from .manifest import FORMAT, JPEG, PIXELS, VIEWPOINT_NAMES, encoding_keys


def encode_block(scenes: list, checked: list, encoding: str = PIXELS) -> dict:
    """Compress the frames of generated scenes (consecutive ones of a shard) and stack their checked viewpoints
    and labels (`checked[i]` = check_scene(scenes[i], spec)).

    Returns {"frames": [(filter mask, chunk bytes) of uint8 [V,H,W,3] per scene] (chunks.compress_frames; for
    the JPEG `encoding`: each scene's list of V JPEG files as it is), "viewpoints": float32 [n,V,D],
    "labels": {name: array [n, ...] of the spec's dtype and per-scene shape}}.
    """
    frames = [scene["frames"] if encoding == JPEG else compress_frames(scene["frames"]) for scene in scenes]
    return {"frames": frames,
            "viewpoints": np.stack([viewpoints for viewpoints, _ in checked]),
            "labels": {name: np.stack([labels[name] for _, labels in checked]) for name in checked[0][1]}}


def check_scene(scene: dict, spec) -> tuple:
    """Return (viewpoints float32 [V,D], {name: label of the spec's dtype}) of one scene; ValueError when its
    frames, viewpoints or labels have another shape, or a label holds values its dtype cannot hold. A JPEG spec's
    frames are a list of V JPEG files (bytes), decoded and checked by its scene maker."""
    frames = scene["frames"]
    expected = (spec.views_per_scene, *spec.frame_shape)
    if spec.frame_encoding == JPEG:
        check_jpegs(frames, spec.views_per_scene)
    elif frames.dtype != np.uint8 or frames.shape != expected:
        raise ValueError(f"scene frames are {frames.dtype}{frames.shape}, expected uint8{expected}")
    viewpoints = np.asarray(scene["viewpoints"], dtype=np.float32)
    if viewpoints.shape != (spec.views_per_scene, len(VIEWPOINT_NAMES[spec.viewpoint_kind])):
        raise ValueError(f"scene viewpoints have shape {viewpoints.shape}")
    labels = {}
    for name, (dtype, shape) in spec.labels.items():
        value = np.asarray(scene["labels"][name])
        if value.shape != tuple(shape):
            raise ValueError(f"label {name} has shape {value.shape}, expected {tuple(shape)}")
        if value.dtype != dtype:   # values of the label's own dtype fit it; others are checked, then cast
            if np.issubdtype(dtype, np.integer) and value.size and not (
                    np.iinfo(dtype).min <= value.min() and value.max() <= np.iinfo(dtype).max):
                raise ValueError(f"label {name} holds values outside the range of {dtype}")
            value = value.astype(dtype)
        labels[name] = value
    return viewpoints, labels


class ShardWriter:
    """Writes one shard file; `finish()` renames it into place and returns its manifest entry."""

    def __init__(self, folder, file_name: str, spec, split: str, shard_index: int, shard_count: int,
                 first_scene: int, scenes: int):
        self.path = Path(folder) / file_name
        self.split = split
        self.scenes = scenes
        self.first_scene = first_scene
        self.spec = spec
        self.viewpoints = np.zeros((scenes, spec.views_per_scene, len(VIEWPOINT_NAMES[spec.viewpoint_kind])), np.float32)
        self.labels = {name: np.zeros((scenes, *shape), dtype) for name, (dtype, shape) in spec.labels.items()}
        self.written = 0
        self.h5 = h5py.File(self.path, "w", driver="core", backing_store=False, libver="earliest",
                            track_order=False)
        attrs = {"format": FORMAT, **encoding_keys(spec.frame_encoding), "dataset": spec.dataset, "split": split,
                 "shard_index": shard_index, "shard_count": shard_count, "first_scene": first_scene,
                 "viewpoint_kind": spec.viewpoint_kind,
                 "viewpoint_names": json.dumps(list(VIEWPOINT_NAMES[spec.viewpoint_kind]))}
        for key, value in attrs.items():
            self.h5.attrs[key] = value
        v = spec.views_per_scene
        if spec.frame_encoding == JPEG:
            self.frames = self.h5.create_dataset("frames", shape=(scenes, v), dtype=jpeg_dtype(), track_times=False)
        else:
            self.frames = self.h5.create_dataset(
                "frames", shape=(scenes, v, *spec.frame_shape), dtype=np.uint8,
                chunks=(1, v, *spec.frame_shape), track_times=False, **deflate_filter())

    def add(self, block: dict) -> None:
        """Append the next scenes of the shard, a block made by `encode_block` (blocks arrive in order)."""
        i, n = self.written, len(block["frames"])
        if self.spec.frame_encoding == JPEG:
            self.frames[i:i + n] = jpeg_rows(block["frames"])
        else:
            for row, (mask, chunk) in enumerate(block["frames"], start=i):
                self.frames.id.write_direct_chunk((row, 0, 0, 0, 0), chunk, filter_mask=mask)
        self.viewpoints[i:i + n] = block["viewpoints"]
        for name, value in block["labels"].items():
            self.labels[name][i:i + n] = value
        self.written += n

    def finish(self) -> dict:
        """Write the small arrays, write the shard's image to a temporary file and rename it into place; return
        {"file", "scenes", "first_scene", "sha256"}. A failed write (a full disk) leaves no temporary file and
        raises UserError naming the shard."""
        if self.written != self.scenes:
            raise RuntimeError(f"shard {self.path.name} got {self.written} of {self.scenes} scenes")
        self.h5.create_dataset("viewpoints", data=self.viewpoints, track_times=False)
        for name, value in self.labels.items():
            self.h5.create_dataset(f"labels/{name}", data=value, track_times=False)
        for name, value in (self.spec.extra_datasets or {}).items():
            self.h5.create_dataset(name, data=np.asarray(value), track_times=False)
        self.h5.flush()
        image = self.h5.id.get_file_image()
        self.h5.close()
        try:
            with atomic_open(self.path, "wb") as f:
                f.write(image)
        except OSError as e:
            raise UserError(f"cannot write shard {self.path} ({one_line(e)}); the complete shards are kept: free "
                            f"space and run the same command again") from None
        return {"file": self.path.name, "scenes": self.scenes, "first_scene": self.first_scene,
                "sha256": hashlib.sha256(image).hexdigest()}

    def abandon(self) -> None:
        """Drop an unfinished shard (it is only in memory)."""
        self.h5.close()
