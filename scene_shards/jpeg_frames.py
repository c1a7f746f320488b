"""Frames kept as JPEG images (`import-gqn --frames jpeg`, format version 3): a shard's `frames` is a
variable-length uint8 dataset [N, V], each element the bytes of one view's JPEG file, decoded when read
(libjpeg-turbo through simplejpeg, RGB). The pixels are those an import with decoded frames stores.
"""

import h5py
import numpy as np
import simplejpeg

#: What a damaged JPEG raises when decoded.
DECODE_ERRORS = (ValueError, RuntimeError)


def jpeg_dtype() -> np.dtype:
    """Return the HDF5 element type of the frames: a variable-length sequence of uint8 (one JPEG file)."""
    return h5py.vlen_dtype(np.uint8)


def is_jpeg_frames(frames: h5py.Dataset) -> bool:
    """Return True when the dataset `frames` holds variable-length uint8 elements (JPEG files)."""
    return h5py.check_vlen_dtype(frames.dtype) == np.dtype(np.uint8)


def check_jpegs(jpegs, views: int) -> list:
    """Return a scene's `jpegs` (its `frames`) as a list of `views` bytes objects; ValueError if it is not one."""
    if not isinstance(jpegs, (list, tuple)) or len(jpegs) != views or \
            not all(isinstance(j, (bytes, bytearray)) for j in jpegs):
        raise ValueError(f"scene frames are not a list of {views} JPEG files")
    return list(jpegs)


def jpeg_rows(scenes: list) -> np.ndarray:
    """Return the JPEG files of n scenes (lists of V) as the object array [n, V] of uint8 arrays h5py writes into
    n rows of frames at once."""
    rows = np.empty((len(scenes), len(scenes[0]) if scenes else 0), dtype=object)
    for row, jpegs in zip(rows, scenes):
        row[:] = [np.frombuffer(j, np.uint8) for j in jpegs]
    return rows


class JpegFrames:
    """The JPEG frames of one open shard: `read(row, views)` returns them decoded, uint8 [V, H, W, 3]."""

    def __init__(self, frames: h5py.Dataset, frame_shape: tuple):
        self.dataset = frames
        self.frame_shape = tuple(frame_shape)

    def read(self, row: int, views=None) -> np.ndarray:
        """Return the frames of scene `row` (or only the listed `views`, in that order), uint8 [V, H, W, 3];
        ValueError when a stored JPEG is not one of frame_shape."""
        files = self.dataset[row]
        picks = range(len(files)) if views is None else [int(v) for v in np.asarray(views).ravel()]
        frames = np.empty((len(picks), *self.frame_shape), np.uint8)
        for k, view in enumerate(picks):
            image = simplejpeg.decode_jpeg(files[view], colorspace="RGB")
            if image.shape != self.frame_shape:
                raise ValueError(f"view {view} is a JPEG of {image.shape[1]}x{image.shape[0]} pixels, expected "
                                 f"{self.frame_shape[1]}x{self.frame_shape[0]}")
            frames[k] = image
        return frames
