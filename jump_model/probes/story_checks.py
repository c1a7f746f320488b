"""Is a video the story it should be? Readings of a ShapeProbe's maps against a scene's known layout.

The resting shapes of a narrative scene never move, and their place, kind, size and colour are all visible
in its first frame, so a check may use the true labels of the first frame; everything about later frames
is read from the frames themselves through the probe:

    actor position   centroid of the pixels the probe reads as the actor's colour, outside the resting
                     shapes of that colour
    shape present    at least half of the core disc of a resting shape (radius RADIUS_CORE x its bounding
                     radius, inside every kind) read as its kind, its colour the most common colour read there
    next to          the actor's centre lies in the band where the story stops it beside a shape:
                     (r_actor + r_shape + gap) +- gap

A salesman video is coherent when at each of the story's arrival frames (layout.arrival_frames) the actor is
next to a different resting shape, so that all are visited once in some order, and every resting shape is
present in its first colour in every frame the actor does not cover. A color_reaction video is coherent when
the actor reaches the target (shape 1) and the target's colour changes exactly once, to a new colour, after
the actor's first arrival beside it, the bystanders staying as they were.

The graded parts (GRADES) read only the frames a model predicted (from frame `context` on), each a share in
[0, 1], about 1 on a true video and 0 on black frames. Salesman: `resting_kept` (resting shapes present in
their first colour, over the frames and shapes the actor does not cover), `actor_present` (frames where the
actor is found), `arrivals` (arrival frames where the actor is next to a shape not visited at an earlier
arrival frame), `visited` (distinct resting shapes the actor is next to in some frame / 4). Color_reaction:
`resting_kept` (the bystanders in their colour, the target in its kind), `actor_present`, `reached` (the actor
next to the target in some frame: 0 or 1) and `changed_once` (the target's colour read in at least half of the
frames, changing exactly once over them, from its first colour to another: 0 or 1; not tied to the actor, whose
reading fails when the target takes on the actor's colour).
"""

import numpy as np

from narratives import vocabulary as vocab
from narratives.layout import arrival_frames
from narratives.label_names import COLORS, KINDS, POSITIONS, SIZES

RADIUS_CORE = 0.5      # the disc of this share of the bounding radius is inside every kind of shape
MIN_ACTOR_PIXELS = 3   # fewer pixels of the actor's kind and colour: the actor is not in the frame
NOBODY = -1


def read_video(kinds: np.ndarray, colours: np.ndarray, first: dict) -> dict:
    """Read a video from the probe's maps: kinds, colours int [V, H, W] (class + 1, 0 = none), `first`: the
    scene's true labels (kinds [S], sizes [S], positions [V', S, 2], colors [V', S]; only frame 0 is used).

    Returns {"actor": float [V, 2] (px, NaN where not found), "next_to": int [V] (slot or NOBODY),
    "present": bool [V, S], "colour": int [V, S] (palette index read on each shape, NOBODY if none),
    "covered": bool [V, S] (the actor lies over that shape: it cannot be read)}; slot 0 columns unused.
    """
    frames, size = kinds.shape[0], kinds.shape[-1]
    shape_kinds = first[KINDS].astype(np.int64)
    radii = vocab.radii_px(size)[first[SIZES].astype(np.int64)]
    centres = first[POSITIONS][0].astype(np.float64)
    actor_colour = int(first[COLORS][0, 0])
    grid = np.arange(size) + 0.5
    dist = np.hypot(grid[None, None, :] - centres[:, 0, None, None], grid[None, :, None] - centres[:, 1, None, None])
    cores = dist <= RADIUS_CORE * radii[:, None, None]                       # [S, H, W]
    slots = len(radii)

    actor_mask = colours == actor_colour + 1    # [V, H, W]; colour is what a probe reads best
    for k in range(1, slots):   # a resting shape of the actor's colour: its own pixels are not the actor's
        if int(first[COLORS][0, k]) == actor_colour:
            actor_mask &= ~(dist[k] <= radii[k] + 0.5)
    counts = actor_mask.sum(axis=(1, 2))
    ys, xs = np.meshgrid(grid, grid, indexing="ij")
    with np.errstate(invalid="ignore", divide="ignore"):
        actor = np.stack([(actor_mask * xs).sum((1, 2)) / counts, (actor_mask * ys).sum((1, 2)) / counts], -1)
    actor[counts < MIN_ACTOR_PIXELS] = np.nan

    present = np.zeros((frames, slots), bool)
    colour = np.full((frames, slots), NOBODY)
    for k in range(1, slots):
        core_kinds, core_colours = kinds[:, cores[k]], colours[:, cores[k]]         # [V, P]
        right_kind = core_kinds == shape_kinds[k] + 1
        present[:, k] = right_kind.mean(axis=1) >= 0.5
        for t in range(frames):
            read = core_colours[t][right_kind[t] & (core_colours[t] > 0)]
            if read.size:
                colour[t, k] = int(np.bincount(read).argmax()) - 1
    gap = vocab.gap_px(size)
    to_shape = np.hypot(actor[:, None, 0] - centres[None, :, 0], actor[:, None, 1] - centres[None, :, 1])  # [V, S]
    stop = radii[0] + radii + gap
    covered = to_shape < radii[0] + radii       # NaN compares False: an unseen actor covers nothing
    beside = np.abs(to_shape - stop) <= gap
    beside[:, 0] = False
    nearest = np.where(beside, np.abs(to_shape - stop), np.inf).argmin(axis=1)
    next_to = np.where(beside.any(axis=1), nearest, NOBODY)
    return {"actor": actor, "next_to": next_to, "present": present, "colour": colour, "covered": covered}


def resting_unchanged(reading: dict, first: dict, slots) -> bool:
    """Return True if every shape in `slots` is present in its first colour in every frame it is not covered."""
    visible = ~reading["covered"][:, slots]
    same = reading["present"][:, slots] & (reading["colour"][:, slots] == first[COLORS][0, slots].astype(int))
    return bool((same | ~visible).all())


def salesman_coherent(reading: dict, first: dict) -> bool:
    """Return True if the actor stops beside each resting shape exactly once, at the story's arrival frames,
    and the resting shapes stay as they were (see the module docstring)."""
    frames, slots = reading["next_to"].shape[0], first[KINDS].shape[0]
    visited = reading["next_to"][arrival_frames(frames, slots - 1)]
    return sorted(visited.tolist()) == list(range(1, slots)) and resting_unchanged(reading, first,
                                                                                  list(range(1, slots)))


def color_reaction_coherent(reading: dict, first: dict) -> bool:
    """Return True if the actor reaches shape 1, whose colour then changes exactly once, to a new colour,
    after the actor's first arrival; the bystanders stay as they were (see the module docstring)."""
    arrived = np.flatnonzero(reading["next_to"] == 1)
    if not arrived.size:
        return False
    seen = ~reading["covered"][:, 1]
    target = np.where(seen, reading["colour"][:, 1], NOBODY)
    readable = target[seen]
    if (readable == NOBODY).any() or readable.size == 0:
        return False
    changes = np.flatnonzero(np.diff(readable)) + 1
    if len(changes) != 1 or readable[0] != int(first[COLORS][0, 1]):
        return False
    change_frame = np.flatnonzero(seen)[changes[0]]
    return bool(change_frame > arrived[0]) and resting_unchanged(reading, first, list(range(2, len(first[KINDS]))))


def kept_share(reading: dict, first: dict, slots, context: int, any_colour=()) -> float:
    """Return the share of (frame from `context` on, shape in `slots`) not covered by the actor in which the
    shape is present in its first colour (in any colour for the slots in `any_colour`); 1.0 when all are
    covered."""
    visible = ~reading["covered"][context:, slots]
    same = reading["colour"][context:, slots] == first[COLORS][0, slots].astype(int)
    same[:, [slots.index(k) for k in any_colour]] = True
    kept = reading["present"][context:, slots] & same
    return float(kept[visible].mean()) if visible.any() else 1.0


def actor_share(reading: dict, context: int) -> float:
    """Return the share of the frames from `context` on in which the actor is found."""
    return float(np.isfinite(reading["actor"][context:, 0]).mean())


def salesman_grades(reading: dict, first: dict, context: int) -> dict:
    """Return the salesman's graded parts of one video (see the module docstring), each a float in [0, 1]."""
    frames, slots = reading["next_to"].shape[0], first[KINDS].shape[0]
    arrivals = arrival_frames(frames, slots - 1)
    beside = reading["next_to"][arrivals]
    new = [beside[k] != NOBODY and beside[k] not in beside[:k] for k in range(len(arrivals))]
    judged = [k for k, t in enumerate(arrivals) if t >= context]
    later = reading["next_to"][context:]
    return {"resting_kept": kept_share(reading, first, list(range(1, slots)), context),
            "actor_present": actor_share(reading, context),
            "arrivals": float(np.mean([new[k] for k in judged])) if judged else 1.0,
            "visited": len(set(later[later != NOBODY].tolist())) / (slots - 1)}


def color_reaction_grades(reading: dict, first: dict, context: int) -> dict:
    """Return color_reaction's graded parts of one video (see the module docstring), each a float in [0, 1]."""
    slots = first[KINDS].shape[0]
    colours = reading["colour"][context:, 1]
    readable = colours[colours != NOBODY]
    once = 2 * readable.size >= colours.size and len(np.flatnonzero(np.diff(readable))) == 1 and \
        readable[0] == int(first[COLORS][0, 1])
    return {"resting_kept": kept_share(reading, first, list(range(1, slots)), context, any_colour=(1,)),
            "actor_present": actor_share(reading, context),
            "reached": float((reading["next_to"][context:] == 1).any()), "changed_once": float(once)}


#: story name (the manifest config's "story") -> its coherence check
CHECKS = {"salesman": salesman_coherent, "color_reaction": color_reaction_coherent}
#: story name -> its graded parts, (reading, first labels, context frames) -> {part: share in [0, 1]}
GRADES = {"salesman": salesman_grades, "color_reaction": color_reaction_grades}
