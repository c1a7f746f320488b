"""Draw storyboards into anti-aliased RGB frames with numpy, a block of scenes at a time.

Each kind is a signed distance function (negative inside, in pixels; for polygons the maximum over
the edges' half-planes, exact near edges, a little short beyond a corner, where the anti-aliased
rim then reaches up to 1 px) evaluated at pixel centres in a small box around the shape only; a
pixel's coverage is clip(0.5 - distance, 0, 1) and its colour is blended over what is already there.
Shapes that keep their position and colour in every frame are drawn once into a background that
every frame of their scene starts from; each other shape is drawn into all frames at once.  Draw
order: shapes 1..S-1 by index, then the actor (shape 0) on top.  Still shapes never overlap, so on
the black background blending them one after another gives exactly the background plus each one's
own change.

A pixel's value depends only on its own coordinates, the shapes and their colours -- never on the
box it was computed in nor on the other scenes drawn with it -- so a scene's bytes are the same
whether it is drawn alone or in a block.  Drawing many scenes per numpy call is what makes this fast.
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


class _Scratch:
    """Work arrays kept from call to call, so that drawing block after block reuses the same memory
    (fresh memory costs the kernel a page fault per 4 KiB, about as much as the drawing itself).
    One per process; not for use from several threads."""

    def __init__(self):
        self.arrays = {}

    def get(self, name, shape, dtype=np.float32):
        """Return an uninitialised array of `shape` and `dtype`, the same memory as the last call of `name`
        when that is large enough."""
        size = int(np.prod(shape))
        array = self.arrays.get(name)
        if array is None or array.size < size or array.dtype != dtype:
            array = self.arrays[name] = np.empty(max(size, 2 * (0 if array is None else array.size)), dtype)
        return array[:size].reshape(shape)


_SCRATCH = _Scratch()


def distance(kind, dx, dy, out):
    """Write into `out` float32 [N, B, B] and return it: the signed distance (px, negative inside) of each
    pixel centre to shape `kind` (index into KINDS) drawn at unit scale of its apothem or radius, i.e.
    |p| for a circle and max over edges of (normal . p) for a polygon; `dx` float32 [N, 1, B], `dy`
    float32 [N, B, 1] are the pixel centres minus the shape's centre.  Subtract scale * radius for the
    true distance."""
    normals = _NORMALS[kind]
    if normals is None:
        np.add(dx * dx, dy * dy, out=out)
        return np.sqrt(out, out=out)
    nx, ny = normals
    np.add(dx * nx[0], dy * ny[0], out=out)
    edge = _SCRATCH.get("edge", out.shape)
    for x, y in zip(nx[1:], ny[1:]):
        np.maximum(out, np.add(dx * x, dy * y, out=edge), out=out)
    return out


def box_side(radius, size):
    """Return the side (int, px) of a square pixel box holding every pixel that a shape of bounding
    `radius` px may cover (its coverage ends within radius + 1 px of its centre)."""
    return min(int(2 * radius) + 4, size)


def footprint(kinds, radii, centres, box, size):
    """Return (origin, alpha) of N shapes in `box` x `box` pixel boxes of a `size` px frame, shape n having
    kind `kinds[n]` (int [N], in ascending order), bounding radius `radii[n]` px (float64 [N]) and centre
    `centres[n]` (float64 [N, 2], x then y, px), `box` at least box_side(radii.max(), size): origin intp
    [N, 2], the (column, row) of each box's top-left pixel; alpha float32 [N, box, 3 * box], the coverage
    in [0, 1] of each box pixel, repeated for its 3 channels so that it lines up with rows of RGB values
    (scratch memory, valid until the next call)."""
    steps = np.arange(box)
    origin = np.floor(centres - (radii[:, None] + 0.5)).astype(np.intp)
    np.minimum(np.maximum(origin, 0, out=origin), size - box, out=origin)
    # pixel centres minus the shape's centre: (column + 0.5) - x, exactly as float64, then float32
    offset = ((origin[:, :, None] + steps) + 0.5 - centres[:, :, None]).astype(np.float32)    # [N, 2, box]
    dx, dy = offset[:, None, 0], offset[:, 1, :, None]
    bounds = np.searchsorted(kinds, np.arange(len(vocab.KINDS) + 1))
    sdf = _SCRATCH.get("sdf", (len(kinds), box, box))
    for kind, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        if hi > lo:
            distance(kind, dx[lo:hi], dy[lo:hi], sdf[lo:hi])
    # coverage = clip(0.5 - (sdf - scale * radius), 0, 1), in place
    level = 0.5 + _SCALE[kinds] * radii.astype(np.float32)
    np.subtract(level[:, None, None], sdf, out=sdf)
    np.clip(sdf, 0.0, 1.0, out=sdf)
    alpha = _SCRATCH.get("alpha", (len(kinds), box, box, 3))
    for channel in range(3):
        alpha[..., channel] = sdf
    return origin, alpha.reshape(len(kinds), box, 3 * box)


def paint(frames, layers, kinds, radii, centres, rgb):
    """Blend N shapes, in the order given, over `frames` uint8 [L, size, size, 3] in place: shape n, of kind
    `kinds[n]`, bounding radius `radii[n]` px, centre `centres[n]` (float64 [N, 2]) and colour `rgb[n]`
    (uint8 [N, 3]), is drawn into frame `layers[n]` (int [N]): each pixel it covers becomes
    under + (colour - under) * coverage, rounded.  Returns None."""
    if not len(layers):
        return
    size = frames.shape[1]
    box = box_side(radii.max(), size)
    # draw order: the rank of each shape among the earlier shapes of its frame
    by_layer = np.argsort(layers, kind="stable")
    rank = np.empty(len(layers), np.intp)
    rank[by_layer] = np.arange(len(layers)) - np.searchsorted(layers[by_layer], layers[by_layer])
    by_kind = np.argsort(kinds, kind="stable")
    origin, alpha = footprint(kinds[by_kind], radii[by_kind], centres[by_kind], box, size)
    layers, rank, colour = layers[by_kind], rank[by_kind], np.tile(rgb[by_kind].astype(np.float32), box)
    # every box x box window of every frame, as a writeable view of rows of RGB values
    f, r, c, ch = frames.strides
    view = as_strided(frames, (len(frames), size - box + 1, size - box + 1, box, 3 * box), (f, r, c, r, ch))
    for k in range(rank.max() + 1):      # the k-th shape of every frame together: one box per frame
        rows = np.flatnonzero(rank == k) if rank.any() else slice(None)   # all of them at once, or a group
        pick = (layers[rows], origin[rows, 1], origin[rows, 0])
        coverage = alpha[rows]
        under = view[pick]                                   # uint8, cast to float32 by each operation below
        change = np.subtract(colour[rows, None, :], under, out=_SCRATCH.get("change", coverage.shape))
        change *= coverage
        change += under                                      # under + change, the same sum
        change += 0.5
        view[pick] = change                                  # truncated to uint8: rounded, as 0 <= value < 256


def render_all(boards, size):
    """Return uint8 [K, V, size, size, 3]: the RGB frames of K storyboards of V frames and S shapes each
    (`boards`, a sequence), on the black background.  Each scene's frames are those render() draws."""
    count = len(boards)
    kinds = np.stack([b.kinds for b in boards]).astype(np.intp)                         # [K, S]
    radii = vocab.radii_px(size)[np.stack([b.sizes for b in boards])]                  # [K, S]
    positions = np.stack([b.positions for b in boards]).astype(np.float64)             # [K, V, S, 2]
    colors = np.stack([b.colors for b in boards])                                      # [K, V, S]
    frames_n, shapes = colors.shape[1:]
    still = (positions == positions[:, :1]).all(axis=(1, 3)) & (colors == colors[:, :1]).all(axis=1)
    still[:, 0] = False  # the actor is drawn last, on top of everything
    frames = np.empty((count, frames_n, size, size, 3), np.uint8)
    layers = frames.reshape(count * frames_n, size, size, 3)
    # the shapes that stay put, into each scene's first frame, which every frame then starts from
    frames[:, 0] = np.full((size, size, 3), vocab.BACKGROUND, np.uint8)
    scene, shape = np.nonzero(still)
    paint(layers, scene * frames_n, kinds[scene, shape], radii[scene, shape], positions[scene, 0, shape],
          vocab.PALETTE[colors[scene, 0, shape]])
    frames[:, 1:] = frames[:, :1]
    # the others into every frame, shapes 1..S-1 then the actor
    draw = np.concatenate([np.arange(1, shapes), [0]])
    scene, shape = np.nonzero(~still[:, draw])
    shape = draw[shape]
    paint(layers, (scene[:, None] * frames_n + np.arange(frames_n)).ravel(), np.repeat(kinds[scene, shape], frames_n),
          np.repeat(radii[scene, shape], frames_n), positions[scene, :, shape].reshape(-1, 2),
          vocab.PALETTE[colors[scene, :, shape]].reshape(-1, 3))
    return frames


def render(board, size):
    """Return uint8 [V, size, size, 3]: the RGB frames of storyboard `board` on the black background."""
    return render_all([board], size)[0]
