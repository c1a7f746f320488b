"""The cube's shadow from the scene's point light, found per pixel from the rendered depth (numpy only).

PyBullet's TinyRenderer draws shadows only 20% darker than lit areas and
with acne on large floors, so the renderer is asked for no shadows and the
cube's hard shadow is computed here exactly: every pixel's world point is
recovered from the depth buffer, and a pixel is in shadow when the segment
from its point to the light passes through the cube.
"""

import numpy as np

from .geometry import look_direction, quat_to_matrix


def pixel_points(depth: np.ndarray, pose: np.ndarray, fov_deg: float, near: float, far: float) -> np.ndarray:
    """Return float64 [H, W, 3] world points seen by each pixel of a depth buffer [H, W] (PyBullet's [0, 1] values).

    `pose` is (x, y, z, yaw, pitch); the camera has +z as up, a vertical field
    of view `fov_deg`, square pixels, and the given near and far planes.
    """
    h, w = depth.shape
    distance = far * near / (far - (far - near) * depth.astype(np.float64))  # along the view axis
    yaw, pitch = float(pose[3]), float(pose[4])
    forward = look_direction(yaw, pitch)
    right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])  # forward x (0, 0, 1), normalised
    up = np.array([-np.sin(pitch) * np.cos(yaw), -np.sin(pitch) * np.sin(yaw), np.cos(pitch)])  # right x forward
    half = np.tan(np.radians(fov_deg) / 2)
    # The TinyRenderer samples row i, column j at normalised device coordinates (2j/W - 1, 1 - 2(i+1)/H).
    xs = (np.arange(w) / w * 2 - 1) * half * w / h
    ys = (1 - (np.arange(h) + 1) / h * 2) * half
    rays = forward + xs[None, :, None] * right + ys[:, None, None] * up
    return np.asarray(pose[:3], dtype=np.float64) + distance[:, :, None] * rays


def in_cube_shadow(points: np.ndarray, light: np.ndarray, cube_position: np.ndarray, cube_orientation: np.ndarray,
                   cube_size: float) -> np.ndarray:
    """Return bool [N]: whether the segment from each point of `points` [N, 3] to `light` [3] crosses the cube.

    The cube is centred at `cube_position`, turned by the quaternion
    `cube_orientation` (x, y, z, w), with edge `cube_size`. Points on the cube's
    own surface only count as shadowed when the light is behind that surface.
    """
    rotation = quat_to_matrix(cube_orientation)
    start = ((points - cube_position) @ rotation).T  # [3, N] in the cube's frame
    direction = ((np.asarray(light, dtype=np.float64) - cube_position) @ rotation)[:, None] - start
    half = cube_size / 2
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero component gives +-inf: the slab test still holds
        t1 = (-half - start) / direction
        t2 = (half - start) / direction
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    t_near = np.maximum(np.maximum(near[0], near[1]), np.maximum(near[2], 1e-4))
    t_far = np.minimum(np.minimum(far[0], far[1]), np.minimum(far[2], 1.0))
    return t_near < t_far
