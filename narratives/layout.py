"""Geometry shared by the stories: placing shapes, finding a spot next to a shape, moving between spots.

Coordinates are continuous pixels, x to the right and y down; pixel (row r, column c)
covers [c, c+1) x [r, r+1), so its centre is (c + 0.5, r + 0.5).  A shape of bounding
radius R is "inside the frame" when its centre is at least R + EDGE_PX from every border.
"""
import bisect
import functools
import math

import numpy as np

#: Extra clearance in pixels between a shape's bounding circle and the frame border: the drawn
#: anti-aliased rim reaches up to 1 px beyond a triangle's tip (0.5 px beyond a flat edge), so the
#: border pixels, whose centres are 0.5 px in, always stay background.
EDGE_PX = 1.5

#: Directions tried around a visited shape, in order of preference: the approach
#: direction first, then 15 degrees to either side, 30, ... up to the far side.
_TURNS = [math.radians(s * a) for a in range(0, 181, 15) for s in (1, -1)][1:-1]


class LayoutFailed(Exception):
    """A random layout left no room for a move; the story draws a fresh layout."""


def place_shapes(rng, radii, size, clearance, candidates=32):
    """Return float64 [S, 2]: random centres for shapes of bounding `radii` [S] inside the frame,
    any two at least `clearance` px apart edge to edge.  Shapes are placed largest first, each at
    the first of `candidates` uniform draws that fits; raises LayoutFailed if none does."""
    radii = [float(r) for r in radii]
    draws = rng.random((len(radii), candidates, 2)).tolist()
    centres = [None] * len(radii)
    placed = []
    for i in sorted(range(len(radii)), key=lambda j: -radii[j]):
        r = radii[i]
        low, span = r + EDGE_PX, size - 2 * (r + EDGE_PX)
        for u, v in draws[i]:
            x, y = low + u * span, low + v * span
            if all(math.hypot(x - cx, y - cy) >= r + rc + clearance for cx, cy, rc in placed):
                placed.append((x, y, r))
                centres[i] = (x, y)
                break
        else:
            raise LayoutFailed
    return np.array(centres)


def spot_next_to(target, start, centres, radii, actor, size, gap):
    """Return float64 [2]: where the actor (index `actor`, coming from `start`) stops next to shape `target`.

    The spot is `gap` px from the target edge to edge, on the side facing `start` if that side is
    free; otherwise the nearest free direction around the target.  Free means inside the frame and
    at least 2 * `gap` px from every other shape, so the visited shape is unambiguously the closest.
    Raises LayoutFailed if no direction is free.
    """
    centres, radii = np.asarray(centres).tolist(), np.asarray(radii).tolist()
    ra = radii[actor]
    tx, ty = centres[target]
    reach = ra + radii[target] + gap
    base = math.atan2(float(start[1]) - ty, float(start[0]) - tx)
    lo, hi = ra + EDGE_PX, size - ra - EDGE_PX
    others = [(centres[j][0], centres[j][1], ra + radii[j] + 2 * gap)
              for j in range(len(radii)) if j not in (actor, target)]
    for turn in _TURNS:
        x, y = tx + reach * math.cos(base + turn), ty + reach * math.sin(base + turn)
        if lo <= x <= hi and lo <= y <= hi and all(math.hypot(x - ox, y - oy) >= d for ox, oy, d in others):
            return np.array([x, y])
    raise LayoutFailed


def arrival_frames(frames, legs):
    """Return int list [legs]: the frame index at which each of `legs` equal-time moves ends,
    spreading the moves evenly over frames 0..frames-1 with the last one ending on the last frame.
    Needs frames >= legs + 1 (every move then takes at least one frame)."""
    return [((k + 1) * (frames - 1) + legs // 2) // legs for k in range(legs)]


def smoothstep(u):
    """Return the ease-in/ease-out fraction 3u^2 - 2u^3 of `u` in [0, 1] (zero speed at both ends)."""
    return u * u * (3.0 - 2.0 * u)


@functools.lru_cache(maxsize=64)
def _schedule(frames, arrivals):
    """Return (leg intp [frames], u float64 [frames]): the move each frame is in and how far along it the actor
    is then (eased), for moves ending at frames `arrivals` (a tuple); computed once per video length."""
    ends = [0] + list(arrivals)
    legs, fractions = [], []
    for t in range(frames):
        leg = max(min(bisect.bisect_left(ends, t) - 1, len(arrivals) - 1), 0)  # frame t is in move leg
        legs.append(leg)
        fractions.append(smoothstep(min((t - ends[leg]) / (ends[leg + 1] - ends[leg]), 1.0)))
    return np.array(legs, dtype=np.intp), np.array(fractions)[:, None]


def travel(start, stops, arrivals, frames):
    """Return float64 [frames, 2]: the actor's centre per frame, going from `start` through `stops` [K, 2].

    Move k runs in a straight line from the previous stop and arrives exactly at frame `arrivals[k]`,
    easing in and out; before the first move the actor is at `start`, after the last it stays put.
    """
    points = np.concatenate([np.reshape(start, (1, 2)), np.reshape(stops, (-1, 2))]).astype(np.float64)
    leg, u = _schedule(frames, tuple(arrivals))
    here = points[leg]
    return here + u * (points[leg + 1] - here)
