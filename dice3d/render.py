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

import pkgutil
import tempfile
from pathlib import Path

import numpy as np
import pybullet
from PIL import Image
from pybullet_utils.bullet_client import BulletClient

from shards.errors import UserError

from .cameras import FOV_DEG, camera_target
from .geometry import FACE_NORMALS, face_quaternion, frame_quaternion
from .scene import CUBE_SIZES, ROOM_HALF, TEXTURE_POOL, WALL_HEIGHT, DiceScene
from .textures import engraved_digit, surface_texture

RENDERERS = ("tiny", "egl")
TILE_METRES = 1.25  # one surface texture covers this many metres of wall or floor
PARKED = (1000.0, 1000.0, -1000.0)  # where the cubes of other sizes wait
NEAR, FAR = 0.05, 12.0
LIGHT = dict(lightColor=[1, 1, 1], lightAmbientCoeff=0.55, lightDiffuseCoeff=0.5, lightSpecularCoeff=0.05,
             lightDistance=6.0)
# Walls in the order +x, -x, +y, -y: centre and the quad's rightward direction (the quad faces into the room).
_WALLS = [((ROOM_HALF, 0, WALL_HEIGHT / 2), (0, -1, 0)), ((-ROOM_HALF, 0, WALL_HEIGHT / 2), (0, 1, 0)),
          ((0, ROOM_HALF, WALL_HEIGHT / 2), (1, 0, 0)), ((0, -ROOM_HALF, WALL_HEIGHT / 2), (-1, 0, 0))]


def quad_obj(repeat_u: float, repeat_v: float) -> str:
    """Return the text of an OBJ unit quad in the xy plane (normal +z) whose UVs span [0, repeat_u] x [0, repeat_v]."""
    return ("v -0.5 -0.5 0\nv 0.5 -0.5 0\nv 0.5 0.5 0\nv -0.5 0.5 0\n"
            f"vt 0 0\nvt {repeat_u} 0\nvt {repeat_u} {repeat_v}\nvt 0 {repeat_v}\n"
            "vn 0 0 1\nf 1/1/1 2/2/1 3/3/1\nf 1/1/1 3/3/1 4/4/1\n")


def _load_plugin(client: BulletClient) -> None:
    """Load PyBullet's EGL renderer plugin into `client`; raise UserError where it does not load."""
    egl = pkgutil.get_loader("eglRenderer")
    plugin = client.loadPlugin(egl.get_filename(), "_eglRendererPlugin") if egl else -1
    if plugin < 0:
        raise UserError("--renderer egl: PyBullet's EGL plugin did not load on this machine (use --renderer tiny)")


class DiceRoom:
    """A PyBullet world holding the room, able to render any DiceScene of a fixed digit bank.

    `bank_images` is uint8 [N, 28, 28]; frames are `size` x `size` pixels with a
    `fov_deg` field of view; `renderer` is "tiny" (CPU TinyRenderer) or "egl".
    """

    def __init__(self, bank_images: np.ndarray, size: int, fov_deg: float = FOV_DEG, renderer: str = "tiny"):
        if renderer not in RENDERERS:
            raise UserError(f"--renderer must be one of {', '.join(RENDERERS)} (got {renderer})")
        self.size = size
        self.client = BulletClient(connection_mode=pybullet.DIRECT)
        if renderer == "egl":
            _load_plugin(self.client)
        self.renderer = pybullet.ER_BULLET_HARDWARE_OPENGL if renderer == "egl" else pybullet.ER_TINY_RENDERER
        self.projection = self.client.computeProjectionMatrixFOV(fov_deg, 1.0, NEAR, FAR)
        with tempfile.TemporaryDirectory(prefix="dice3d-") as tmp:
            folder = Path(tmp)
            self.digit_textures = [self._texture(folder, f"digit{i}", engraved_digit(d))
                                   for i, d in enumerate(bank_images)]
            self.surface_textures = [self._texture(folder, f"surface{k}", surface_texture(k))
                                     for k in range(TEXTURE_POOL)]
            side = 2 * ROOM_HALF
            self.floor = self._plate(folder, "floor", (side / TILE_METRES, side / TILE_METRES), (side, side),
                                     (0, 0, 0), (1, 0, 0), (0, 1, 0))
            self.walls = [self._plate(folder, "wall", (side / TILE_METRES, WALL_HEIGHT / TILE_METRES),
                                      (side, WALL_HEIGHT), centre, right, (0, 0, 1)) for centre, right in _WALLS]
            (folder / "face.obj").write_text(quad_obj(1, 1))
            self.cubes = [self._cube(folder / "face.obj", s) for s in CUBE_SIZES]
        self.active = None

    def _texture(self, folder: Path, name: str, grey: np.ndarray) -> int:
        path = folder / f"{name}.png"
        Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2)).save(path)
        return self.client.loadTexture(str(path))

    def _plate(self, folder: Path, name: str, repeat: tuple, extent: tuple, centre, right, up) -> int:
        path = folder / f"{name}.obj"
        path.write_text(quad_obj(*repeat))
        shape = self.client.createVisualShape(pybullet.GEOM_MESH, fileName=str(path),
                                              meshScale=[extent[0], extent[1], 1])
        return self.client.createMultiBody(0, -1, shape, basePosition=centre,
                                           baseOrientation=list(frame_quaternion(right, up)))

    def _cube(self, face_obj: Path, edge: float) -> int:
        shapes = [self.client.createVisualShape(pybullet.GEOM_MESH, fileName=str(face_obj), meshScale=[edge, edge, 1])
                  for _ in range(6)]
        return self.client.createMultiBody(
            0, -1, -1, basePosition=PARKED, linkMasses=[0] * 6, linkCollisionShapeIndices=[-1] * 6,
            linkVisualShapeIndices=shapes, linkPositions=list(FACE_NORMALS * edge / 2),
            linkOrientations=[list(face_quaternion(k)) for k in range(6)],
            linkInertialFramePositions=[[0, 0, 0]] * 6, linkInertialFrameOrientations=[[0, 0, 0, 1]] * 6,
            linkParentIndices=[0] * 6, linkJointTypes=[pybullet.JOINT_FIXED] * 6, linkJointAxis=[[0, 0, 1]] * 6)

    def dress(self, scene: DiceScene) -> int:
        """Put the scene's cube in place and give every surface its texture and colour; return the cube's body id."""
        cube = self.cubes[CUBE_SIZES.index(scene.cube_size)]
        if self.active is not None and self.active != cube:
            self.client.resetBasePositionAndOrientation(self.active, PARKED, [0, 0, 0, 1])
        self.active = cube
        self.client.resetBasePositionAndOrientation(cube, list(scene.cube_position), list(scene.cube_orientation))
        tint = [*scene.cube_color, 1]
        for face in range(6):
            self.client.changeVisualShape(cube, face, textureUniqueId=self.digit_textures[scene.digits[face]],
                                          rgbaColor=tint)
        for wall, colour, texture in zip(self.walls, scene.wall_colors, scene.wall_textures):
            self.client.changeVisualShape(wall, -1, textureUniqueId=self.surface_textures[texture],
                                          rgbaColor=[*colour, 1])
        self.client.changeVisualShape(self.floor, -1, textureUniqueId=self.surface_textures[scene.floor_texture],
                                      rgbaColor=[*scene.floor_color, 1])
        return cube

    def render(self, scene: DiceScene, poses: np.ndarray) -> tuple:
        """Render `scene` from each pose (x, y, z, yaw, pitch) of `poses` [V, 5].

        Returns (frames uint8 [V, size, size, 3], visible_faces float32 [V, 6]:
        the fraction of each frame's pixels showing each cube face, from the
        renderer's segmentation mask).
        """
        cube = self.dress(scene)
        light = np.asarray(scene.light_position) - np.asarray(scene.cube_position)
        targets = camera_target(poses)
        frames = np.empty((len(poses), self.size, self.size, 3), dtype=np.uint8)
        visible = np.zeros((len(poses), 6), dtype=np.float32)
        for v, (pose, target) in enumerate(zip(np.asarray(poses, dtype=np.float64), targets)):
            view = self.client.computeViewMatrix(list(pose[:3]), list(target), [0, 0, 1])
            _, _, rgba, _, seg = self.client.getCameraImage(
                self.size, self.size, view, self.projection, lightDirection=list(light), shadow=1,
                renderer=self.renderer, flags=pybullet.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX, **LIGHT)
            frames[v] = np.asarray(rgba, dtype=np.uint8).reshape(self.size, self.size, 4)[:, :, :3]
            seg = np.asarray(seg).reshape(-1)
            link = np.where((seg >= 0) & ((seg & 0xFFFFFF) == cube), (seg >> 24) - 1, 6)
            visible[v] = np.bincount(link, minlength=7)[:6] / seg.size
        return frames, visible

    def close(self) -> None:
        """Disconnect the PyBullet world."""
        self.client.disconnect()
