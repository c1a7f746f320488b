"""The frames' chunks: deflated by ISA-L when written, read by any HDF5 reader, inflated by ISA-L when read back."""

import subprocess
import sys
import zlib

import h5py
import numpy as np
from narratives import make_spec
from toy_generator import toy_spec

from scene_shards import generate_dataset, open_dataset
from scene_shards.chunks import RAW, FrameChunks, compress_frames
from scene_shards.manifest import FORMAT_VERSION

# Reads every scene of a shard with plain h5py and its gzip filter, with python-isal made unimportable.
PLAIN_H5PY = """
import sys
sys.modules["isal"] = None
import h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    frames = f["frames"]
    assert frames.compression == "gzip", frames.compression
    np.save(sys.argv[2], frames[()])
"""

# Compresses the frames of 1,000 salesman videos (32x32) as the shards store them; prints the sha256 of the chunks.
COMPRESS_VIDEOS = """
import hashlib, numpy as np
from narratives import make_spec
from scene_shards.chunks import compress_frames
spec = make_spec("salesman", size=32)
scenes = spec.block_maker(spec.config)([np.random.default_rng([0, 0, j]) for j in range(1000)])
digest = hashlib.sha256()
for scene in scenes:
    digest.update(compress_frames(scene["frames"])[1])
print(digest.hexdigest())
"""


def test_the_same_frames_compress_to_the_same_bytes_in_every_process():
    # ISA-L's levels 1 and 2 gave other (valid) bytes for a few of these videos from one fresh process to the
    # next, so that one command made shards of other sha256 sums from one run to the next.
    digests = {subprocess.run([sys.executable, "-c", COMPRESS_VIDEOS], check=True, capture_output=True,
                              text=True).stdout for _ in range(5)}
    assert len(digests) == 1


def test_plain_h5py_without_isal_reads_the_frames_isal_wrote(tmp_path):
    generate_dataset(make_spec("salesman", frames=5, size=32), tmp_path / "shards", n=6, test_n=0, seed=1, workers=1,
                     shard_size=6)
    shard = tmp_path / "shards" / "salesman-train-00000-of-00001.h5"
    subprocess.run([sys.executable, "-c", PLAIN_H5PY, str(shard), str(tmp_path / "plain.npy")], check=True)
    plain = np.load(tmp_path / "plain.npy")
    ds = open_dataset(tmp_path / "shards")
    assert plain.shape == (6, 5, 32, 32, 3)
    for i in range(6):
        assert np.array_equal(plain[i], ds.frames(i))
    with h5py.File(shard) as f:
        assert f.attrs["format_version"] == FORMAT_VERSION == 4
        mask, chunk = f["frames"].id.read_direct_chunk((2, 0, 0, 0, 0))
        # the stored chunk is ISA-L's stream, which plain zlib inflates too
        assert mask == 0 and chunk == compress_frames(plain[2])[1] and zlib.decompress(chunk) == plain[2].tobytes()


def test_frames_that_do_not_shrink_are_stored_raw_and_read_by_both_paths(tmp_path):
    noise = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    smooth = np.zeros((3, 8, 8, 3), np.uint8)
    assert compress_frames(noise) == (RAW, noise.tobytes())
    path = tmp_path / "mixed.h5"
    with h5py.File(path, "w") as f:
        frames = f.create_dataset("frames", (2, 3, 8, 8, 3), np.uint8, chunks=(1, 3, 8, 8, 3), compression="gzip")
        for row, scene in enumerate((noise, smooth)):
            mask, chunk = compress_frames(scene)
            frames.id.write_direct_chunk((row, 0, 0, 0, 0), chunk, filter_mask=mask)
    with h5py.File(path) as f:
        chunks = FrameChunks(f["frames"])
        assert chunks.direct
        assert np.array_equal(chunks.read(0), noise) and np.array_equal(f["frames"][0], noise)
        assert np.array_equal(chunks.read(1), smooth) and np.array_equal(f["frames"][1], smooth)


def test_chunks_of_another_layout_go_through_h5py(tmp_path):
    scenes = np.random.default_rng(1).integers(0, 9, (4, 2, 8, 8, 3), dtype=np.uint8)
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f.create_dataset("shuffled", data=scenes, chunks=(1, 2, 8, 8, 3), compression="gzip", shuffle=True)
        f.create_dataset("two_per_chunk", data=scenes, chunks=(2, 2, 8, 8, 3), compression="gzip")
        f.create_dataset("contiguous", data=scenes)
    with h5py.File(tmp_path / "foreign.h5") as f:
        for name in ("shuffled", "two_per_chunk", "contiguous"):
            chunks = FrameChunks(f[name])
            assert not chunks.direct
            assert all(np.array_equal(chunks.read(i), scenes[i]) for i in range(4))


def test_whole_scene_frames_are_writable_arrays(tmp_path):
    generate_dataset(toy_spec(), tmp_path, n=2, test_n=0, seed=0, workers=1)
    ds = open_dataset(tmp_path)
    frames, again = ds.frames(1), ds.frames(1)
    assert frames.flags.writeable and frames is not again
    frames[0] = 0   # the caller's own array, like one read by h5py: the next read is untouched
    assert np.array_equal(ds.frames(1), again) and again[0].any()
