"""Pixel-variance schedules: a small text format, parsed once, evaluated per step.

A schedule is a comma-separated list of segments, each held for `@STEPS` steps:

    VALUE@STEPS        constant VALUE for STEPS steps
    A:B@STEPS          linear from A to B over STEPS steps
    VALUE  or  A:B     the last segment may omit @STEPS: it lasts forever
                       (a linear one then stays at A, so give it a length)

After the last segment ends, its final value holds. Examples:

    2.0:0.5@100000                               salesman (appendix B): 2.0 -> 0.5 over 100k steps, then 0.5
    2.0@100000,0.2@50000,0.4@50000,0.9           dice (appendix B)
    0.5                                          constant
"""

import math
from dataclasses import dataclass

from scene_shards.common import UserError


@dataclass(frozen=True)
class Segment:
    """One piece of a schedule: from `start` to `end` over `steps` steps (None: forever)."""
    start: float
    end: float
    steps: int | None


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"pixel-variance schedule '{spec}': '{text}' is not a number") from None
    if not (value > 0 and math.isfinite(value)):
        raise UserError(f"pixel-variance schedule '{spec}': variance must be a finite number > 0, got {text}")
    return value


def parse_schedule(spec: str) -> tuple:
    """Parse a schedule string; returns a tuple of Segments. Raises UserError on bad text (spaces and line breaks
    included: the text is stored in the run's config.json as given)."""
    if any(c.isspace() for c in str(spec)):
        raise UserError(f"--pixel-variance {spec!r}: a schedule holds no spaces or line breaks (e.g. 2.0:0.5@100000)")
    pieces = str(spec).split(",")
    if not pieces or any(not p for p in pieces):
        raise UserError(f"pixel-variance schedule '{spec}' is empty or has an empty segment")
    segments = []
    for k, piece in enumerate(pieces):
        value, _, steps = piece.partition("@")
        if steps:
            if not steps.strip().isdigit() or int(steps) <= 0:
                raise UserError(f"pixel-variance schedule '{spec}': '@{steps}' must be a positive step count")
            length = int(steps)
        elif k < len(pieces) - 1:
            raise UserError(f"pixel-variance schedule '{spec}': only the last segment may omit '@STEPS'")
        else:
            length = None
        start, colon, end = value.partition(":")
        a = _number(start, spec)
        segments.append(Segment(a, _number(end, spec) if colon else a, length))
    return tuple(segments)


def pixel_variance(segments: tuple, step: int) -> float:
    """Return the pixel variance (float, in units of [0, 1]-scaled intensity squared) at training `step`."""
    for seg in segments:
        if seg.steps is None or step < seg.steps:
            if seg.steps is None:
                return seg.start
            return seg.start + (seg.end - seg.start) * step / seg.steps
        step -= seg.steps
    return schedule_end(segments)


def schedule_end(segments: tuple) -> float:
    """Return the value a schedule holds for good once its segments are over (its last segment's end)."""
    return segments[-1].end
