"""Draw a storyboard into anti-aliased RGB frames with numpy.

Each kind is a signed distance function (negative inside, in pixels; for polygons the maximum over
the edges' half-planes, exact near edges, a little short beyond a corner, where the anti-aliased
rim then reaches up to 1 px) evaluated at pixel centres in a small box around the shape only; a
pixel's coverage is clip(0.5 - distance, 0, 1) and its colour is blended over what is already there.
Shapes that keep their position and colour in every frame are drawn once into a background that
every frame starts from; the others are drawn into all frames at once.  Draw order: shapes 1..S-1
by index, then the actor (shape 0) on top.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import vocabulary as vocab


def _normals(count, first_deg):
    """Return (nx, ny), float32 [count, 1, 1, 1] each: the unit edge normals of a regular polygon, the
    first at `first_deg` (y down), shaped to broadcast against [N, B, B] pixel boxes."""
    angles = np.deg2rad(first_deg + 360.0 / count * np.arange(count))
    return (np.cos(angles).astype(np.float32).reshape(-1, 1, 1, 1),
            np.sin(angles).astype(np.float32).reshape(-1, 1, 1, 1))


# Each kind inside its bounding circle of radius R: (scale, edge normals) -- a circle of radius
# scale * R, or a regular polygon with apothem scale * R.  Polygons point upwards.
_SHAPES = {
    "circle": (0.9, None),
    "square": (0.7, _normals(4, 0.0)),                                  # half side 0.7 R
    "triangle": (np.cos(np.pi / 3), _normals(3, 90.0)),                # circumradius R, apex up
    "pentagon": (np.cos(np.pi / 5), _normals(5, 90.0)),                # circumradius R, apex up
}
_SCALE = np.array([_SHAPES[k][0] for k in vocab.KINDS], dtype=np.float32)
_NORMALS = [_SHAPES[k][1] for k in vocab.KINDS]


def distance(kind, dx, dy):
    """Return float32 [N, B, B]: the signed distance (px, negative inside) of each pixel centre to shape
    `kind` (index into KINDS) drawn at unit scale of its apothem or radius, i.e. |p| for a circle and
    max over edges of (normal . p) for a polygon; `dx` float32 [N, 1, B], `dy` float32 [N, B, 1] are
    the pixel centres minus the shape's centre.  Subtract scale * radius for the true distance."""
    normals = _NORMALS[kind]
    if normals is None:
        return np.sqrt(dx * dx + dy * dy)
    nx, ny = normals
    return (dx * nx + dy * ny).max(axis=0)


def coverage(kinds, radii, dx, dy):
    """Return float32 [N, B, B]: the fraction in [0, 1] of each pixel covered by item n, a shape of kind
    `kinds[n]` (index into KINDS) and bounding radius `radii[n]` px, where `dx` float32 [N, 1, B] and
    `dy` float32 [N, B, 1] are the pixel centres minus the item's centre (px)."""
    kinds = np.asarray(kinds)
    present = np.unique(kinds)
    if len(present) == 1:
        sdf = distance(present[0], dx, dy)
    else:
        sdf = np.empty((len(kinds), dy.shape[1], dx.shape[2]), np.float32)
        for kind in present:
            rows = kinds == kind
            sdf[rows] = distance(kind, dx[rows], dy[rows])
    # coverage = clip(0.5 - (sdf - scale * radius), 0, 1), in place
    level = (0.5 + _SCALE[kinds] * np.asarray(radii, dtype=np.float32))[:, None, None]
    np.subtract(level, sdf, out=sdf)
    np.minimum(sdf, 1.0, out=sdf)
    return np.maximum(sdf, 0.0, out=sdf)


def box_side(radius, size):
    """Return the side (int, px) of the square pixel box that holds a shape of bounding `radius` px."""
    return min(int(2 * radius) + 4, size)


def footprint(kinds, radii, centres, box, size):
    """Return (origin, alpha) of N shapes in `box` x `box` pixel boxes of a `size` px frame, shape n having
    kind `kinds[n]`, bounding radius `radii[n]` px and centre `centres[n]` (float [N, 2], x then y, px):
    origin intp [N, 2], the (column, row) of each box's top-left pixel; alpha float32 [N, box, box, 1],
    the coverage of each box pixel."""
    steps = np.arange(box)
    origin = np.floor(centres - (radii[:, None] + 0.5)).astype(np.intp)
    np.maximum(np.minimum(origin, size - box, out=origin), 0, out=origin)
    dx = (origin[:, 0:1] + steps + 0.5 - centres[:, 0:1]).astype(np.float32)[:, None, :]   # [N, 1, box]
    dy = (origin[:, 1:2] + steps + 0.5 - centres[:, 1:2]).astype(np.float32)[:, :, None]   # [N, box, 1]
    return origin, coverage(kinds, radii, dx, dy)[..., None]


def still_image(size, origin, alpha, rgb):
    """Return uint8 [size, size, 3]: the plain background with N shapes that do not overlap (their boxes
    may), given by footprint()'s `origin` [N, 2] and `alpha` [N, B, B, 1] and their colours `rgb` uint8
    [N, 3].  As no pixel is covered by two shapes, their blends over the background are summed."""
    background = np.asarray(vocab.BACKGROUND, dtype=np.float32)
    canvas = np.broadcast_to(background + 0.5, (size, size, 3)).astype(np.float32)  # + 0.5: round on the cast
    box = alpha.shape[1]
    change = alpha * (rgb.astype(np.float32)[:, None, None, :] - background)
    for (x, y), delta in zip(origin.tolist(), change):
        canvas[y: y + box, x: x + box] += delta
    return canvas.astype(np.uint8)


def paint(frames, origin, alpha, rgb):
    """Blend one shape over every frame of `frames` uint8 [V, size, size, 3] in place: in frame v its
    footprint() box is at `origin[v]` (intp [V, 2]) with coverage `alpha[v]` (float32 [V, B, B, 1]), and
    its colour is `rgb[v]` (uint8 [V, 3]).  Returns None."""
    count, size = frames.shape[:2]
    box = alpha.shape[1]
    # every box x box window of every frame, as a writeable view; one window per frame is read and written
    f, r, c, ch = frames.strides
    windows = as_strided(frames, (count, size - box + 1, size - box + 1, box, box, 3), (f, r, c, r, c, ch))
    pick = (np.arange(count), origin[:, 1], origin[:, 0])
    under = windows[pick].astype(np.float32)
    change = rgb.astype(np.float32)[:, None, None, :] - under
    change *= alpha
    under += change
    under += 0.5
    windows[pick] = under.astype(np.uint8)


def render(board, size):
    """Return uint8 [V, size, size, 3]: the RGB frames of storyboard `board` on the plain background."""
    frames_n = board.colors.shape[0]
    radii = vocab.radii_px(size)[board.sizes]
    positions = board.positions.astype(np.float64)
    still = ((positions == positions[:1]).all(axis=(0, 2)) & (board.colors == board.colors[:1]).all(axis=0))
    still[0] = False  # the actor is drawn last, on top of everything
    stills = np.flatnonzero(still)
    movers = list(np.flatnonzero(~still[1:]) + 1) + [0]
    # one batch of boxes: each still shape once, then each moving shape once per frame
    origin, alpha = footprint(
        np.concatenate([board.kinds[stills], np.repeat(board.kinds[movers], frames_n)]),
        np.concatenate([radii[stills], np.repeat(radii[movers], frames_n)]),
        np.concatenate([positions[0, stills], positions[:, movers].transpose(1, 0, 2).reshape(-1, 2)]),
        box_side(radii.max(), size), size)
    n = len(stills)
    background = still_image(size, origin[:n], alpha[:n], vocab.PALETTE[board.colors[0, stills]])
    frames = np.repeat(background[None], frames_n, axis=0)
    for m, s in enumerate(movers):
        part = slice(n + m * frames_n, n + (m + 1) * frames_n)
        paint(frames, origin[part], alpha[part], vocab.PALETTE[board.colors[:, s]])
    return frames
