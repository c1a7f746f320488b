"""Does each deflate level give the same bytes in every process? Why the shards use ISA-L level 0 (docs/format.md,
"Why deflate, made by ISA-L, at level 0"); a check of the compressors, not a speed benchmark.

    .venv/bin/python bench/deflate_determinism.py [--processes 12] [--videos 1000] [--size 32]

Each of `--processes` fresh processes draws the same `--videos` salesman videos (seed 0) and compresses each
video's frames, as one shard chunk, with ISA-L (python-isal) at levels 0 to 3 and with zlib level 1; it prints
the sha256 of each compressor's chunks. A compressor whose bytes depend on the process shows more than one
distinct digest. Prints, per compressor, the number of distinct digests, the processes that gave the most
common one, and the size of its chunks as a share of the raw frames.
"""

import argparse
import collections
import json
import subprocess
import sys
from pathlib import Path

# Run as `python bench/deflate_determinism.py`, this file's folder comes first on sys.path, and bench/narratives.py
# would hide the narratives package: the repository root replaces it.
ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

ONE_PROCESS = """
import hashlib, json, sys, zlib
import numpy as np
from isal import isal_zlib
from narratives import make_spec
videos, size = int(sys.argv[1]), int(sys.argv[2])
spec = make_spec("salesman", size=size)
frames = [s["frames"] for s in spec.block_maker(spec.config)([np.random.default_rng([0, 0, j]) for j in range(videos)])]
compressors = {f"ISA-L level {k}": (lambda k: lambda v: isal_zlib.compress(v, k))(k) for k in range(4)}
compressors["zlib level 1"] = lambda v: zlib.compress(v, 1)
out = {}
for name, compress in compressors.items():
    chunks = [compress(v) for v in frames]
    out[name] = [hashlib.sha256(b"".join(chunks)).hexdigest(), sum(map(len, chunks)) / sum(v.nbytes for v in frames)]
print(json.dumps(out))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--processes", type=int, default=12)
    p.add_argument("--videos", type=int, default=1000)
    p.add_argument("--size", type=int, default=32)
    a = p.parse_args()
    runs = [json.loads(subprocess.run([sys.executable, "-c", ONE_PROCESS, str(a.videos), str(a.size)], check=True,
                                      capture_output=True, text=True, cwd=ROOT).stdout) for _ in range(a.processes)]
    print(f"{a.videos} salesman videos, {a.size}x{a.size}, 21 frames, compressed in {a.processes} fresh processes:")
    for name in runs[0]:
        digests = collections.Counter(run[name][0] for run in runs)
        print(f"{name:14s}: {len(digests):2d} distinct outputs, the most common in {digests.most_common(1)[0][1]:2d} "
              f"of {a.processes} processes; size {runs[0][name][1]:.3f} of the raw frames")


if __name__ == "__main__":
    main()
