"""The PyBullet dice room: built once per worker, then re-dressed and rendered scene after scene.

Every surface is a textured quad (an OBJ mesh with explicit UVs): the floor,
four walls, the ceiling, and six face plates per cube. The floor, walls and
ceiling reach OVERLAP metres past the room's edges, so no seam between two of
them lets a pixel see out of the room. Textures are loaded once (one
engraved-digit texture per bank digit, a small pool of surface patterns) and
only assigned per scene, with the scene's colours as tint, so memory stays
flat however many scenes a worker renders. Each cube face is its own body,
so the segmentation mask tells which face covers each pixel. Cubes come in
the few sizes of `scene.CUBE_SIZES`; the faces of the sizes a scene does not
use are parked far outside the room.
"""

import contextlib
import functools
import os
import pkgutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from scene_shards.common import UserError


@contextlib.contextmanager
def _silenced(fd: int):
    """Send what C code writes to file descriptor `fd` (1 or 2) to /dev/null for the duration."""
    (sys.stdout if fd == 1 else sys.stderr).flush()
    saved = os.dup(fd)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), fd)
        try:
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)


with _silenced(2):  # pybullet prints its build time on import
    import pybullet

from .cameras import FOV_DEG, camera_target
from .geometry import FACE_NORMALS, face_quaternion, frame_quaternion, quat_multiply, quat_to_matrix
from .scene import CEILING_COLOR, CUBE_SIZES, ROOM_HALF, TEXTURE_POOL, WALL_HEIGHT, DiceScene
from .shadows import in_cube_shadow, pixel_points
from .textures import engraved_digit, surface_texture

RENDERERS = ("tiny", "egl")
TILE_METRES = 1.5  # one surface texture covers this many metres of wall or floor
OVERLAP = 0.05  # how far each room surface reaches past the room's edges (hidden behind its neighbours)
CEILING_TEXTURE = 0  # the surface pattern of the ceiling
PARKED = (1000.0, 1000.0, -1000.0)  # where the cubes of other sizes wait
NEAR, FAR = 0.1, 15.0
AMBIENT, DIFFUSE = 0.45, 0.6  # TinyRenderer shading: colour = texture * tint * (AMBIENT + DIFFUSE * max(0, n.l))
LIGHT = dict(lightColor=[1, 1, 1], lightAmbientCoeff=AMBIENT, lightDiffuseCoeff=DIFFUSE, lightSpecularCoeff=0.0)
# Walls in the order +x, -x, +y, -y: centre, the quad's rightward direction, and its normal (into the room).
_WALLS = [((ROOM_HALF, 0, WALL_HEIGHT / 2), (0, -1, 0), (-1, 0, 0)),
          ((-ROOM_HALF, 0, WALL_HEIGHT / 2), (0, 1, 0), (1, 0, 0)),
          ((0, ROOM_HALF, WALL_HEIGHT / 2), (1, 0, 0), (0, -1, 0)),
          ((0, -ROOM_HALF, WALL_HEIGHT / 2), (-1, 0, 0), (0, 1, 0))]


def quad_obj(repeat_u: float, repeat_v: float) -> str:
    """Return the text of an OBJ unit quad in the xy plane (normal +z) whose UVs span [0, repeat_u] x [0, repeat_v]."""
    return ("v -0.5 -0.5 0\nv 0.5 -0.5 0\nv 0.5 0.5 0\nv -0.5 0.5 0\n"
            f"vt 0 0\nvt {repeat_u} 0\nvt {repeat_u} {repeat_v}\nvt 0 {repeat_v}\n"
            "vn 0 0 1\nf 1/1/1 2/2/1 3/3/1\nf 1/1/1 3/3/1 4/4/1\n")


class Client:
    """One PyBullet DIRECT-mode world: `client.f(...)` calls `pybullet.f(..., physicsClientId=id)`.

    (pybullet_utils' BulletClient first tries to attach to a shared-memory
    server and prints while doing so; this one connects to a private world only.)
    """

    def __init__(self):
        self.id = pybullet.connect(pybullet.DIRECT)

    def __getattr__(self, name):
        return functools.partial(getattr(pybullet, name), physicsClientId=self.id)

    def __del__(self):
        if pybullet is not None and pybullet.isConnected(self.id):  # the world goes with its last reference
            pybullet.disconnect(self.id)


def check_renderer(renderer: str) -> None:
    """Raise UserError unless `renderer` is one of RENDERERS."""
    if renderer not in RENDERERS:
        raise UserError(f"--renderer must be one of {', '.join(RENDERERS)} (got {renderer})")


def _load_plugin(client: Client) -> None:
    """Load PyBullet's EGL renderer plugin into `client`; raise UserError where it does not load."""
    egl = pkgutil.get_loader("eglRenderer")
    with _silenced(1):
        plugin = client.loadPlugin(egl.get_filename(), "_eglRendererPlugin") if egl else -1
    if plugin < 0:
        raise UserError("--renderer egl: PyBullet's EGL plugin did not load on this machine (use --renderer tiny)")


class DiceRoom:
    """A PyBullet world holding the room, able to render any DiceScene of a fixed digit bank.

    `bank_images` is uint8 [N, 28, 28]; frames are `size` x `size` pixels with a
    `fov_deg` field of view; `renderer` is "tiny" (CPU TinyRenderer) or "egl".
    """

    def __init__(self, bank_images: np.ndarray, size: int, fov_deg: float = FOV_DEG, renderer: str = "tiny"):
        check_renderer(renderer)
        self.size = size
        self.client = Client()
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
            side, height = 2 * (ROOM_HALF + OVERLAP), WALL_HEIGHT + 2 * OVERLAP
            across = (side / TILE_METRES, side / TILE_METRES)
            self.floor = self._plate(folder, "floor", across, (side, side), (0, 0, 0),
                                     frame_quaternion((1, 0, 0), (0, 1, 0)))
            self.ceiling = self._plate(folder, "ceiling", across, (side, side), (0, 0, WALL_HEIGHT),
                                       frame_quaternion((1, 0, 0), (0, -1, 0)))   # facing down, into the room
            self.walls = [self._plate(folder, f"wall{k}", (side / TILE_METRES, height / TILE_METRES),
                                      (side, height), centre, frame_quaternion(right, (0, 0, 1)))
                          for k, (centre, right, _) in enumerate(_WALLS)]
            self.client.changeVisualShape(self.ceiling, -1, textureUniqueId=self.surface_textures[CEILING_TEXTURE],
                                          rgbaColor=[*CEILING_COLOR, 1])
            # One body per face and cube size (the EGL renderer caches meshes by file, hence one file each).
            self.cubes = [[self._plate(folder, f"face{s}-{k}", (1, 1), (s, s), PARKED, (0, 0, 0, 1))
                           for k in range(6)] for s in CUBE_SIZES]
        self.active = self.cubes[0]
        self.fov_deg = fov_deg
        bodies = max(max(c) for c in self.cubes) + 1
        # Per body id: which cube face it is (-1: none), and the room surfaces' normals (zero for cube faces);
        # one extra row at the end answers the segmentation mask's -1 (no body; the closed room leaves none).
        self.face_of = np.full(bodies + 1, -1)
        for cube in self.cubes:
            self.face_of[cube] = np.arange(6)
        self.normals = np.zeros((bodies + 1, 3))
        self.normals[self.floor] = (0, 0, 1)
        self.normals[self.ceiling] = (0, 0, -1)
        for wall, (_, _, normal) in zip(self.walls, _WALLS):
            self.normals[wall] = normal

    def _texture(self, folder: Path, name: str, grey: np.ndarray) -> int:
        path = folder / f"{name}.png"
        Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2)).save(path)
        return self.client.loadTexture(str(path))

    def _plate(self, folder: Path, name: str, repeat: tuple, extent: tuple, centre, orientation) -> int:
        """Create a textured quad body of `extent` (metres) whose texture repeats `repeat` times; return its id."""
        path = folder / f"{name}.obj"
        path.write_text(quad_obj(*repeat))
        shape = self.client.createVisualShape(pybullet.GEOM_MESH, fileName=str(path),
                                              meshScale=[extent[0], extent[1], 1])
        return self.client.createMultiBody(0, -1, shape, basePosition=centre, baseOrientation=list(orientation))

    def dress(self, scene: DiceScene) -> None:
        """Put the scene's cube in place (the other sizes parked) and give every surface its texture and colour."""
        cube = self.cubes[CUBE_SIZES.index(scene.cube_size)]
        if self.active != cube:
            for face in self.active:
                self.client.resetBasePositionAndOrientation(face, PARKED, [0, 0, 0, 1])
        self.active = cube
        rotation = quat_to_matrix(scene.cube_orientation)
        tint = [*scene.cube_color, 1]
        for k, face in enumerate(cube):
            self.client.resetBasePositionAndOrientation(
                face, list(scene.cube_position + rotation @ FACE_NORMALS[k] * scene.cube_size / 2),
                list(quat_multiply(scene.cube_orientation, face_quaternion(k))))
            self.client.changeVisualShape(face, -1, textureUniqueId=self.digit_textures[scene.digits[k]],
                                          rgbaColor=tint)
        for wall, colour, texture in zip(self.walls, scene.wall_colors, scene.wall_textures):
            self.client.changeVisualShape(wall, -1, textureUniqueId=self.surface_textures[texture],
                                          rgbaColor=[*colour, 1])
        self.client.changeVisualShape(self.floor, -1, textureUniqueId=self.surface_textures[scene.floor_texture],
                                      rgbaColor=[*scene.floor_color, 1])

    def render(self, scene: DiceScene, poses: np.ndarray) -> tuple:
        """Render `scene` from each pose (x, y, z, yaw, pitch) of `poses` [V, 5].

        Returns (frames uint8 [V, size, size, 3], visible_faces float32 [V, 6]:
        the fraction of each frame's pixels showing each cube face, from the
        renderer's segmentation mask).
        """
        self.dress(scene)
        towards_light = np.asarray(scene.light_position) - np.asarray(scene.cube_position)
        towards_light /= np.linalg.norm(towards_light)
        # Shadowed pixels keep only the ambient part of their shading.
        darkening = AMBIENT / (AMBIENT + DIFFUSE * np.maximum(self.normals @ towards_light, 0))
        targets = camera_target(poses)
        frames = np.empty((len(poses), self.size, self.size, 3), dtype=np.uint8)
        visible = np.zeros((len(poses), 6), dtype=np.float32)
        for v, (pose, target) in enumerate(zip(np.asarray(poses, dtype=np.float64), targets)):
            view = self.client.computeViewMatrix(list(pose[:3]), list(target), [0, 0, 1])
            _, _, rgba, depth, seg = self.client.getCameraImage(
                self.size, self.size, view, self.projection, lightDirection=list(towards_light), shadow=0,
                renderer=self.renderer, **LIGHT)
            body = np.asarray(seg).reshape(self.size, self.size)  # body id per pixel (-1: none)
            face = self.face_of[body]
            visible[v] = np.bincount(face.ravel() + 1, minlength=7)[1:] / face.size
            room = (body >= 0) & (face < 0)
            points = pixel_points(np.asarray(depth).reshape(self.size, self.size), pose, self.fov_deg, NEAR, FAR)
            shadowed = in_cube_shadow(points[room], scene.light_position, scene.cube_position,
                                      scene.cube_orientation, scene.cube_size)
            shade = np.ones((self.size, self.size))
            shade[room] = np.where(shadowed, darkening[body[room]], 1.0)
            frame = np.asarray(rgba, dtype=np.uint8).reshape(self.size, self.size, 4)[:, :, :3]
            frames[v] = np.round(frame * shade[:, :, None])
        return frames, visible

    def close(self) -> None:
        """Disconnect the PyBullet world."""
        with _silenced(1):
            self.client.disconnect()
