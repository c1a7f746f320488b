"""Milliseconds per view of `jumpdata dice`, end to end, against a plain PyBullet loop rendering a similar room.

    python bench/dice.py [--scenes 200] [--views 10] [--size 64]

The plain loop is what one would write by hand in one process: a textured
floor, four textured walls and a cube (GEOM_BOX bodies), the cube moved and
recoloured per scene, each view rendered by the TinyRenderer with its own
shadows. The dataset run is the real thing (scene sampling, rendering,
segmentation labels, shadows, compression, HDF5 shards) through
scene_shards.generate_dataset with 1 worker and with every core. Prints ms/view and
the ratios the issue asks for: 1 worker within 1.25x of the plain loop, all
cores at least 1.5x faster than it.
"""

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from dice3d.render import Client, pybullet
from dice3d.textures import surface_texture
from scene_shards import default_workers, generate_dataset
from dice3d.spec import make_spec


def plain_loop(scenes: int, views: int, size: int) -> float:
    """Render `scenes` x `views` frames of a similar room in one process; return milliseconds per view."""
    p = Client()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.png"
        Image.fromarray(np.repeat(surface_texture(3)[:, :, None], 3, axis=2)).save(path)
        texture = p.loadTexture(str(path))
    box = p.createVisualShape(pybullet.GEOM_BOX, halfExtents=[3, 3, 0.01])
    walls = [p.createVisualShape(pybullet.GEOM_BOX, halfExtents=h) for h in ([0.01, 3, 1.2], [3, 0.01, 1.2])]
    bodies = [p.createMultiBody(0, -1, box, basePosition=[0, 0, -0.01])]
    for x, y, shape in ((3, 0, 0), (-3, 0, 0), (0, 3, 1), (0, -3, 1)):
        bodies.append(p.createMultiBody(0, -1, walls[shape], basePosition=[x, y, 1.2]))
    for b in bodies:
        p.changeVisualShape(b, -1, textureUniqueId=texture)
    cube = p.createMultiBody(0, -1, p.createVisualShape(pybullet.GEOM_BOX, halfExtents=[0.4] * 3))
    projection = p.computeProjectionMatrixFOV(50, 1, 0.1, 15)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(scenes):
        p.resetBasePositionAndOrientation(cube, [*rng.uniform(-0.8, 0.8, 2), 0.4],
                                          pybullet.getQuaternionFromEuler([0, 0, rng.uniform(-3, 3)]))
        p.changeVisualShape(cube, -1, rgbaColor=[*rng.uniform(0, 1, 3), 1])
        for b in bodies:
            p.changeVisualShape(b, -1, rgbaColor=[*rng.uniform(0, 1, 3), 1])
        light = [*rng.uniform(-2, 2, 2), 4]
        for _ in range(views):
            a = rng.uniform(0, 2 * np.pi)
            eye = [2.2 * np.cos(a), 2.2 * np.sin(a), rng.uniform(0.3, 2.0)]
            view = p.computeViewMatrix(eye, [0, 0, 0.4], [0, 0, 1])
            rgba = p.getCameraImage(size, size, view, projection, lightDirection=light, shadow=1,
                                    renderer=pybullet.ER_TINY_RENDERER)[2]
            np.asarray(rgba, dtype=np.uint8)
    elapsed = time.perf_counter() - start
    p.disconnect()
    return 1000 * elapsed / (scenes * views)


def dataset_run(scenes: int, views: int, size: int, workers: int) -> float:
    """Generate a dice dataset of `scenes` scenes with `workers` processes; return milliseconds per view."""
    spec = make_spec(digits=100, views=views, size=size)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        generate_dataset(spec, out, n=scenes, test_n=0, seed=0, workers=workers, shard_size=100)
        elapsed = time.perf_counter() - start
    return 1000 * elapsed / (scenes * views)


def _burn(steps: int) -> int:
    total = 0
    for i in range(steps):
        total += i * i
    return total


def machine_scaling(workers: int, steps: int = 3_000_000) -> float:
    """Return how much faster `workers` processes burn `workers` equal CPU loops than one process does.

    About `workers` on an idle machine; near 1 when other programs hold the
    cores, which tells how far the dataset's own scaling figure can be trusted.
    """
    start = time.perf_counter()
    for _ in range(workers):
        _burn(steps)
    serial = time.perf_counter() - start
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        start = time.perf_counter()
        pool.map(_burn, [steps] * workers)
        parallel = time.perf_counter() - start
    return serial / parallel


def main() -> None:
    """Run the plain loop and the dataset with 1 and all workers; print the figures and the ratios."""
    parser = argparse.ArgumentParser(description="Milliseconds per view of the dice generator.")
    parser.add_argument("--scenes", type=int, default=200)
    parser.add_argument("--views", type=int, default=10)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    cores = default_workers()
    idle = machine_scaling(cores)
    plain = plain_loop(args.scenes, args.views, args.size)
    one = dataset_run(args.scenes, args.views, args.size, 1)
    many = dataset_run(args.scenes, args.views, args.size, cores)
    print(f"{args.scenes} scenes x {args.views} views of {args.size}x{args.size}")
    print(f"plain PyBullet loop, 1 process      {plain:7.3f} ms/view")
    print(f"jumpdata dice, 1 worker, end to end {one:7.3f} ms/view   ratio to plain {one / plain:5.2f}x "
          f"(target <= 1.25x)")
    print(f"jumpdata dice, {cores} workers            {many:7.3f} ms/view   plain is {plain / many:5.2f}x slower "
          f"(target >= 1.5x); scaling {one / many:4.2f}x over 1 worker")
    print(f"(this machine runs {cores} plain CPU loops {idle:4.2f}x faster than one: "
          f"{'idle' if idle > 0.8 * cores else 'other programs are using the cores'})")


if __name__ == "__main__":
    main()
