"""Jumpy predictions of a trained run as pictures: a PNG grid or a GIF.

PNG: a block with the context views, then a block with rows sample 1..k (for JUMP
each a consistent set: one z per sample, all queries rendered from it; for the
baselines whatever their sampling gives, see docs/model.md) and the true frames;
row names on the left and the view index above each column. GIF: one frame per
query view, rows context | samples | truth. Tiles and files come from
scene_shards.pictures, so `sample` accepts and refuses the same --out paths as `show`.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from scene_shards.common import UserError
from scene_shards.pictures import GAP, check_picture_size, grid, parse_indices, save_picture

from .config import RunConfig
from .data import open_test_split
from .eval.sampling import draw_views
from .run_folder import load_run, with_data_folder
from .runtime import compile_sampling

LABEL_W, HEADER_H = 76, 14   # pixels for the row names and the column labels
WHITE = 255


def default_views(cfg: RunConfig) -> tuple:
    """A forward prediction: the first min(3, context) views as context, up to 8 later views as queries.

    Returns (context indices, query indices), lists of ints.
    """
    views = cfg.model.views_per_scene
    k = min(3, cfg.context, views - 1)
    rest = np.arange(k, views)
    query = rest[np.unique(np.linspace(0, len(rest) - 1, min(8, len(rest))).round().astype(int))]
    return list(range(k)), [int(q) for q in query]


def predict(model: torch.nn.Module, frames: np.ndarray, viewpoints: np.ndarray, context: list, query: list,
            samples: int, seed: int) -> np.ndarray:
    """Sample `samples` predictions of the `query` views of one scene given its `context` views, from `seed`.

    frames uint8 [V, H, W, 3], viewpoints float32 [V, D]. Returns uint8 [samples, Q, H, W, 3].
    """
    torch.manual_seed(seed)
    return draw_views(model, frames, viewpoints, context, query, samples)


def labelled(rows: list, row_names: list, column_names: list, scale: int) -> np.ndarray:
    """Tile `rows` (uint8 [C, H, W, 3] each) with scene_shards.pictures.grid, add a name left of each row and a
    label above each column. Returns uint8 [HEADER_H + grid height, LABEL_W + grid width, 3]."""
    tiles = grid(rows, scale)
    h, w = rows[0].shape[1] * scale, rows[0].shape[2] * scale
    img = Image.new("RGB", (LABEL_W + tiles.shape[1], HEADER_H + tiles.shape[0]), (WHITE,) * 3)
    img.paste(Image.fromarray(tiles), (LABEL_W, HEADER_H))
    draw = ImageDraw.Draw(img)
    for c, name in enumerate(column_names):
        draw.text((LABEL_W + c * (w + GAP), 1), name, fill=(0, 0, 0))
    for r, name in enumerate(row_names):
        draw.text((2, HEADER_H + r * (h + GAP) + h // 2 - 5), name, fill=(0, 0, 0))
    return np.asarray(img)


def stack(blocks: list) -> np.ndarray:
    """Stack uint8 pictures [h_i, w_i, 3] top to bottom on white, left-aligned; returns uint8 [sum h, max w, 3]."""
    out = np.full((sum(b.shape[0] for b in blocks), max(b.shape[1] for b in blocks), 3), WHITE, np.uint8)
    top = 0
    for b in blocks:
        out[top:top + b.shape[0], :b.shape[1]] = b
        top += b.shape[0]
    return out


def prediction_pictures(frames, context, query, preds, kind: str, gif: bool, scale: int) -> list:
    """Compose the picture(s) of one prediction: one uint8 [h, w, 3] grid for a PNG, or one per query view
    (all the same size) for a GIF. frames uint8 [V, H, W, 3], preds uint8 [samples, Q, H, W, 3]."""
    prefix = "t" if kind == "time" else "v"
    context_names = [f"{prefix}{i}" for i in context]
    if gif:
        return [labelled([frames[context], preds[:, q], frames[[i]]],
                         ["context", f"samples {prefix}{i}", f"truth {prefix}{i}"], context_names, scale)
                for q, i in enumerate(query)]
    ctx = labelled([frames[context]], ["context"], context_names, scale)
    names = [f"sample {s + 1}" for s in range(len(preds))] + ["truth"]
    rows = labelled([*preds, frames[query]], names, [f"{prefix}{i}" for i in query], scale)
    return [stack([ctx, rows])]


def render_scene(model: torch.nn.Module, cfg: RunConfig, scenes, out: Path, scene: int = 0, context=None, query=None,
                 samples: int = 4, seed: int = 0, scale: int = 2) -> Path:
    """Predict the query views of test scene `scene` and write them to `out` (.png grid or .gif); returns `out`.

    context / query: lists of view indices (None: default_views). Raises UserError on a bad scene,
    sample count or --out path (the rules of scene_shards.pictures.save_picture).
    """
    out = Path(out)
    if not 0 <= scene < len(scenes):
        raise UserError(f"--scene {scene}: the test split has scenes 0..{len(scenes) - 1}")
    if samples <= 0:
        raise UserError(f"--samples must be positive, got {samples}")
    ctx_default, query_default = default_views(cfg)
    context = ctx_default if context is None else context
    query = query_default if query is None else query
    check_picture_size((samples + 2) * max(len(context), len(query)), cfg.model.image_size, cfg.model.image_size,
                       scale)
    frames, viewpoints = scenes.frames(scene), scenes.viewpoints(scene)
    preds = predict(model, frames, viewpoints, context, query, samples, seed)
    pictures = prediction_pictures(frames, context, query, preds, cfg.model.viewpoint_kind,
                                   out.suffix.lower() == ".gif", scale)
    save_picture([np.stack(pictures)], out, scale=1)   # one row of whole pictures: a PNG, or a GIF frame each
    return out


def sample_run(run, out, context: str = None, query: str = None, samples: int = 4, scene: int = 0,
               seed: int = 0, scale: int = 2, data=None, compile: bool = False) -> Path:
    """The `jumpdata sample` command: load `run`, predict a test scene, write `out`; returns the path written.

    `context` / `query`: view indices as text ("0,1", "10-15"; None: a forward prediction).
    `data`: the folder holding the run's dataset (None: the one it was trained on).
    `compile`: sample through torch.compile (runtime.compile_sampling).
    """
    cfg, model, _ = load_run(run)
    if data is not None:
        cfg = with_data_folder(cfg, data, run)
    return sample_scenes(cfg, model, open_test_split(cfg, str(run)), out, context, query, samples, scene, seed,
                         scale, compile)


def sample_scenes(cfg: RunConfig, model: torch.nn.Module, scenes, out, context: str = None, query: str = None,
                  samples: int = 4, scene: int = 0, seed: int = 0, scale: int = 2, compile: bool = False) -> Path:
    """Predict test scene `scene` of `scenes` (the test split the loaded model `model` of config `cfg` is sampled
    on) and write `out`, as sample_run; returns the path written."""
    if compile:
        compile_sampling(model, torch.device("cpu"))
    parse = lambda text: None if text is None else parse_indices(text, cfg.model.views_per_scene)
    ctx, qry = parse(context), parse(query)
    return render_scene(model, cfg, scenes, out, scene, ctx, qry, samples, seed, scale)
