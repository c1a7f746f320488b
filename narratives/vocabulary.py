"""The shape vocabulary of the narrative videos: 4 kinds, 12 named colours, 4 sizes, one background.

Every shape is described by three small integers -- kind, colour and size index -- which are
exactly the `kinds`, `colors` and `sizes` labels stored in the shards.  Sizes are fractions of
the image side (`--size`), so a scene drawn at 128 px is the 64 px scene scaled by two.
"""
import numpy as np

from scene_shards.common import UserError

#: Shape kinds, in label order (``kinds`` label = index into this tuple).
KINDS = ("circle", "square", "triangle", "pentagon")

#: The 12 colours, in label order (``colors`` label = index into this tuple), as (name, (r, g, b)).
#: Chosen bright and far apart so that all of them read clearly on the black background.
COLORS = (
    ("red", (230, 35, 35)),
    ("orange", (255, 140, 0)),
    ("yellow", (250, 230, 40)),
    ("lime", (150, 240, 60)),
    ("green", (20, 150, 55)),
    ("cyan", (40, 220, 230)),
    ("blue", (45, 95, 255)),
    ("purple", (150, 70, 230)),
    ("magenta", (235, 40, 200)),
    ("pink", (255, 165, 200)),
    ("brown", (160, 95, 40)),
    ("white", (245, 245, 245)),
)
COLOR_NAMES = tuple(name for name, _ in COLORS)

#: uint8 [12, 3]: RGB of each colour index.
PALETTE = np.array([rgb for _, rgb in COLORS], dtype=np.uint8)

#: RGB of the plain background (black, as in the paper's figures 3 and 4).
BACKGROUND = (0, 0, 0)

#: Bounding radius of each size index, as a fraction of the image side.  Every kind is drawn
#: inside the circle of this radius around the shape's centre.
SIZE_FRACTIONS = (0.07, 0.085, 0.10, 0.115)

#: Smallest image side at which the smallest shape (radius 0.07 * size) is still >= 2.2 px in
#: radius, i.e. a triangle is still told apart from a circle.
MIN_SIZE = 32
MAX_SIZE = 1024  # frames are [V, size, size, 3] uint8 in memory: 21 frames of 1024 px are 66 MB

#: Free space between the actor and the shape it visits, as a fraction of the image side.
GAP_FRACTION = 0.02


def check_size(size):
    """Return None if an image side of `size` pixels can be drawn; raise UserError otherwise."""
    if size > MAX_SIZE:
        raise UserError(f"--size {size} is larger than {MAX_SIZE} px, the largest frame this generator draws")
    if size < MIN_SIZE:
        raise UserError(
            f"--size {size} is too small to draw the shapes: the smallest shape would be "
            f"{2 * SIZE_FRACTIONS[0] * size:.1f} px across; use --size {MIN_SIZE} or more"
        )


def radii_px(size):
    """Return float64 [4]: the bounding radius in pixels of each size index at image side `size`."""
    return np.asarray(SIZE_FRACTIONS, dtype=np.float64) * size


def gap_px(size):
    """Return the free space in pixels (float) left between the actor and the shape it visits."""
    return GAP_FRACTION * size


def describe(size):
    """Return a JSON-able dict of the vocabulary at image side `size` (for the dataset manifest):
    kind names, colour names and RGB, size radii in pixels, background RGB."""
    return {
        "kinds": list(KINDS),
        "colors": [{"name": name, "rgb": list(rgb)} for name, rgb in COLORS],
        "size_radii_px": [round(float(r), 4) for r in radii_px(size)],
        "background_rgb": list(BACKGROUND),
    }
