"""The PyBullet dice room: built once per worker, then re-dressed and rendered scene after scene.

Every surface is a textured quad (an OBJ mesh with explicit UVs): the floor,
four walls, and six face plates per cube. Textures are loaded once (one
engraved-digit texture per bank digit, a small pool of surface patterns) and
only assigned per scene, with the scene's colours as tint, so memory stays
flat however many scenes a worker renders. The cube is a multibody with one
link per face, so the segmentation mask tells which face covers each pixel.
Cubes come in the few sizes of `scene.CUBE_SIZES`; the ones a scene does not
use are parked far outside the room.
"""

import tempfile
from pathlib import Path

import numpy as np
import pybullet
from PIL import Image
from pybullet_utils.bullet_client import BulletClient

from shards.errors import UserError

from .cameras import FOV_DEG, camera_target
from .geometry import FACE_NORMALS, face_quaternion
from .scene import CUBE_SIZES, ROOM_HALF, TEXTURE_POOL, WALL_HEIGHT, DiceScene
from .textures import engraved_digit, surface_texture

RENDERERS = ("tiny", "egl")
TILE_METRES = 1.25  # one surface texture covers this many metres of wall or floor
PARKED = np.array([1000.0, 1000.0, -1000.0])  # where unused cubes wait
NEAR, FAR = 0.05, 12.0
LIGHT = dict(lightColor=[1, 1, 1], lightAmbientCoeff=0.55, lightDiffuseCoeff=0.5, lightSpecularCoeff=0.05,
             lightDistance=6.0)
# Walls: (centre, quaternion taking the xy-plane quad onto the wall, facing into the room)
_WALLS = [((ROOM_HALF, 0, WALL_HEIGHT / 2), (0, -1, 0), (0, 0, 1)),
          ((-ROOM_HALF, 0, WALL_HEIGHT / 2), (0, 1, 0), (0, 0, 1)),
          ((0, ROOM_HALF, WALL_HEIGHT / 2), (1, 0, 0), (0, 0, 1)),
          ((0, -ROOM_HALF, WALL_HEIGHT / 2), (-1, 0, 0), (0, 0, 1))]


def quad_obj(repeat_u: float, repeat_v: float) -> str:
    """Return the text of an OBJ unit quad in the xy plane (normal +z) whose UVs span [0, repeat_u] x [0, repeat_v]."""
    return ("v -0.5 -0.5 0\nv 0.5 -0.5 0\nv 0.5 0.5 0\nv -0.5 0.5 0\n"
            f"vt 0 0\nvt {repeat_u} 0\nvt {repeat_u} {repeat_v}\nvt 0 {repeat_v}\n"
            "vn 0 0 1\nf 1/1/1 2/2/1 3/3/1\nf 1/1/1 3/3/1 4/4/1\n")


def _frame_quaternion(right, up) -> list:
    """Return the quaternion [4] (x, y, z, w) mapping the quad's +x, +y, +z onto `right`, `up`, right x up."""
    from .geometry import matrix_to_quat

    r, u = np.asarray(right, float), np.asarray(up, float)
    return list(matrix_to_quat(np.stack([r, u, np.cross(r, u)], axis=1)))
