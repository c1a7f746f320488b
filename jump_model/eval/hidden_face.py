"""Which views of a dice scene hide one side face of the cube: the view selection of `nelbo` and `consistency`.

Read from the scene's labels only (`visible_faces`: per view the fraction of the
image's pixels showing each of the six faces; `cube_orientation`):

- a *side* face is one whose outward normal is horizontal in the world (the cube
  rests on a face, so four of its six faces are sides, one is on top, one on the floor);
- the *hidden* face H is a side face of which no context view shows a single pixel;
- the context views together show at most three faces (a face counts as shown by
  the context when any context view has one pixel of it);
- a target view *shows* H when at least SHOWN_FRACTION of its pixels are H;
  the TARGET_VIEWS target views are those with the largest share of H.

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


@dataclass(frozen=True)
class HiddenFace:
    """One scene's selection: `face` (0..5: +x, -x, +y, -y, +z, -z of the cube's frame) is hidden from the
    `context` views (view indices) and shown by the `targets` views (most visible first)."""
    scene: int
    face: int
    context: tuple
    targets: tuple


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


def select_hidden_face(scene: int, visible, orientation, max_context: int):
    """Return the HiddenFace of one scene from its labels (visible_faces float [V, 6], cube_orientation [4]),
    or None when no side face has a fitting context and TARGET_VIEWS views showing it."""
    visible = np.asarray(visible, np.float64)
    best, best_key = None, None
    for face in side_faces(orientation):
        order = np.argsort(-visible[:, face], kind="stable")
        targets = tuple(int(v) for v in order[:TARGET_VIEWS] if visible[v, face] >= SHOWN_FRACTION)
        context = best_context(visible, face, max_context) if len(targets) == TARGET_VIEWS else None
        if context is None:
            continue
        key = (len(context), visible[list(targets), face].sum())
        if best_key is None or key > best_key:
            best, best_key = HiddenFace(scene, face, tuple(int(v) for v in context), targets), key
    return best


def select_scenes(scenes, indices, max_context: int) -> list:
    """Return the HiddenFace of every scene in `indices` (of a ShardDataset) that qualifies, in order."""
    chosen = []
    for i in indices:
        labels = scenes.labels(i)
        pick = select_hidden_face(i, labels[FACE_LABEL], labels[ORIENTATION_LABEL], max_context)
        if pick is not None:
            chosen.append(pick)
    return chosen
