"""Pictures of scenes: a PNG grid (a row per scene, a column per view) or a GIF that plays the views."""

from pathlib import Path

import numpy as np
from PIL import Image

from .common import UserError
from .files import AtomicFile

GAP = 2          # pixels between cells, after magnification
GAP_COLOR = 255  # white gaps
GIF_MS = 150     # milliseconds per GIF frame
MAX_PICTURE_PIXELS = 100_000_000   # most pixels in one picture (all frames of a GIF together): 300 MB as RGB


def parse_indices(text: str, length: int, most: int = None) -> list:
    """Parse "0-7", "3" or "0,2,9-12" into a list of ints, each checked to lie in 0..length-1, at most `most` of
    them (default `length`); the count is checked before the list is built."""
    if length == 0:
        raise UserError("there is nothing to pick from: the split holds no scenes")
    most = length if most is None else most
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
    count = sum(hi - lo + 1 for lo, hi in ranges)
    if count > most:
        raise UserError(f"'{text}' picks {count} indices; at most {most} fit here")
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


def check_picture_size(cells: int, height: int, width: int, scale: int) -> None:
    """Raise UserError when a picture of `cells` frames of `height` x `width` pixels magnified `scale` times would
    hold more than MAX_PICTURE_PIXELS pixels."""
    pixels = cells * height * width * scale * scale
    if pixels > MAX_PICTURE_PIXELS:
        raise UserError(f"that picture would hold {pixels / 1e6:.0f} million pixels ({cells} frames of {width}x{height} "
                        f"at scale {scale}); the most is {MAX_PICTURE_PIXELS / 1e6:.0f} million: pick fewer or a "
                        f"smaller --scale")


def most_scenes(ds, scale: int) -> int:
    """Return how many scenes of ShardDataset `ds` (all views, magnified `scale` times) fit in one picture."""
    h, w, _ = ds.frame_shape
    return MAX_PICTURE_PIXELS // (ds.views_per_scene * h * w * scale * scale)


def save_preview(ds, scenes: list, out, scale: int = 2) -> None:
    """Write a picture of the listed scenes of a ShardDataset: every view of each scene, a row per scene.
    Raises UserError (before reading any scene) when the picture would be too big (check_picture_size)."""
    check_picture_size(len(scenes) * ds.views_per_scene, *ds.frame_shape[:2], scale)
    save_picture([ds.frames(i) for i in scenes], out, scale)
