"""Draw a storyboard into anti-aliased RGB frames with numpy.

Each kind is a signed distance function (negative inside, in pixels) evaluated at pixel centres
in a small box around the shape only; a pixel's coverage is clip(0.5 - distance, 0, 1) and its
colour is blended over what is already there.  Shapes that keep their position and colour in
every frame are drawn once into a background that every frame starts from; the others are drawn
for all frames at once.  Draw order: shapes 1..S-1 by index, then the actor (shape 0) on top.
"""
import numpy as np

from . import vocabulary as vocab

def _normals(count, first_deg):
    """Return float64 [count, 2]: unit edge normals of a regular polygon, the first at `first_deg` (y down)."""
    angles = np.deg2rad(first_deg + 360.0 / count * np.arange(count))
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


# Each kind inside its bounding circle of radius R: (scale of R, edge normals) -- a circle of radius
# 0.9 R, or a convex polygon with unit edge normals and apothem scale * R.  Polygons point upwards.
_SHAPES = {
    "circle": (0.9, None),
    "square": (0.7, _normals(4, 0.0)),                                    # half side 0.7 R
    "triangle": (np.cos(np.pi / 3), _normals(3, 90.0)),                  # circumradius R, apex up
    "pentagon": (np.cos(np.pi / 5), _normals(5, 90.0)),                  # circumradius R, apex up
}
_KIND_SHAPES = [_SHAPES[k] for k in vocab.KINDS]


def coverage(kind, radius, dx, dy):
    """Return float32 array broadcast from `dx`, `dy` (pixel centre minus shape centre, px): the
    fraction in [0, 1] of each pixel covered by shape `kind` (index into KINDS) of bounding `radius`."""
    scale, normals = _KIND_SHAPES[kind]
    if normals is None:
        sdf = np.sqrt(dx * dx + dy * dy) - scale * radius
    else:
        sdf = dx * normals[0, 0] + dy * normals[0, 1]
        for nx, ny in normals[1:]:
            np.maximum(sdf, dx * nx + dy * ny, out=sdf)
        sdf -= scale * radius
    return np.clip(0.5 - sdf, 0.0, 1.0, out=sdf).astype(np.float32, copy=False)


def paint(frames, kind, radius, centres, rgb):
    """Blend one shape into `frames` uint8 [V, H, W, 3] in place, frame v at centre `centres[v]`
    (float [V, 2], x then y, px) in colour `rgb[v]` (uint8 [V, 3]).  Returns None."""
    count, height, width, _ = frames.shape
    box = int(np.ceil(2 * radius)) + 3
    steps = np.arange(box)
    origin = np.floor(centres - radius - 0.5).astype(np.int64)
    origin[:, 0] = np.clip(origin[:, 0], 0, width - box)
    origin[:, 1] = np.clip(origin[:, 1], 0, height - box)
    cols = origin[:, 0:1] + steps                                     # [V, box]
    rows = origin[:, 1:2] + steps
    dx = (cols + 0.5 - centres[:, 0:1])[:, None, :]                    # [V, 1, box]
    dy = (rows + 0.5 - centres[:, 1:2])[:, :, None]                    # [V, box, 1]
    alpha = coverage(kind, radius, dx, dy)[..., None]                   # [V, box, box, 1]
    index = (np.arange(count)[:, None, None], rows[:, :, None], cols[:, None, :])
    under = frames[index].astype(np.float32)
    colour = rgb.astype(np.float32)[:, None, None, :]
    frames[index] = (under + alpha * (colour - under) + 0.5).astype(np.uint8)


def render(board, size):
    """Return uint8 [V, size, size, 3]: the RGB frames of storyboard `board` on the plain background."""
    frames_n, shapes_n = board.colors.shape
    radii = vocab.radii_px(size)[board.sizes]
    positions = board.positions.astype(np.float64)
    background = np.empty((1, size, size, 3), dtype=np.uint8)
    background[:] = vocab.BACKGROUND
    moving = []
    for s in list(range(1, shapes_n)) + [0]:
        still = (positions[:, s] == positions[0, s]).all() and (board.colors[:, s] == board.colors[0, s]).all()
        if still:
            paint(background, board.kinds[s], radii[s], positions[:1, s], vocab.PALETTE[board.colors[:1, s]])
        else:
            moving.append(s)
    frames = np.repeat(background, frames_n, axis=0)
    for s in moving:
        paint(frames, board.kinds[s], radii[s], positions[:, s], vocab.PALETTE[board.colors[:, s]])
    return frames
