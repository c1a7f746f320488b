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
    """Return float32 array broadcast from `dx`, `dy` (float32, pixel centre minus shape centre, px):
    the fraction in [0, 1] of each pixel covered by shape `kind` (index into KINDS) of bounding `radius`."""
    scale, normals = _KIND_SHAPES[kind]
    if normals is None:
        sdf = np.sqrt(dx * dx + dy * dy)
    else:
        sdf = dx * np.float32(normals[0, 0]) + dy * np.float32(normals[0, 1])
        for nx, ny in normals[1:]:
            np.maximum(sdf, dx * np.float32(nx) + dy * np.float32(ny), out=sdf)
    # coverage = clip(0.5 - (sdf - scale * radius), 0, 1), in place
    np.subtract(np.float32(0.5 + scale * radius), sdf, out=sdf)
    np.minimum(sdf, 1.0, out=sdf)
    return np.maximum(sdf, 0.0, out=sdf)


def footprint(kind, radius, centres, height, width):
    """Return (index, alpha) of one shape drawn in each of V = len(centres) frames of height x width px:
    index intp [V, B, B, 3], the flat positions in a uint8 [V, H, W, 3] frame stack of the B x B pixel box
    around centre v (float [V, 2], x then y, px), channels last; alpha float32 [V, B, B, 1], the coverage."""
    box = min(int(2 * radius) + 4, height, width)
    steps = np.arange(box)
    origin = np.floor(centres - (radius + 0.5)).astype(np.intp)
    np.minimum(origin, (width - box, height - box), out=origin)
    np.maximum(origin, 0, out=origin)
    cols = origin[:, 0:1] + steps                                      # [V, box]
    rows = origin[:, 1:2] + steps
    dx = (cols + 0.5 - centres[:, 0:1]).astype(np.float32)[:, None, :]   # [V, 1, box]
    dy = (rows + 0.5 - centres[:, 1:2]).astype(np.float32)[:, :, None]   # [V, box, 1]
    alpha = coverage(kind, radius, dx, dy)[..., None]
    pixel = ((np.arange(len(centres)) * height)[:, None] + rows)[:, :, None] * width + cols[:, None, :]
    return pixel[..., None] * 3 + _CHANNELS, alpha


_CHANNELS = np.arange(3)


def paint(frames, kind, radius, centres, rgb):
    """Blend one shape over `frames` uint8 [V, H, W, 3] in place, in frame v at centre `centres[v]`
    (float [V, 2], x then y, px) in colour `rgb[v]` (uint8 [V, 3]).  Returns None."""
    count, height, width, _ = frames.shape
    index, alpha = footprint(kind, radius, centres, height, width)
    flat = frames.reshape(-1)
    under = np.take(flat, index).astype(np.float32)
    change = rgb.astype(np.float32)[:, None, None, :] - under
    change *= alpha
    under += change
    under += 0.5
    np.put(flat, index, under.astype(np.uint8))


def stamp(image, shapes):
    """Draw non-overlapping still shapes onto `image` uint8 [1, H, W, 3] (a plain background) in place.

    `shapes` is a list of (kind, radius, centre float [1, 2], rgb uint8 [1, 3]).  Their pixel boxes
    may overlap but their outlines may not, so their blends are summed in one pass.  Returns None."""
    if not shapes:
        return
    _, height, width, _ = image.shape
    flat = image.reshape(-1)
    indices, changes = [], []
    for kind, radius, centre, rgb in shapes:
        index, alpha = footprint(kind, radius, centre, height, width)
        indices.append(index.reshape(-1))
        changes.append((alpha * (rgb.astype(np.float32)[:, None, None, :] - np.take(flat, index))).reshape(-1))
    total = np.bincount(np.concatenate(indices), np.concatenate(changes), minlength=flat.size)
    flat[:] = (flat + total + 0.5).astype(np.uint8)


def render(board, size):
    """Return uint8 [V, size, size, 3]: the RGB frames of storyboard `board` on the plain background."""
    frames_n, shapes_n = board.colors.shape
    radii = vocab.radii_px(size)[board.sizes]
    positions = board.positions.astype(np.float64)
    background = np.empty((1, size, size, 3), dtype=np.uint8)
    background[:] = vocab.BACKGROUND
    still, moving = [], []
    for s in list(range(1, shapes_n)) + [0]:
        if (positions[:, s] == positions[0, s]).all() and (board.colors[:, s] == board.colors[0, s]).all():
            still.append((board.kinds[s], radii[s], positions[:1, s], vocab.PALETTE[board.colors[:1, s]]))
        else:
            moving.append(s)
    stamp(background, still)
    frames = np.repeat(background, frames_n, axis=0)
    for s in moving:
        paint(frames, board.kinds[s], radii[s], positions[:, s], vocab.PALETTE[board.colors[:, s]])
    return frames
