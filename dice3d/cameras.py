"""Camera poses inside the dice room, aimed at the cube, from all around and from several heights.

A pose is (x, y, z, yaw, pitch) in metres and radians (docs/dice.md, Geometry:
yaw about +z from +x, pitch up from the horizontal, +z up).
"""

import numpy as np

from .geometry import look_direction
from .scene import ROOM_HALF, DiceScene

FOV_DEG = 50.0  # vertical (= horizontal, square images) field of view
WALL_MARGIN = 0.15  # cameras stay this far inside the walls
DISTANCE = (1.7, 3.0)  # horizontal distance from the cube's centre
HEIGHT = (0.3, 2.0)  # camera height above the floor
AIM_JITTER = (0.2, 0.12)  # largest yaw and pitch offset (rad) from looking straight at the cube


def _distance_to_wall(origin: np.ndarray, azimuth: float) -> float:
    """Return how far one can go from `origin` (xy) along `azimuth` before reaching the margin inside the walls."""
    direction = np.array([np.cos(azimuth), np.sin(azimuth)])
    limit = ROOM_HALF - WALL_MARGIN
    steps = [(np.sign(d) * limit - o) / d for o, d in zip(origin, direction) if abs(d) > 1e-9]
    return float(min(steps))


def sample_cameras(rng: np.random.Generator, scene: DiceScene, views: int) -> np.ndarray:
    """Return float32 [views, 5] poses (x, y, z, yaw, pitch) around the scene's cube.

    Azimuths around the cube are stratified (one per 1/views of the circle,
    random within it) so every scene is seen from all sides; distance and
    height are uniform, clipped to stay inside the room; the aim is the cube's
    centre plus a small uniform jitter, so the cube is in view in most frames.
    """
    centre = scene.cube_position
    azimuth = rng.uniform(0, 2 * np.pi) + 2 * np.pi * (np.arange(views) + rng.uniform(0, 1, size=views)) / views
    poses = np.empty((views, 5), dtype=np.float64)
    for k in range(views):
        reach = _distance_to_wall(centre[:2], azimuth[k])
        d = min(rng.uniform(*DISTANCE), reach)
        xy = centre[:2] + d * np.array([np.cos(azimuth[k]), np.sin(azimuth[k])])
        z = rng.uniform(*HEIGHT)
        to_cube = centre - np.array([xy[0], xy[1], z])
        yaw = np.arctan2(to_cube[1], to_cube[0]) + rng.uniform(-AIM_JITTER[0], AIM_JITTER[0])
        pitch = np.arctan2(to_cube[2], np.hypot(to_cube[0], to_cube[1])) + rng.uniform(-AIM_JITTER[1], AIM_JITTER[1])
        poses[k] = (xy[0], xy[1], z, (yaw + np.pi) % (2 * np.pi) - np.pi, pitch)
    return poses.astype(np.float32)


def camera_target(poses: np.ndarray) -> np.ndarray:
    """Return float64 [V, 3]: a point one metre in front of each pose (x, y, z, yaw, pitch) along its view direction."""
    poses = np.asarray(poses, dtype=np.float64)
    return poses[:, :3] + look_direction(poses[:, 3], poses[:, 4])
