"""Benchmark: frames per second of `jumpdata narratives` against a plain reference, in the same run.

    .venv/bin/python bench/narratives.py [--scenes 5000] [--story salesman] [--size 64] [--frames 21]

The reference is the obvious way to write such a generator: the same stories (positions and colours
from narratives.stories), each frame drawn on its own with PIL ImageDraw, one process, every scene
written into an HDF5 file with h5py's gzip filter at level 1 (one scene per chunk, like the shards).
`jumpdata narratives` is timed end to end as a user runs it (a subprocess, all cores, manifest,
checksums).  Prints both rates, the ratio, and the estimated time of the paper-sized command
(98,000 training + 1,000 test scenes).
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import h5py
import numpy as np
from PIL import Image, ImageDraw

# Run as `python bench/narratives.py`, this file's folder comes first on sys.path and its name would
# shadow the narratives package; drop that folder so `import narratives` finds the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from narratives import STORIES, make_spec  # noqa: E402
from narratives import vocabulary as vocab  # noqa: E402

PAPER_SCENES = 98000 + 1000
# PIL draws a kind inside its bounding circle the way narratives.raster does: (sides, rotation, scale).
_PIL_KIND = {"circle": (0, 0, 0.9), "square": (4, 0, 0.7 * 2 ** 0.5), "triangle": (3, 0, 1.0),
             "pentagon": (5, 0, 1.0)}


def reference(story, scenes, frames, size, path):
    """Make `scenes` videos the plain way into HDF5 file `path`; return (wall seconds, CPU seconds)."""
    start, cpu = time.perf_counter(), time.process_time()
    radii = vocab.radii_px(size)
    with h5py.File(path, "w") as h5:
        data = h5.create_dataset("frames", (scenes, frames, size, size, 3), np.uint8,
                                 chunks=(1, frames, size, size, 3), compression="gzip", compression_opts=1)
        for i in range(scenes):
            board = STORIES[story].draw(np.random.default_rng([0, 0, i]), frames, size)
            video = np.empty((frames, size, size, 3), np.uint8)
            for v in range(frames):
                image = Image.new("RGB", (size, size), vocab.BACKGROUND)
                draw = ImageDraw.Draw(image)
                for s in list(range(1, len(board.kinds))) + [0]:
                    sides, rotation, scale = _PIL_KIND[vocab.KINDS[board.kinds[s]]]
                    x, y = board.positions[v, s]
                    r = radii[board.sizes[s]] * scale
                    colour = tuple(int(c) for c in vocab.PALETTE[board.colors[v, s]])
                    if sides:
                        draw.regular_polygon((float(x), float(y), float(r)), sides, rotation=rotation, fill=colour)
                    else:
                        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
                video[v] = np.asarray(image)
            data[i] = video
            for name, value in board.labels().items():
                h5.require_dataset(f"labels/{name}", (scenes, *value.shape), value.dtype)[i] = value
    return time.perf_counter() - start, time.process_time() - cpu


def ours(story, scenes, frames, size, out):
    """Run `jumpdata narratives` for `scenes` training scenes into folder `out`; return (wall seconds,
    CPU seconds of the command and its worker processes)."""
    jumpdata = shutil.which("jumpdata", path=str(Path(sys.executable).parent)) or "jumpdata"
    command = [jumpdata, "narratives", "--story", story, "--n", str(scenes), "--test-n", "0", "--frames",
               str(frames), "--size", str(size), "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def compression_limit(story, scenes, frames, size):
    """Return frames per second per core of zlib level 1 alone on `scenes` of our videos (the floor of
    any gzip-level-1 generator: every frame must be compressed once)."""
    spec = make_spec(story, frames, size, None)
    make = spec.scene_maker(spec.config)
    videos = [make(np.random.default_rng([0, 0, j]))["frames"].tobytes() for j in range(scenes)]
    start = time.process_time()
    for video in videos:
        zlib.compress(video, 1)
    return scenes * frames / (time.process_time() - start)


def folder_bytes(folder):
    """Return the total size in bytes of the files in `folder`."""
    return sum(p.stat().st_size for p in Path(folder).iterdir())


def main():
    """Run both generators on the same scenes and print their frames per second, the ratio and the estimate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=5000)
    parser.add_argument("--story", default="salesman")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=21)
    args = parser.parse_args()
    total_frames = args.scenes * args.frames
    print(f"{args.scenes} {args.story} videos of {args.frames} frames, {args.size}x{args.size}, "
          f"{len(os.sched_getaffinity(0))} cores")
    with tempfile.TemporaryDirectory() as tmp:
        ref_s, ref_cpu = reference(args.story, args.scenes, args.frames, args.size, Path(tmp) / "reference.h5")
        ref_mb = (Path(tmp) / "reference.h5").stat().st_size / 1e6
        our_s, our_cpu = ours(args.story, args.scenes, args.frames, args.size, Path(tmp) / "shards")
        our_mb = folder_bytes(Path(tmp) / "shards") / 1e6
    print(f"reference (PIL, 1 process, h5py gzip 1): {total_frames / ref_s:9.0f} frames/s  "
          f"({ref_s:.1f} s wall, {ref_cpu:.1f} s CPU, {ref_mb:.1f} MB)")
    print(f"jumpdata narratives (all cores)        : {total_frames / our_s:9.0f} frames/s  "
          f"({our_s:.1f} s wall, {our_cpu:.1f} s CPU, {our_mb:.1f} MB)")
    limit = compression_limit(args.story, min(args.scenes, 300), args.frames, args.size)
    cores = len(os.sched_getaffinity(0))
    print(f"zlib level 1 alone, the floor             : {limit * cores:9.0f} frames/s  "
          f"({limit:.0f} per core x {cores} cores)")
    print(f"ratio: {ref_s / our_s:.2f}x wall time, {ref_cpu / our_cpu:.2f}x CPU time "
          f"(CPU time is the fairer figure when other jobs share the cores)")
    estimate = PAPER_SCENES * our_s / args.scenes
    print(f"estimated `jumpdata narratives --story {args.story} --n 98000` (+1000 test): "
          f"{estimate:.0f} s = {estimate / 60:.1f} min")


if __name__ == "__main__":
    main()
