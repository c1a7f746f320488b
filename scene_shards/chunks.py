"""The frames' chunks: one scene per HDF5 chunk, a standard zlib stream (the HDF5 deflate filter) made by ISA-L.

Writing: `compress_frames` deflates a scene's frames with python-isal at level 0 (a zlib stream any
zlib, h5py or HDF5 tool inflates); a scene that would not shrink is stored raw, with the deflate filter
marked as skipped in the chunk's filter mask, as HDF5 itself allows. Reading: `FrameChunks` fetches a
scene's chunk with `read_direct_chunk` and inflates it with ISA-L, and hands any chunk it did not write
itself (a raw chunk, another layout or filter) to h5py's own filter pipeline.
"""

import h5py
import numpy as np
from isal import isal_zlib

# ISA-L level (0-3). Level 0 (static Huffman codes) is its fastest, and it gives the same bytes in every process.
# Levels 1 and 2 do not: the same frames compress to other (valid) streams from one fresh process to the next
# (level 1: 12 distinct outputs in 12 processes, bench/deflate_determinism.py, python-isal 1.9.1 on this CPU;
# levels 0 and 3 never differed: docs/format.md, "Why deflate, made by ISA-L, at level 0"), which broke
# byte-identical datasets. Level 3 is as slow as zlib.
DEFLATE_LEVEL = 0
COMPRESSED = 0        # filter mask of a chunk that went through the deflate filter
RAW = 1               # filter mask of a chunk stored as it is: bit 0 set, the first (deflate) filter skipped

#: What a damaged compressed chunk raises when inflated.
INFLATE_ERRORS = (isal_zlib.error,)


def compress_frames(frames: np.ndarray) -> tuple:
    """Return (filter_mask, chunk bytes) of one scene's frames uint8 [V, H, W, 3]: (COMPRESSED, the zlib
    stream of ISA-L level DEFLATE_LEVEL) or, when that is not smaller than the frames, (RAW, their bytes)."""
    frames = np.ascontiguousarray(frames)
    data = isal_zlib.compress(frames, DEFLATE_LEVEL)
    if len(data) >= frames.nbytes:
        return RAW, frames.tobytes()
    return COMPRESSED, data


def deflate_filter() -> dict:
    """Return the h5py create_dataset options of the frames: the standard deflate filter, nothing else."""
    return {"compression": "gzip", "compression_opts": DEFLATE_LEVEL, "shuffle": False, "fletcher32": False}


class FrameChunks:
    """The frames of one open shard, read one scene at a time: `read(row)` returns uint8 [V, H, W, 3]."""

    def __init__(self, frames: h5py.Dataset):
        self.dataset = frames
        self.scene_shape = frames.shape[1:]
        self.origin = (0,) * len(self.scene_shape)
        plist = frames.id.get_create_plist()
        filters = [plist.get_filter(k)[0] for k in range(plist.get_nfilters())]
        # Our layout: a chunk per scene, deflate the only filter. Anything else goes through h5py.
        self.direct = (frames.chunks == (1, *self.scene_shape) and frames.dtype == np.uint8
                       and filters == [h5py.h5z.FILTER_DEFLATE])

    def read(self, row: int, views=None) -> np.ndarray:
        """Return the frames of scene `row` of the shard, uint8 [V, H, W, 3] (read-only when inflated here), or
        only the listed `views` (in that order, a copy)."""
        frames = None
        if self.direct:
            mask, data = self.dataset.id.read_direct_chunk((row, *self.origin))
            if mask == COMPRESSED:
                frames = np.frombuffer(isal_zlib.decompress(data), np.uint8).reshape(self.scene_shape)
        frames = self.dataset[row] if frames is None else frames
        return frames if views is None else frames[np.asarray(views)]
