"""The pictures of `jumpdata eval`: bars with 95% intervals per run (matplotlib), and sampled views of the hidden
cube face, each run's rows beside the others'. Only `evaluate` imports this module (matplotlib loads here)."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from scene_shards.files import AtomicFile

from . import metric_names as names
from .config import MODEL_KINDS
from .sample import WHITE, labelled, stack

TITLE_H, BLOCK_GAP, PICTURE_SCALE = 16, 12, 3


def bar_label(e: dict) -> str:
    """The x label of a runs[] entry: the run folder's name, its model kind, and the batch size for speed."""
    batch = f"\nbatch {e[names.BATCH]}" if names.BATCH in e else ""
    return f"{Path(e[names.RUN]).name}\n({e[names.MODEL]}){batch}"


def plot_figures(results: list, out) -> None:
    """Write a PNG with a panel per figure of every metric in `results` (metric JSON objects): a bar per runs[]
    entry holding the figure, with its 95% interval as an error bar."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [(r, f) for r in results for f in names.FIGURES[r[names.METRIC]]
              if any(f in e for e in r[names.RUNS])]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 + 1.3 * max(len(r[names.RUNS]) for r, _ in panels)
                                                      * len(panels), 3.6), squeeze=False)
    for ax, (result, name) in zip(axes[0], panels):
        entries = [e for e in result[names.RUNS] if name in e         # each run's own figures, no repeats
                   and not (names.REFERENCE in e and name in names.REFERENCE_FIGURES)]
        values = np.array([e[name] for e in entries])
        intervals = np.array([e.get(name + names.CI95, [e[name], e[name]]) for e in entries])
        errors = np.stack([values - intervals[:, 0], intervals[:, 1] - values])
        colours = [f"C{MODEL_KINDS.index(e[names.MODEL]) % 10}" for e in entries]
        ax.bar(range(len(entries)), values, yerr=errors, capsize=4, color=colours)
        ax.set_xticks(range(len(entries)), [bar_label(e) for e in entries], fontsize=7)
        ax.set_title(f"{result[names.METRIC]}: {name}\n{result[names.DATASET]}, {result[names.SCENES]} "
                     f"{result[names.SPLIT]} scene(s)", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    with AtomicFile(Path(out), durable=False) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def titled(picture: np.ndarray, title: str) -> np.ndarray:
    """Return uint8 [TITLE_H + h, w, 3]: `title` written above `picture` on white."""
    img = Image.new("RGB", (picture.shape[1], picture.shape[0] + TITLE_H), (WHITE,) * 3)
    img.paste(Image.fromarray(picture), (0, TITLE_H))
    ImageDraw.Draw(img).text((2, 2), title, fill=(0, 0, 0))
    return np.asarray(img)


def side_by_side(blocks: list) -> np.ndarray:
    """Place uint8 pictures [h_i, w_i, 3] left to right on white, top-aligned, BLOCK_GAP apart."""
    h = max(b.shape[0] for b in blocks)
    out = np.full((h, sum(b.shape[1] for b in blocks) + BLOCK_GAP * (len(blocks) - 1), 3), WHITE, np.uint8)
    left = 0
    for b in blocks:
        out[:b.shape[0], left:left + b.shape[1]] = b
        left += b.shape[1] + BLOCK_GAP
    return out


def save_hidden_face_picture(shown: list, out) -> None:
    """Write the consistency picture: per scene its context views and the true views of the hidden face, then
    each run's sampled views of that face (a row per sample), the runs side by side.

    shown: dicts from evaluate.Plan.hidden_face_samples ("scene", "face", "context", "truth", "samples").
    """
    blocks = []
    for s in shown:
        targets = [f"target {i + 1}" for i in range(len(s["truth"]))]
        known = labelled([s["context"]], ["context"], [f"view {i + 1}" for i in range(len(s["context"]))],
                         PICTURE_SCALE)
        truth = labelled([s["truth"]], ["truth"], targets, PICTURE_SCALE)
        runs = [titled(labelled(list(samples), [f"sample {k + 1}" for k in range(len(samples))], targets,
                                PICTURE_SCALE), name) for name, samples in s["samples"].items()]
        head = titled(side_by_side([known, truth]), f"test scene {s['scene']}: face {s['face']} is hidden from "
                                                    f"the context; the targets show it")
        blocks.append(stack([head, side_by_side(runs)]))
    picture = stack(blocks)
    with AtomicFile(Path(out), durable=False) as tmp:
        Image.fromarray(picture).save(tmp, format="PNG")
