"""The plain-data description of one dice-room scene, sampled from the scene's RNG (no PyBullet here).

Room: a square floor [-ROOM_HALF, ROOM_HALF]^2 at z = 0 with four walls of
height WALL_HEIGHT, numbered +x, -x, +y, -y (the side of the room each stands
on), closed by a ceiling of colour CEILING_COLOR on top of the walls, so no
camera sees out of the room; the light hangs below the ceiling. Lengths are in
metres, colours are RGB in [0, 1].
"""

from dataclasses import dataclass

import numpy as np

from .geometry import cube_orientation

ROOM_HALF = 3.0
WALL_HEIGHT = 5.0   # also the ceiling's height: above the light (3 to 4.5 m)
CEILING_COLOR = (0.86, 0.85, 0.82)   # plaster, the same in every scene; lit by the ambient light only
CUBE_SIZES = (0.6, 0.7, 0.8, 0.9, 1.0)  # edge lengths; a few fixed sizes so the renderer needs no rebuild
CUBE_AREA_HALF = 0.8  # the cube's centre stays in [-0.8, 0.8]^2, leaving room for cameras all around
TEXTURE_POOL = 8  # procedural wall/floor textures, see textures.surface_texture


@dataclass(frozen=True)
class DiceScene:
    """One scene: cube (position float [3], up_face, yaw rad, orientation quaternion [4], size, color [3],
    digits int [6] bank indices in face order +x,-x,+y,-y,+z,-z), walls (colors [4, 3], textures int [4]),
    floor (color [3], texture int) and light_position [3]."""

    cube_position: np.ndarray
    cube_up_face: int
    cube_yaw: float
    cube_orientation: np.ndarray
    cube_size: float
    cube_color: np.ndarray
    digits: np.ndarray
    wall_colors: np.ndarray
    wall_textures: np.ndarray
    floor_color: np.ndarray
    floor_texture: int
    light_position: np.ndarray


def hsv_to_rgb(h, s, v) -> np.ndarray:
    """Return float64 [..., 3] RGB in [0, 1] for hue `h` in [0, 1), saturation `s` and value `v` in [0, 1]."""
    h, s, v = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (h, s, v)))
    k = (np.array([5.0, 3.0, 1.0]) + h[..., None] * 6) % 6
    return v[..., None] - v[..., None] * s[..., None] * np.clip(np.minimum(k, 4 - k), 0, 1)


def sample_scene(rng: np.random.Generator, bank_size: int) -> DiceScene:
    """Return a random DiceScene; the six digits are distinct when the bank holds at least six."""
    size = float(CUBE_SIZES[rng.integers(len(CUBE_SIZES))])
    xy = rng.uniform(-CUBE_AREA_HALF, CUBE_AREA_HALF, size=2)
    up_face = int(rng.integers(6))
    yaw = float(rng.uniform(-np.pi, np.pi))
    cube_color = hsv_to_rgb(rng.uniform(), rng.uniform(0.45, 0.9), rng.uniform(0.8, 1.0))
    digits = rng.choice(bank_size, size=6, replace=bank_size < 6)
    wall_colors = hsv_to_rgb(rng.uniform(size=4), rng.uniform(0.25, 0.75, size=4), rng.uniform(0.55, 0.95, size=4))
    wall_textures = rng.integers(TEXTURE_POOL, size=4)
    floor_color = hsv_to_rgb(rng.uniform(), rng.uniform(0.1, 0.5), rng.uniform(0.45, 0.85))
    floor_texture = int(rng.integers(TEXTURE_POOL))
    light = np.append(rng.uniform(-ROOM_HALF + 0.5, ROOM_HALF - 0.5, size=2), rng.uniform(3.0, 4.5))
    return DiceScene(cube_position=np.array([xy[0], xy[1], size / 2]), cube_up_face=up_face, cube_yaw=yaw,
                     cube_orientation=cube_orientation(up_face, yaw), cube_size=size, cube_color=cube_color,
                     digits=digits.astype(np.int64), wall_colors=wall_colors, wall_textures=wall_textures,
                     floor_color=floor_color, floor_texture=floor_texture, light_position=light)
