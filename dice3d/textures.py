"""Greyscale textures for the dice room (numpy + PIL, no PyBullet): engraved digit faces and a surface pool.

Textures are uint8 [T, T] greys; the renderer tints them with the scene's
colours (PyBullet multiplies texture and rgbaColor), so one texture serves
every colour.
"""

import numpy as np
from PIL import Image

from .scene import TEXTURE_POOL

FACE_TEXTURE = 96  # pixels per side of a digit face texture
SURFACE_TEXTURE = 128  # pixels per side of a wall/floor texture
DIGIT_SPAN = 0.78  # the digit's 28-pixel box covers this fraction of the face


def engraved_digit(digit: np.ndarray) -> np.ndarray:
    """Return uint8 [FACE_TEXTURE, FACE_TEXTURE]: a face with `digit` (uint8 [28, 28], ink 255) cut into it.

    The stroke is dark, with a lit lower-right and a shaded upper-left rim
    (light from the upper left), and the face has a thin darker border so the
    cube's edges read clearly.
    """
    t = FACE_TEXTURE
    span = int(round(t * DIGIT_SPAN))
    ink = np.asarray(Image.fromarray(digit).resize((span, span), Image.BILINEAR), dtype=np.float64) / 255
    canvas = np.zeros((t, t))
    start = (t - span) // 2
    canvas[start:start + span, start:start + span] = ink
    shift = max(1, t // 48)
    upper_left = np.roll(canvas, (shift, shift), axis=(0, 1))  # ink seen from one step down-right
    lit_rim = np.clip(upper_left - canvas, 0, 1)  # groove wall facing the light
    shaded_rim = np.clip(np.roll(canvas, (-shift, -shift), axis=(0, 1)) - canvas, 0, 1)
    grey = 0.92 - 0.62 * canvas + 0.08 * lit_rim - 0.25 * shaded_rim
    edge = np.minimum(np.arange(t), np.arange(t)[::-1]) / (t * 0.04)
    border = np.clip(np.minimum(edge[:, None], edge[None, :]), 0, 1)
    grey *= 0.72 + 0.28 * border
    return np.clip(grey * 255 + 0.5, 0, 255).astype(np.uint8)


def surface_texture(kind: int) -> np.ndarray:
    """Return uint8 [SURFACE_TEXTURE, SURFACE_TEXTURE] grey pattern number `kind` (0..TEXTURE_POOL-1).

    Patterns: 0 plaster, 1 vertical stripes, 2 horizontal stripes, 3 checker,
    4 bricks, 5 dots, 6 diagonal stripes, 7 tiles. Values stay in [0.55, 1] so
    the tint colour dominates. Each pattern tiles seamlessly.
    """
    n = SURFACE_TEXTURE
    y, x = np.mgrid[0:n, 0:n] / n
    noise = np.random.default_rng(1000 + kind).uniform(size=(n, n))
    if kind == 0:
        pattern = 0.8 + 0.1 * (np.sin(2 * np.pi * x) * np.sin(4 * np.pi * y) + 1) + 0.05 * noise
    elif kind == 1:
        pattern = np.where((x * 4) % 1 < 0.5, 1.0, 0.78)
    elif kind == 2:
        pattern = np.where((y * 3) % 1 < 0.5, 1.0, 0.8)
    elif kind == 3:
        pattern = np.where(((x * 2).astype(int) + (y * 2).astype(int)) % 2 == 0, 1.0, 0.7)
    elif kind == 4:
        row = (y * 4).astype(int)
        mortar = ((y * 4) % 1 < 0.1) | (((x * 2) + 0.5 * (row % 2)) % 1 < 0.05)
        pattern = np.where(mortar, 0.6, 0.92 + 0.08 * noise)
    elif kind == 5:
        d = np.hypot((x * 3) % 1 - 0.5, (y * 3) % 1 - 0.5)
        pattern = np.where(d < 0.22, 0.65, 1.0)
    elif kind == 6:
        pattern = np.where(((x + y) * 3) % 1 < 0.5, 1.0, 0.78)
    elif kind == 7:
        grout = ((x * 3) % 1 < 0.06) | ((y * 3) % 1 < 0.06)
        pattern = np.where(grout, 0.62, 0.95)
    else:
        raise ValueError(f"texture kind {kind} is not in 0..{TEXTURE_POOL - 1}")
    return np.clip(pattern * 255 + 0.5, 0, 255).astype(np.uint8)
