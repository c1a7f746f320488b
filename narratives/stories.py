"""The story registry and the stories.

A story is one function `story(rng, frames, size) -> Storyboard`, registered with the
`@story(...)` decorator, which also records its default and minimum video length and its
number of shapes.  A storyboard is plain data -- per-frame positions and colours -- that
`narratives.raster` turns into pixels and that is stored as the scene's labels.
"""
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import vocabulary as vocab
from .label_names import COLORS, KINDS, ORDER, POSITIONS, SIZES
from .layout import LayoutFailed, arrival_frames, place_shapes, spot_next_to, travel

#: Fresh layouts a story may draw before giving up: about 1 salesman layout in 8 leaves no room for a
#: stop, 4 in 10 when all five shapes are the largest, so 100 tries never run out in practice.
_LAYOUT_TRIES = 100


@dataclass
class Storyboard:
    """One scene as plain data: S shapes, V frames, shape 0 is the actor.

    kinds int8 [S] (index into vocabulary.KINDS), sizes int8 [S] (index into SIZE_FRACTIONS),
    positions float32 [V, S, 2] (centre in pixels, x then y), colors int8 [V, S] (index into
    PALETTE, per frame), order int8 [S-1] (the story's event labels, see each story).
    Shapes that never move or change must not overlap one another (layout.place_shapes keeps them
    apart): the rasteriser draws them together in one pass.
    """

    kinds: np.ndarray
    sizes: np.ndarray
    positions: np.ndarray
    colors: np.ndarray
    order: np.ndarray

    def labels(self):
        """Return the storyboard as the scene's label dict {name: array}, the names of label_spec."""
        return {name: getattr(self, name) for name in label_spec(1, 1)}


def label_spec(frames: int, shapes: int) -> dict:
    """The narrative labels, declared once: {name: (dtype name, per-scene shape)} for videos of `frames`
    frames with `shapes` shapes. Each name is a Storyboard field; docs/narratives.md says what each holds."""
    return {KINDS: ("int8", (shapes,)), SIZES: ("int8", (shapes,)),
            POSITIONS: ("float32", (frames, shapes, 2)), COLORS: ("int8", (frames, shapes)),
            ORDER: ("int8", (shapes - 1,))}


@dataclass(frozen=True)
class Story:
    """A registered story: its name, its function, video length (default and minimum) and shape count."""

    name: str
    draw: Callable
    default_frames: int
    min_frames: int
    shapes: int


#: name -> Story, filled by the @story decorator below.
STORIES = {}


def story(name, default_frames, min_frames, shapes):
    """Return a decorator registering `fn(rng, frames, size) -> Storyboard` as story `name` in STORIES."""
    def register(fn):
        STORIES[name] = Story(name, fn, default_frames, min_frames, shapes)
        return fn
    return register


def _attributes(rng, shapes):
    """Return (kinds, sizes, colors), each int8 [shapes], drawn uniformly from the vocabulary."""
    counts = (len(vocab.KINDS), len(vocab.SIZE_FRACTIONS), len(vocab.COLORS))
    kinds, sizes, colors = rng.integers(0, counts, size=(shapes, 3)).astype(np.int8).T
    return kinds.copy(), sizes.copy(), colors.copy()


def _visit(rng, sizes, targets, frames, size):
    """Return float32 [frames, S, 2]: a random layout of shapes of `sizes` [S] in which the actor
    (shape 0) moves next to each shape of `targets` (indices) in turn, in equal-time moves ending at
    layout.arrival_frames(frames, len(targets)); the other shapes never move."""
    radii = vocab.radii_px(size)[sizes]
    gap = vocab.gap_px(size)
    arrivals = arrival_frames(frames, len(targets))
    for _ in range(_LAYOUT_TRIES):
        try:
            # 3 gaps of clearance leave room for the actor's stop (2 gaps from any bystander).
            centres = place_shapes(rng, radii, size, clearance=3 * gap)
            stops, here = [], centres[0]
            for t in targets:
                here = spot_next_to(t, here, centres, radii, 0, size, gap)
                stops.append(here)
            break
        except LayoutFailed:
            continue
    else:
        raise RuntimeError("no layout found for the story; the vocabulary sizes are too large for the frame")
    positions = np.repeat(centres[None], frames, axis=0)
    positions[:, 0] = travel(centres[0], stops, arrivals, frames)
    return positions.astype(np.float32)


@story("salesman", default_frames=21, min_frames=5, shapes=5)
def salesman(rng, frames, size):
    """Shape 0 visits the other four shapes one after another in a random order; they stay put.

    The four moves take equal time and end at frames layout.arrival_frames(frames, 4)
    (5, 10, 15, 20 for 21 frames), the actor stopping next to the visited shape.
    Labels: order int8 [4] = the visited shape indices (1..4) in visiting order.
    """
    kinds, sizes, colors = _attributes(rng, 5)
    targets = 1 + rng.permutation(4)
    positions = _visit(rng, sizes, targets, frames, size)
    return Storyboard(kinds, sizes, positions, np.repeat(colors[None], frames, axis=0),
                      targets.astype(np.int8))


@story("color_reaction", default_frames=12, min_frames=3, shapes=4)
def color_reaction(rng, frames, size):
    """Shape 0 moves next to shape 1 over the first half; shape 1 then turns a new random colour.

    The move ends at frame A = ceil(frames / 2) - 1 (5 for 12 frames); shape 1 shows its new
    colour from frame A + 1 to the end.  Shapes 2 and 3 are bystanders that stay put.
    Labels: order int8 [3] = [target shape (always 1), new colour index, first frame of the new colour].
    """
    kinds, sizes, colors = _attributes(rng, 4)
    change = (frames + 1) // 2
    positions = _visit(rng, sizes, [1], change, size)
    positions = np.concatenate([positions, np.repeat(positions[-1:], frames - change, axis=0)])
    new = (colors[1] + rng.integers(1, len(vocab.COLORS))) % len(vocab.COLORS)
    per_frame = np.repeat(colors[None], frames, axis=0)
    per_frame[change:, 1] = new
    return Storyboard(kinds, sizes, positions, per_frame, np.array([1, new, change], dtype=np.int8))
