"""Benchmark: frames per second of `jumpdata narratives` against a plain reference, in the same run.

    .venv/bin/python bench/narratives.py [--scenes 3000] [--story salesman] [--size 64] [--frames 21] [--repeats 2]
                                         [--paper]

The reference is the obvious way to write such a generator: the same stories (positions and colours
from narratives.stories), each frame drawn on its own with PIL ImageDraw (polygons and ellipses, no
anti-aliasing), one process, every scene written into an HDF5 file with h5py's gzip filter at level 1
(one scene per chunk, like the shards), the labels gathered in arrays and written at the end.
`jumpdata narratives` is timed end to end as a user runs it (a subprocess, all cores, imports,
manifest, checksums).  The two alternate `--repeats` times and the fastest run of each counts, as
other jobs may share the machine.  Prints both rates, the ratio, the floors set by compression alone
(zlib level 1, the reference's, and ISA-L at the shards' level, ours, of the same frames on all cores;
every frame has to be compressed once) and the estimated time of the paper-sized command (98,000 training + 1,000
test scenes).
"""
import argparse
import math
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
from scene_shards.chunks import DEFLATE_LEVEL, compress_frames  # noqa: E402

ZLIB, ISAL = "zlib level 1", f"ISA-L level {DEFLATE_LEVEL} (the shards')"

PAPER_SCENES = 98000 + 1000


def _outline(sides, first_deg, circumradius):
    """Return the (x, y) vertices of a regular polygon of `sides` around (0, 0) with `circumradius`, the
    first vertex at `first_deg` (y down)."""
    return [(circumradius * math.cos(math.radians(first_deg + 360 * k / sides)),
             circumradius * math.sin(math.radians(first_deg + 360 * k / sides))) for k in range(sides)]


# Each kind inside its bounding circle of radius 1, as narratives.raster draws it: None (a circle of
# radius 0.9) or a polygon's vertices.  docs/narratives.md, "Vocabulary".
_PIL_OUTLINE = {"circle": None, "square": _outline(4, 45, 0.7 * 2 ** 0.5), "triangle": _outline(3, -90, 1.0),
                "pentagon": _outline(5, -90, 1.0)}


def reference(story, scenes, frames, size, path):
    """Make `scenes` videos the plain way into HDF5 file `path`; return (wall seconds, CPU seconds)."""
    start, cpu = time.perf_counter(), time.process_time()
    radii = vocab.radii_px(size)
    labels = {}
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
                    outline = _PIL_OUTLINE[vocab.KINDS[board.kinds[s]]]
                    x, y = (float(c) for c in board.positions[v, s])
                    r = float(radii[board.sizes[s]])
                    colour = tuple(int(c) for c in vocab.PALETTE[board.colors[v, s]])
                    if outline is None:
                        draw.ellipse((x - 0.9 * r, y - 0.9 * r, x + 0.9 * r, y + 0.9 * r), fill=colour)
                    else:
                        draw.polygon([(x + r * u, y + r * w) for u, w in outline], fill=colour)
                video[v] = np.asarray(image)
            data[i] = video
            for name, value in board.labels().items():
                labels.setdefault(name, np.empty((scenes, *value.shape), value.dtype))[i] = value
        for name, value in labels.items():
            h5.create_dataset(f"labels/{name}", data=value)
    return time.perf_counter() - start, time.process_time() - cpu


def ours(story, scenes, frames, size, out, test_scenes=0):
    """Run `jumpdata narratives` for `scenes` training and `test_scenes` test scenes into folder `out`; return
    (wall seconds, CPU seconds of the command and its worker processes)."""
    jumpdata = shutil.which("jumpdata", path=str(Path(sys.executable).parent)) or "jumpdata"
    command = [jumpdata, "narratives", "--story", story, "--n", str(scenes), "--test-n", str(test_scenes), "--frames",
               str(frames), "--size", str(size), "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def compression_limit(story, scenes, frames, size, compress):
    """Return frames per second per core of `compress(video)` alone on `scenes` of our videos (the floor of a
    generator using that compressor: every frame must be compressed once)."""
    spec = make_spec(story, frames, size, None)
    make = spec.scene_maker(spec.config)
    videos = [make(np.random.default_rng([0, 0, j]))["frames"] for j in range(scenes)]
    best = math.inf
    for _ in range(3):
        start = time.process_time()
        for video in videos:
            compress(video)
        best = min(best, time.process_time() - start)
    return scenes * frames / best


def folder_bytes(folder):
    """Return the total size in bytes of the files in `folder`."""
    return sum(p.stat().st_size for p in Path(folder).iterdir())


def main():
    """Run both generators on the same scenes and print their frames per second, the ratio and the estimate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=3000)
    parser.add_argument("--story", default="salesman")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=21)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each; the fastest counts")
    parser.add_argument("--paper", action="store_true",
                        help="also run the paper-sized command (98,000 + 1,000 videos) once and time it")
    args = parser.parse_args()
    total_frames = args.scenes * args.frames
    cores = len(os.sched_getaffinity(0))
    print(f"{args.scenes} {args.story} videos of {args.frames} frames, {args.size}x{args.size}, {cores} cores, "
          f"best of {args.repeats} runs each")
    refs, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            refs.append(reference(args.story, args.scenes, args.frames, args.size, Path(tmp) / "reference.h5"))
            ref_mb = (Path(tmp) / "reference.h5").stat().st_size / 1e6
            shutil.rmtree(Path(tmp) / "shards", ignore_errors=True)
            runs.append(ours(args.story, args.scenes, args.frames, args.size, Path(tmp) / "shards"))
            our_mb = folder_bytes(Path(tmp) / "shards") / 1e6
            print(f"  run {k + 1}: reference {refs[-1][0]:.2f} s, jumpdata narratives {runs[-1][0]:.2f} s wall")
    ref_s, ref_cpu = min(refs)
    our_s, our_cpu = min(runs)
    limits = {name: compression_limit(args.story, min(args.scenes, 300), args.frames, args.size, f) * cores
              for name, f in ((ZLIB, lambda v: zlib.compress(v, 1)), (ISAL, compress_frames))}
    print(f"reference (PIL, no anti-aliasing, 1 process, h5py gzip 1): {total_frames / ref_s:8.0f} frames/s  "
          f"({ref_s:.2f} s wall, {ref_cpu:.2f} s CPU, {ref_mb:.1f} MB)")
    print(f"jumpdata narratives ({cores} workers)                       : {total_frames / our_s:8.0f} frames/s  "
          f"({our_s:.2f} s wall, {our_cpu:.2f} s CPU, {our_mb:.1f} MB)")
    for name, limit in limits.items():
        print(f"{name + ' alone on ' + str(cores) + ' cores':56s}: {limit:8.0f} frames/s (the floor with it)")
    print(f"ratio: {ref_s / our_s:.2f}x the reference in wall time ({ref_cpu / our_cpu:.2f}x in CPU time); "
          f"{total_frames / our_s / limits[ISAL]:.0%} of the ISA-L limit")
    estimate = PAPER_SCENES * our_s / args.scenes
    print(f"estimated `jumpdata narratives --story {args.story} --n 98000` (+1000 test): "
          f"{estimate:.0f} s = {estimate / 60:.1f} min")
    if args.paper:
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu = ours(args.story, 98000, args.frames, args.size, Path(tmp) / "shards", test_scenes=1000)
            size_mb = folder_bytes(Path(tmp) / "shards") / 1e6
        print(f"measured `jumpdata narratives --story {args.story} --n 98000` (+1000 test): {wall:.1f} s wall, "
              f"{cpu:.1f} s CPU, {size_mb:.0f} MB")


if __name__ == "__main__":
    main()
