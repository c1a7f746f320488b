"""Reading a dataset: one split of a shard folder as a random-access collection of scenes.

HDF5 files are opened lazily, on first access in the process that reads, and
the object pickles without its open handles, so it can be handed to torch
DataLoader workers or a process pool. Frames are read chunk by chunk and
inflated with ISA-L (scene_shards/chunks.py); a shard's viewpoints are read
whole when it is opened, so a scene's views cost no further HDF5 call.
"""

import bisect
from pathlib import Path
from typing import NamedTuple

import h5py
import numpy as np

from .chunks import INFLATE_ERRORS, FrameChunks
from .common import UserError, one_line
from .jpeg_frames import DECODE_ERRORS, JpegFrames, is_jpeg_frames
from .manifest import FORMAT, JPEG, SPLITS, VIEWPOINT_NAMES, frame_encoding, load_manifest, manifest_path, \
    resolve_dataset


def readable_header_problem(h5, manifest: dict, split: str, entry: dict):
    """shard_header_problem, then non_finite_problem, with a header or array that h5py cannot read reported as a
    problem instead of raised."""
    try:
        return shard_header_problem(h5, manifest, split, entry) or non_finite_problem(h5)
    except (OSError, KeyError, ValueError, TypeError) as e:
        return f"its header cannot be read ({one_line(e)})"


def non_finite_problem(h5):
    """Return what is wrong (a short phrase) if the viewpoints or a float label of the open shard `h5` hold NaN or
    an infinity, or None. Reads those small arrays once per shard (frames are not read)."""
    arrays = {"viewpoints": h5["viewpoints"]}
    arrays.update({f"labels/{name}": d for name, d in h5["labels"].items() if d.dtype.kind == "f"} if "labels" in h5
                  else {})
    for name, dataset in arrays.items():
        values = dataset[()]
        if not np.isfinite(values).all():
            return f"its {name} hold {np.size(values) - np.isfinite(values).sum()} NaN or infinite values"
    return None


def shard_header_problem(h5, manifest: dict, split: str, entry: dict):
    """Return what is wrong (a short phrase) with the open shard `h5` listed as `entry` of `split` in `manifest`,
    or None: its attributes (format, dataset, split, shard_index, shard_count, first_scene, frame_encoding), the
    shapes of its frames ([N, V] of JPEG files for a JPEG dataset) and viewpoints and the dtype and shape of each
    label the manifest lists must be what the manifest says. Reads metadata only; a swapped or foreign file fails."""
    size = manifest["shard_size"]
    expected = {"format": FORMAT, "dataset": manifest["dataset"], "split": split,
                "shard_index": entry["first_scene"] // size, "shard_count": manifest["splits"][split]["shard_count"],
                "first_scene": entry["first_scene"], "frame_encoding": manifest.get("frame_encoding")}
    for key, value in expected.items():
        found = h5.attrs.get(key)
        found = found.item() if hasattr(found, "item") else found
        if found != value:
            return f"its {key} is {found!r}, the manifest says {value!r} (a swapped or foreign file?)"
    views, shape = manifest["views_per_scene"], tuple(manifest["frame_shape"])
    jpeg = frame_encoding(manifest) == JPEG
    shapes = {"frames": (entry["scenes"], views, *(() if jpeg else shape)),
              "viewpoints": (entry["scenes"], views, len(VIEWPOINT_NAMES[manifest["viewpoint_kind"]]))}
    for name, want in shapes.items():
        have = h5[name].shape if name in h5 else None
        if have != want:
            return f"its {name} have shape {have}, the manifest says {want}"
    if jpeg and not is_jpeg_frames(h5["frames"]):
        return f"its frames are {h5['frames'].dtype}, not the JPEG files (variable-length uint8) the manifest says"
    for name, spec in manifest.get("labels", {}).items():
        label = h5.get(f"labels/{name}")
        want = (entry["scenes"], *spec["shape"])
        if not isinstance(label, h5py.Dataset):
            return f"it has no label {name}, which the manifest lists"
        if label.shape != want or label.dtype != np.dtype(spec["dtype"]):
            return (f"its label {name} is {label.dtype}{label.shape}, the manifest says "
                    f"{np.dtype(spec['dtype'])}{want}")
    return None


class OpenShard(NamedTuple):
    """A shard opened for reading: its file, its frames (FrameChunks, or JpegFrames for a JPEG dataset), its
    viewpoints float32 [N, V, D] (read whole)."""
    h5: h5py.File
    frames: object
    viewpoints: np.ndarray


class ShardDataset:
    """One split of one dataset. `scene(i)` returns scene `i` (global index within the split)."""

    def __init__(self, folder, manifest: dict, split: str):
        if split not in SPLITS:
            raise UserError(f"unknown split '{split}' (choose {', '.join(SPLITS)})")
        self.folder = Path(folder)
        self.manifest = manifest
        self.split = split
        info = manifest["splits"][split]
        shards = info["shards"]
        if len(shards) != info["shard_count"] or sum(s["scenes"] for s in shards) != info["scenes"]:
            raise UserError(f"dataset '{manifest['dataset']}' in {folder} is incomplete: {len(shards)} of "
                            f"{info['shard_count']} {split} shards; re-run the command that made it to finish")
        self.entries = shards
        self.files = [self.folder / s["file"] for s in shards]
        missing = [f.name for f in self.files if not f.is_file()]
        if missing:
            raise UserError(f"shard {missing[0]} of dataset '{manifest['dataset']}' is missing from {folder}; "
                            f"re-run the command that made it")
        self.starts = [s["first_scene"] for s in shards]
        self.length = info["scenes"]
        self._handles = {}   # shard index -> OpenShard

    @property
    def name(self) -> str:
        """The dataset name."""
        return self.manifest["dataset"]

    @property
    def frame_shape(self) -> tuple:
        """(H, W, 3) of every frame."""
        return tuple(self.manifest["frame_shape"])

    @property
    def views_per_scene(self) -> int:
        """V, the number of (viewpoint, frame) pairs per scene."""
        return self.manifest["views_per_scene"]

    @property
    def viewpoint_kind(self) -> str:
        """"time" (narrative videos) or "camera" (3D scenes)."""
        return self.manifest["viewpoint_kind"]

    def __len__(self) -> int:
        return self.length

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    def _locate(self, i: int):
        """Return (OpenShard holding scene `i`, its row there, the shard's index), opening the shard on first use."""
        if not 0 <= i < self.length:
            raise IndexError(f"scene {i} out of range 0..{self.length - 1}")
        k = bisect.bisect_right(self.starts, i) - 1
        shard = self._handles.get(k)
        if shard is None:
            h5 = self._open(k)
            shard = self._handles[k] = self._read_shard(k, h5)
        return shard, i - self.starts[k], k

    def _read_shard(self, k: int, h5) -> OpenShard:
        """Return the OpenShard of shard k, open as `h5` (UserError naming it when its arrays cannot be read)."""
        try:
            frames = JpegFrames(h5["frames"], self.frame_shape) if frame_encoding(self.manifest) == JPEG else \
                FrameChunks(h5["frames"])
            return OpenShard(h5, frames, h5["viewpoints"][()])
        except (OSError, KeyError, ValueError) as e:
            h5.close()
            raise UserError(f"cannot read shard {self.files[k]} ({one_line(e)}); run `jumpdata info` to check") \
                from None

    def _open(self, k: int):
        """Open shard k and check its header against the manifest; returns the h5py.File (UserError if damaged)."""
        try:
            h5 = h5py.File(self.files[k], "r")
        except OSError as e:
            raise UserError(f"cannot read shard {self.files[k]} ({one_line(e)}); run `jumpdata info` to check") \
                from None
        problem = readable_header_problem(h5, self.manifest, self.split, self.entries[k])
        if problem:
            h5.close()
            raise UserError(f"shard {self.files[k]} does not match its manifest: {problem}; run `jumpdata info` "
                            f"to check")
        return h5

    def check_shards(self) -> None:
        """Open every shard of the split once and check its header (attributes, array shapes) against the
        manifest: cheap (metadata only), it names a truncated, swapped or foreign shard before any work starts.
        The full sha256 check is `jumpdata info`. Raises UserError on the first bad shard."""
        for k in range(len(self.files)):
            if k not in self._handles:
                self._open(k).close()

    def _read(self, i: int, read):
        """Return read(OpenShard, row) for scene `i`; a damaged shard becomes a UserError that names it."""
        shard, row, k = self._locate(i)
        try:
            return read(shard, row)
        except (OSError, KeyError, ValueError, *INFLATE_ERRORS, *DECODE_ERRORS) as e:
            raise UserError(f"cannot read scene {i} from shard {self.files[k]} ({one_line(e)}); run `jumpdata info` "
                            f"to check") from None

    def frames(self, i: int, views=None) -> np.ndarray:
        """Return the frames of scene `i`: uint8 [V, H, W, 3], or only the listed `views` (in that order)."""
        frames = self._read(i, lambda shard, row: shard.frames.read(row, views))
        return frames if frames.flags.writeable else frames.copy()

    def viewpoints(self, i: int) -> np.ndarray:
        """Return the viewpoints of scene `i`: float32 [V, D] (see the manifest's viewpoint_names)."""
        return self._read(i, lambda shard, row: shard.viewpoints[row].copy())

    def labels(self, i: int) -> dict:
        """Return the labels of scene `i`: {name: array} with the per-scene shapes listed in the manifest."""
        return self._read(i, lambda shard, row: {name: shard.h5["labels"][name][row]
                                                 for name in shard.h5.get("labels", {})})

    def scene(self, i: int) -> dict:
        """Return scene `i`: {"frames": uint8 [V,H,W,3], "viewpoints": float32 [V,D], "labels": {...}}."""
        return {"frames": self.frames(i), "viewpoints": self.viewpoints(i), "labels": self.labels(i)}

    def extra(self, name: str) -> np.ndarray:
        """Return a dataset stored once per shard (e.g. "digit_bank/images"), read from the first shard.

        Raises UserError when the shard has no such dataset."""
        return self._read(0, lambda shard, row: shard.h5[name][()])

    def close(self) -> None:
        """Close any open HDF5 files (reading again reopens them)."""
        for shard in self._handles.values():
            shard.h5.close()
        self._handles = {}


def open_dataset(folder, dataset=None, split: str = "train") -> ShardDataset:
    """Open one split of a dataset in `folder`; `dataset` may be omitted when the folder holds only one.

    Returns a ShardDataset. Raises UserError when the folder holds no dataset,
    several without a name, or an incomplete one.
    """
    name = resolve_dataset(folder, dataset)
    return ShardDataset(folder, load_manifest(manifest_path(folder, name)), split)

