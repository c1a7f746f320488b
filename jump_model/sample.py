"""Jumpy predictions of a trained run as pictures: a PNG grid or a GIF.

Grid rows: the context views | sample 1..k (each a consistent set: one z per
sample, all queries rendered from it) | the true frames; a label column on
the left and the view index above each column.
"""

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from shards.errors import UserError
from shards.files import temporary_name
from shards.preview import parse_indices

from .config import JumpConfig
from .data import open_split
from .model import JUMP

GAP, LABEL_W, HEADER_H = 4, 64, 14
BACKGROUND = (255, 255, 255)


def load_run(run: Path, device: torch.device = torch.device("cpu")):
    """Load a run folder's config and model (eval mode, on `device`).

    Returns (JumpConfig, JUMP, step). Raises UserError when `run` is not a run folder.
    """
    run = Path(run)
    config_path, ckpt_path = run / "config.json", run / "checkpoint.pt"
    if not config_path.is_file() or not ckpt_path.is_file():
        raise UserError(f"{run} is not a training run folder (no config.json and checkpoint.pt); "
                        f"make one with `jumpdata train`")
    try:
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=True)
        cfg = JumpConfig.from_dict(ckpt["config"])
        model = JUMP(cfg).to(device)
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, KeyError, EOFError, OSError) as e:
        raise UserError(f"cannot load {ckpt_path}: {str(e).splitlines()[0]}") from None
    return cfg, model.eval(), int(ckpt["step"])


def default_views(cfg: JumpConfig) -> tuple:
    """A forward prediction: the first min(3, context) views as context, up to 8 later views as queries.

    Returns (context indices, query indices), lists of ints.
    """
    k = min(3, cfg.context, cfg.views_per_scene - 1)
    rest = np.arange(k, cfg.views_per_scene)
    query = rest[np.unique(np.linspace(0, len(rest) - 1, min(8, len(rest))).round().astype(int))]
    return list(range(k)), [int(q) for q in query]


@torch.no_grad()
def predict(model: JUMP, frames: np.ndarray, viewpoints: np.ndarray, context: list, query: list, samples: int,
            seed: int) -> np.ndarray:
    """Sample `samples` consistent predictions of the `query` views of one scene given its `context` views.

    frames uint8 [V, H, W, 3], viewpoints float32 [V, D]. Returns uint8 [samples, Q, H, W, 3].
    """
    device = next(model.parameters()).device
    torch.manual_seed(seed)
    rep = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)[None].expand(samples, *a.shape)
    out = model.sample(rep(frames[context]), rep(viewpoints[context]), rep(viewpoints[query]))
    return (out.movedim(2, -1).clamp(0, 1) * 255).round().byte().cpu().numpy()


def _label(draw, xy, text):
    draw.text(xy, text, fill=(0, 0, 0))


def grid_image(context_frames, context_idx, predictions, truth, query_idx, kind: str) -> Image.Image:
    """Compose the grid: rows context | sample 1..k | truth. Frames uint8 [N, H, W, 3]. Returns a PIL image."""
    h, w = truth.shape[1:3]
    rows = [("context", context_frames, context_idx)] + \
           [(f"sample {s + 1}", p, query_idx) for s, p in enumerate(predictions)] + [("truth", truth, query_idx)]
    cols = max(len(context_idx), len(query_idx))
    row_h = HEADER_H + h + GAP
    img = Image.new("RGB", (LABEL_W + cols * (w + GAP), len(rows) * row_h), BACKGROUND)
    draw = ImageDraw.Draw(img)
    prefix = "t" if kind == "time" else "v"
    for r, (name, frames, idx) in enumerate(rows):
        top = r * row_h
        _label(draw, (2, top + HEADER_H + h // 2 - 5), name)
        for c, (frame, i) in enumerate(zip(frames, idx)):
            left = LABEL_W + c * (w + GAP)
            if r in (0, 1, len(rows) - 1):
                _label(draw, (left, top + 1), f"{prefix}{i}")
            img.paste(Image.fromarray(frame), (left, top + HEADER_H))
    return img


def gif_frames(context_frames, predictions, truth) -> list:
    """One GIF frame per query: [context views | sample 1..k | truth] side by side. Returns PIL images."""
    h, w = truth.shape[1:3]
    out = []
    for q in range(truth.shape[0]):
        tiles = list(context_frames) + [None] + [p[q] for p in predictions] + [None] + [truth[q]]
        img = Image.new("RGB", (len(tiles) * (w + GAP), h), BACKGROUND)
        for c, tile in enumerate(tiles):
            if tile is not None:
                img.paste(Image.fromarray(tile), (c * (w + GAP), 0))
        out.append(img)
    return out


def save_picture(images: list, path: Path) -> None:
    """Write one PIL image as PNG, or several as a looping GIF (by `path`'s suffix), atomically."""
    path = Path(path)
    tmp = temporary_name(path)
    if path.suffix.lower() == ".gif":
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=400, loop=0)
    else:
        images[0].save(tmp, format="PNG")
    os.replace(tmp, path)


def render_scene(model: JUMP, cfg: JumpConfig, scenes, out: Path, scene: int = 0, context=None, query=None,
                 samples: int = 4, seed: int = 0) -> Path:
    """Predict the query views of test scene `scene` and write them to `out` (.png grid or .gif); returns `out`."""
    out = Path(out)
    if out.suffix.lower() not in (".png", ".gif"):
        raise UserError(f"--out {out}: the picture must end in .png or .gif")
    if not 0 <= scene < len(scenes):
        raise UserError(f"--scene {scene}: the test split has scenes 0..{len(scenes) - 1}")
    if samples <= 0:
        raise UserError(f"--samples must be positive, got {samples}")
    ctx_default, query_default = default_views(cfg)
    context = ctx_default if context is None else context
    query = query_default if query is None else query
    frames, viewpoints = scenes.frames(scene), scenes.viewpoints(scene)
    preds = predict(model, frames, viewpoints, context, query, samples, seed)
    if out.suffix.lower() == ".gif":
        pictures = gif_frames(frames[context], preds, frames[query])
    else:
        pictures = [grid_image(frames[context], context, preds, frames[query], query, cfg.viewpoint_kind)]
    out.parent.mkdir(parents=True, exist_ok=True)
    save_picture(pictures, out)
    return out


def sample_run(run, out, context: str = None, query: str = None, samples: int = 4, scene: int = 0,
               seed: int = 0) -> Path:
    """The `jumpdata sample` command: load `run`, predict a test scene, write `out`; returns the path written.

    `context` / `query`: view indices as text ("0,1", "10-15"; None: a forward prediction).
    """
    cfg, model, _ = load_run(run)
    scenes = open_split(cfg, "test")
    parse = lambda text: None if text is None else parse_indices(text, cfg.views_per_scene)
    ctx, qry = parse(context), parse(query)
    return render_scene(model, cfg, scenes, out, scene, ctx, qry, samples, seed)
