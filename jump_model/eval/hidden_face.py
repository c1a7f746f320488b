"""Which views of a dice scene hide one side face of the cube: the view selection of `nelbo` and `consistency`.

Read from the scene's labels only (`visible_faces`: per view the fraction of the
image's pixels showing each of the six faces; `cube_orientation`):

- a *side* face is one whose outward normal is horizontal in the world (the cube
  rests on a face, so four of its six faces are sides, one is on top, one on the floor);
- the *hidden* face H is a side face of which no context view shows a single pixel;
- the context views together show at most three faces (a face counts as shown by
  the context when any context view has one pixel of it);
- a target view *shows* H when at least SHOWN_FRACTION of its pixels are H;
  the first target view is the one with the largest share of H; the other
  TARGET_VIEWS - 1 are chosen among the views showing H so that what else they
  show is already known from the context and the first target: first those
  showing no cube face and no wall that those views do not show, then those with
  the least such area, then the largest share of H (a consistent model then
  gains nothing from them: KL3 ~ KL1). What they still show that is new is
  recorded per scene: `new_area`, the share of their pixels on unknown cube
  faces, and `new_walls`, the share of them with an unknown wall in their
  horizontal field of view (walls_in_view: the camera poses, the room's size and
  the field of view of the manifest's config).

Per scene the largest such context set (at most `max_context` views) is taken,
among equals the one that sees the most cube pixels; among the side faces the
one with the most context views, then the largest share in its target views.
"""

import itertools
from dataclasses import dataclass

import numpy as np

from dice3d.geometry import FACE_NORMALS, quat_to_matrix

from ..names import FACE_LABEL, ORIENTATION_LABEL

SHOWN_FRACTION = 0.01     # a view shows a face when at least 1% of its pixels are that face (10 pixels at 32x32)
TARGET_VIEWS = 3          # views of the hidden face per scene: the first alone gives KL1, all three KL3 and the NELBO
MAX_CONTEXT_FACES = 3     # the context may show at most this many faces
SIDE_NORMAL_Z = 0.5       # a face is a side face when its world normal's |z| is below this


WALL_RAYS = 33            # rays across a view's horizontal field of view in walls_in_view


@dataclass(frozen=True)
class HiddenFace:
    """One scene's selection: `face` (0..5: +x, -x, +y, -y, +z, -z of the cube's frame) is hidden from the
    `context` views (view indices) and shown by the `targets` views (the most visible first). new_area: the mean
    share of the later targets' pixels on cube faces that neither the context nor the first target shows;
    new_walls: the share of the later targets with such a wall in their field of view."""
    scene: int
    face: int
    context: tuple
    targets: tuple
    new_area: float = 0.0
    new_walls: float = 0.0


def walls_in_view(viewpoints, fov_deg: float, room_half: float) -> np.ndarray:
    """Return float [V, 4]: per camera pose (x, y, z, yaw, pitch) the share of WALL_RAYS horizontal rays across
    its field of view that end on each wall (+x, -x, +y, -y) of the square room [-room_half, room_half]^2."""
    poses = np.asarray(viewpoints, np.float64)
    angles = poses[:, 3:4] + np.radians(fov_deg) * np.linspace(-0.5, 0.5, WALL_RAYS)[None]   # [V, R]
    dx, dy = np.cos(angles), np.sin(angles)
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = np.where(dx != 0, (np.sign(dx) * room_half - poses[:, :1]) / dx, np.inf)
        ty = np.where(dy != 0, (np.sign(dy) * room_half - poses[:, 1:2]) / dy, np.inf)
    wall = np.where(np.abs(tx) < np.abs(ty), np.where(dx > 0, 0, 1), np.where(dy > 0, 2, 3))
    return np.stack([(wall == k).mean(axis=1) for k in range(4)], axis=1)


def novelty(visible: np.ndarray, walls: np.ndarray, known: list, view: int) -> tuple:
    """Return (share of `view`'s pixels on cube faces no `known` view shows, 1.0 if it has a wall in view that no
    known view has else 0.0). visible float [V, 6]; walls float [V, 4] or None (no walls counted)."""
    faces = visible[view, ~(visible[known] > 0).any(axis=0)].sum()
    wall = 0.0 if walls is None else float((walls[view] > 0)[~(walls[known] > 0).any(axis=0)].any())
    return float(faces), wall


def choose_targets(visible: np.ndarray, walls, face: int, context: tuple):
    """Return (targets, new_area, new_walls) for hidden face `face`: the view showing most of it, then the
    TARGET_VIEWS - 1 views showing it whose other content is best known (see the module docstring); None when
    fewer than TARGET_VIEWS views show it."""
    showing = [int(v) for v in np.argsort(-visible[:, face], kind="stable") if visible[v, face] >= SHOWN_FRACTION]
    if len(showing) < TARGET_VIEWS:
        return None
    known = list(context) + showing[:1]
    new = {v: novelty(visible, walls, known, v) for v in showing[1:]}
    rest = sorted(showing[1:], key=lambda v: (new[v][0] > 0 or new[v][1] > 0, new[v][0], -visible[v, face]))
    later = rest[:TARGET_VIEWS - 1]
    return (tuple(showing[:1] + later), float(np.mean([new[v][0] for v in later])),
            float(np.mean([new[v][1] for v in later])))


def side_faces(orientation) -> list:
    """Return the indices of the faces whose world normal is horizontal, for cube_orientation (x, y, z, w)."""
    normals_z = (quat_to_matrix(np.asarray(orientation, np.float64)) @ FACE_NORMALS.T)[2]
    return [f for f in range(len(FACE_NORMALS)) if abs(normals_z[f]) < SIDE_NORMAL_Z]


def best_context(visible: np.ndarray, hidden: int, max_context: int):
    """Return the largest tuple of views (at most max_context) that show nothing of face `hidden` and together
    at most MAX_CONTEXT_FACES faces (most cube pixels among equals), or None. visible: float [V, 6]."""
    candidates = [v for v in range(len(visible)) if visible[v, hidden] == 0]
    for k in range(min(max_context, len(candidates)), 0, -1):
        fitting = [c for c in itertools.combinations(candidates, k)
                   if (visible[list(c)] > 0).any(axis=0).sum() <= MAX_CONTEXT_FACES]
        if fitting:
            return max(fitting, key=lambda c: visible[list(c)].sum())   # max keeps the first of equals
    return None


def select_hidden_face(scene: int, visible, orientation, max_context: int, walls=None):
    """Return the HiddenFace of one scene from its labels (visible_faces float [V, 6], cube_orientation [4]) and
    the walls in each view's field (walls_in_view, or None: walls not counted), or None when no side face has a
    fitting context and TARGET_VIEWS views showing it."""
    visible = np.asarray(visible, np.float64)
    best, best_key = None, None
    for face in side_faces(orientation):
        context = best_context(visible, face, max_context)
        chosen = None if context is None else choose_targets(visible, walls, face, context)
        if chosen is None:
            continue
        key = (len(context), visible[list(chosen[0]), face].sum())
        if best_key is None or key > best_key:
            best, best_key = HiddenFace(scene, face, tuple(int(v) for v in context), *chosen), key
    return best


def select_scenes(scenes, indices, max_context: int) -> list:
    """Return the HiddenFace of every scene in `indices` (of a ShardDataset) that qualifies, in order; the walls
    are counted when the manifest's config gives the field of view and the room's size."""
    config = scenes.manifest.get("config", {})
    room = (config["fov_deg"], config["room_half"]) if {"fov_deg", "room_half"} <= set(config) else None
    chosen = []
    for i in indices:
        labels = scenes.labels(i)
        walls = walls_in_view(scenes.viewpoints(i), *room) if room else None
        pick = select_hidden_face(i, labels[FACE_LABEL], labels[ORIENTATION_LABEL], max_context, walls)
        if pick is not None:
            chosen.append(pick)
    return chosen
