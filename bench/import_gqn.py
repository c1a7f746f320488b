"""Benchmark: `jumpdata import-gqn` against a plain TFRecord-to-HDF5 loop, in the same run; and disk sizes.

    .venv/bin/python bench/import_gqn.py [--scenes 400] [--copies 10] [--quality 90] [--repeats 2]

The source: `--scenes` MNIST dice-room scenes (10 views of 64x64, `jumpdata dice`) exported with `jumpdata export
--format gqn-tfrecord --quality Q` into one TFRecord file, copied `--copies` times as files 1..N of a
gqn-datasets split (no GQN data is downloaded here; the dice room is the closest of our scenes to GQN's rooms).
The reference is the plain conversion: a loop over the files and over the `tfrecord` package's reader
(`tfrecord_loader`), every frame decoded with PIL, every scene written into one HDF5 file with h5py's gzip
filter at level 1 (one scene per chunk, like the shards), cameras gathered and written at the end; one process.
`jumpdata import-gqn` is timed end to end as a user runs it (a subprocess, all cores, indexing, CRC checks,
manifest, checksums), with decoded frames (`--frames pixels`, the default) and with the JPEG files kept
(`--frames jpeg`). The three alternate `--repeats` times and the fastest run of each counts, as other jobs
may share the machine. Prints the rates, the ratios to the reference (wall and CPU), and the bytes of the
source, of our shards in each mode and of the reference file.
"""
import argparse
import io
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
from PIL import Image
from tfrecord.reader import tfrecord_loader

VIEWS, SIZE, DATASET = 10, 64, "dice_gqn"
MODES = ("pixels", "jpeg")   # import-gqn --frames


def jumpdata(*argv):
    """Run the jumpdata command of this Python's environment; return (wall s, CPU s of it and its workers)."""
    command = [shutil.which("jumpdata", path=str(Path(sys.executable).parent)) or "jumpdata", *map(str, argv)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - start, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def make_source(tmp: Path, scenes: int, copies: int, quality: int) -> Path:
    """Write the gqn-datasets folder tmp/src/DATASET/train/ (`copies` files of `scenes` records); return tmp/src."""
    jumpdata("dice", "--n", scenes, "--test-n", 0, "--views", VIEWS, "--size", SIZE, "--out", tmp / "dice",
             "--name", DATASET)
    jumpdata("export", tmp / "dice", "--format", "gqn-tfrecord", "--quality", quality, "--out", tmp / "export",
             "--scenes-per-file", scenes)
    folder = tmp / "src" / DATASET / "train"
    folder.mkdir(parents=True)
    width = len(str(copies))
    for i in range(1, copies + 1):
        shutil.copyfile(tmp / "export" / DATASET / "train" / "1-of-1.tfrecord",
                        folder / f"{i:0{width}d}-of-{copies:0{width}d}.tfrecord")
    return tmp / "src"


def reference(src: Path, out: Path) -> tuple:
    """Convert every file of src/DATASET/train the plain way into HDF5 file `out`; return (wall s, CPU s)."""
    start, cpu = time.perf_counter(), time.process_time()
    files = sorted((src / DATASET / "train").iterdir())
    with h5py.File(out, "w") as h5:
        frames = h5.create_dataset("frames", (0, VIEWS, SIZE, SIZE, 3), np.uint8, maxshape=(None, VIEWS, SIZE, SIZE, 3),
                                   chunks=(1, VIEWS, SIZE, SIZE, 3), compression="gzip", compression_opts=1)
        cameras = []
        for path in files:
            for record in tfrecord_loader(str(path), None, {"frames": "byte", "cameras": "float"}):
                scene = np.stack([np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")) for jpeg in record["frames"]])
                frames.resize(len(frames) + 1, axis=0)
                frames[-1] = scene
                cameras.append(record["cameras"].reshape(VIEWS, 5))
        h5.create_dataset("cameras", data=np.stack(cameras))
    return time.perf_counter() - start, time.process_time() - cpu


def folder_bytes(folder: Path) -> int:
    """Return the bytes of the files under `folder`."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def main():
    """Time both conversions of the same files and print rates, the ratio and the disk sizes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=400, help="dice scenes per source file")
    parser.add_argument("--copies", type=int, default=10, help="source files (copies of one)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality of the source")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each; the fastest counts")
    args = parser.parse_args()
    frames = args.scenes * args.copies * VIEWS
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = make_source(tmp, args.scenes, args.copies, args.quality)
        print(f"{args.copies} files x {args.scenes} scenes x {VIEWS} views of {SIZE}x{SIZE} (dice room, JPEG quality "
              f"{args.quality}), {cores} cores (load average {os.getloadavg()[0]:.1f}), best of {args.repeats} runs each")
        refs, runs, ours_mb = [], {mode: [] for mode in MODES}, {}
        for _ in range(args.repeats):
            refs.append(reference(src, tmp / "reference.h5"))
            for mode in MODES:
                shutil.rmtree(tmp / mode, ignore_errors=True)
                runs[mode].append(jumpdata("import-gqn", src, "--dataset", DATASET, "--split", "train", "--frames",
                                           mode, "--out", tmp / mode))
                ours_mb[mode] = folder_bytes(tmp / mode) / 1e6
        source_mb = folder_bytes(src) / 1e6
        reference_mb = (tmp / "reference.h5").stat().st_size / 1e6
    ref_wall, ref_cpu = min(refs)
    print(f"reference (tfrecord + PIL + h5py gzip-1, one process): {frames / ref_wall:8.0f} frames/s  "
          f"({ref_wall:.2f} s wall, {ref_cpu:.2f} s CPU)")
    for mode in MODES:
        our_wall, our_cpu = min(runs[mode])
        print(f"jumpdata import-gqn --frames {mode:6s} (all cores):       {frames / our_wall:8.0f} frames/s  "
              f"({our_wall:.2f} s wall, {our_cpu:.2f} s CPU); {ref_wall / our_wall:.2f}x the reference (wall), "
              f"{ref_cpu / our_cpu:.2f}x (CPU); target >= 5x wall")
    print(f"disk: source {source_mb:.1f} MB JPEG; reference {reference_mb:.1f} MB = {reference_mb / source_mb:.2f}x; "
          + "; ".join(f"--frames {mode} {ours_mb[mode]:.1f} MB = {ours_mb[mode] / source_mb:.2f}x" for mode in MODES)
          + "; target <= 1.3x")


if __name__ == "__main__":
    main()
