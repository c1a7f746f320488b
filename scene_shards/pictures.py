"""Pictures of scenes: a PNG grid (a row per scene, a column per view) or a GIF that plays the views."""

from pathlib import Path

import numpy as np
from PIL import Image

from .common import UserError
from .files import AtomicFile

GAP = 2          # pixels between cells, after magnification
GAP_COLOR = 255  # white gaps
GIF_MS = 150     # milliseconds per GIF frame


def parse_indices(text: str, length: int) -> list:
    """Parse "0-7", "3" or "0,2,9-12" into a list of ints, each checked to lie in 0..length-1."""
    if length == 0:
        raise UserError("there is nothing to pick from: the split holds no scenes")
    ranges = []
    try:
        for part in text.split(","):
            lo, dash, hi = part.strip().partition("-")
            lo, hi = int(lo), int(hi) if dash else int(lo)
            if hi < lo:
                raise ValueError
            ranges.append((lo, hi))
    except ValueError:
        raise UserError(f"cannot read '{text}' as indices (write e.g. 0-7, 3 or 0,2,9-12)") from None
    for lo, hi in ranges:
        if lo < 0 or hi >= length:
            raise UserError(f"index {lo if lo < 0 else hi} is out of range: there are {length} (0..{length - 1})")
    return [i for lo, hi in ranges for i in range(lo, hi + 1)]


def grid(rows: list, scale: int = 1, gap: int = GAP) -> np.ndarray:
    """Tile rows of images into one picture.

    `rows` is a list of uint8 arrays [C, H, W, 3] (rows may differ in C);
    returns uint8 [R*(H*scale+gap)-gap, Cmax*(W*scale+gap)-gap, 3] with white gaps.
    """
    h, w = rows[0].shape[1] * scale, rows[0].shape[2] * scale
    cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + gap) - gap, cols * (w + gap) - gap, 3), GAP_COLOR, np.uint8)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            big = image.repeat(scale, 0).repeat(scale, 1)
            out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = big
    return out


def save_picture(rows: list, out, scale: int = 2) -> None:
    """Write `rows` (list of uint8 [C,H,W,3]) as a PNG grid, or, for a .gif, an animation over the columns.

    In the GIF each frame shows column t of every row, the rows stacked in a
    near-square grid. Written to a temporary name and renamed.
    Raises UserError for an unknown extension or an `out` that is a folder.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name ending in .png or .gif")
    if suffix not in (".png", ".gif"):
        raise UserError(f"--out {out}: write a .png (grid) or a .gif (animation)")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: folder {out.parent} does not exist")
    with AtomicFile(out, durable=False) as tmp:
        if suffix == ".png":
            Image.fromarray(grid(rows, scale)).save(tmp, format="PNG")
        else:
            _save_gif(rows, tmp, scale)


def _save_gif(rows: list, tmp: Path, scale: int) -> None:
    """Write `rows` to `tmp` as a GIF: frame t shows column t of every row, rows tiled near-square."""
    per_row = int(np.ceil(np.sqrt(len(rows))))
    pictures = []
    for t in range(max(len(r) for r in rows)):
        cells = [r[min(t, len(r) - 1)] for r in rows]
        tiled = [np.stack(cells[i:i + per_row]) for i in range(0, len(cells), per_row)]
        pictures.append(Image.fromarray(grid(tiled, scale)))
    pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:], duration=GIF_MS, loop=0)


def save_preview(ds, scenes: list, out, scale: int = 2) -> None:
    """Write a picture of the listed scenes of a ShardDataset: every view of each scene, a row per scene."""
    save_picture([ds.frames(i) for i in scenes], out, scale)
