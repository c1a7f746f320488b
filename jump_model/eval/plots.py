"""The pictures of `jumpdata eval`: bars with 95% intervals per run (matplotlib); sampled views of the hidden
cube face, each run's rows beside the others'; and for the probe metrics, sampled sets with the probe's reading
written under each view. matplotlib loads only when the bar plot is drawn. Each function writes the path it is
given; the report gives temporary names of one scene_shards.files.FileGroup, so the report and its pictures
appear together or not at all."""

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from narratives.vocabulary import COLOR_NAMES
from scene_shards.pictures import grid

from .. import names
from ..names import MODEL_KINDS
from ..probes.story_checks import NOBODY
from ..sample import HEADER_H, LABEL_W, WHITE, labelled, stack
from .registry import metric_class

TITLE_H, BLOCK_GAP, PICTURE_SCALE, CAPTION_H = 16, 12, 3, 14
STORY_COLUMNS = 8          # frames of a video shown in the story picture: the last context frame and 7 later ones
PLOT_WIDTH = 20.0         # inches: the bar plot's panels wrap into rows this wide
BAR_MODELS = MODEL_KINDS + (names.TRUTH, names.RANDOM)   # a bar's colour follows its model's place here


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
    panels = [(r, f) for r in results for f in metric_class(r[names.METRIC]).figures
              if any(f in e for e in r[names.RUNS])]
    curves = [r for r in results if any(names.NELBO_CURVE in e for e in r[names.RUNS])]
    panel_width = max(3.0, 1.0 + 0.9 * max(len(r[names.RUNS]) for r, _ in panels))   # inches
    count = len(panels) + len(curves)
    columns = max(1, min(count, int(PLOT_WIDTH // panel_width)))                # wrapped into rows of this many
    rows = math.ceil(count / columns)
    fig, grid = plt.subplots(rows, columns, figsize=(panel_width * columns, 3.6 * rows), squeeze=False)
    axes = list(grid.flat)
    for ax in axes[count:]:
        ax.axis("off")
    for ax, result in zip(axes[len(panels):], curves):
        plot_nelbo_curve(ax, result)
    for ax, (result, name) in zip(axes, panels):
        entries = [e for e in result[names.RUNS] if name in e         # each run's own figures, no repeats
                   and not (names.REFERENCE in e and name in names.REFERENCE_FIGURES)]
        values = np.array([e[name] for e in entries])
        intervals = np.array([e.get(name + names.CI95, [e[name], e[name]]) for e in entries])
        errors = np.stack([values - intervals[:, 0], intervals[:, 1] - values])
        colours = [f"C{BAR_MODELS.index(e[names.MODEL]) % 10}" for e in entries]
        ax.bar(range(len(entries)), values, yerr=errors, capsize=4, color=colours)
        ax.set_xticks(range(len(entries)), [bar_label(e) for e in entries], fontsize=7)
        ax.set_title(f"{result[names.METRIC]}: {name}\n{result[names.DATASET]}, {result[names.SCENES]} "
                     f"{result[names.SPLIT]} scene(s)", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    try:
        fig.savefig(out, format="png", dpi=110)
    finally:
        plt.close(fig)


def plot_nelbo_curve(ax, result: dict) -> None:
    """Draw a nelbo result's nelbo_curve on `ax` against the pixel variance (log scale): the paired difference
    A - B of each pair of models with its 95% interval over scenes (below 0: A is better at that variance), or
    each run's NELBO when there is one model."""
    rows = [d for d in result.get(names.DIFFERENCES, []) if names.NELBO_CURVE in d]
    lines = [(" - ".join(d[names.MODELS]), d[names.NELBO_CURVE]) for d in rows] or \
        [(bar_label(e).replace("\n", " "), e[names.NELBO_CURVE]) for e in result[names.RUNS] if names.NELBO_CURVE in e]
    for label, points in lines:
        x = [p[names.PIXEL_VARIANCE] for p in points]
        y = np.array([p[names.NELBO] for p in points])
        low, high = np.array([p.get(names.NELBO + names.CI95, [v, v]) for p, v in zip(points, y)]).T
        ax.errorbar(x, y, yerr=[y - low, high - y], marker="o", ms=3, capsize=3, label=label)
    if rows:
        ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(result[names.PIXEL_VARIANCE], color="grey", ls=":", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("pixel variance (dotted: the headline's)", fontsize=7)
    ax.set_title(f"nelbo{' A - B' if rows else ''} by pixel variance (nats)\n{result[names.DATASET]}, "
                 f"{result[names.SCENES]} {result[names.SPLIT]} scene(s)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6)


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

    shown: dicts from dice.Consistency.picture_data ("scene", "face", "context", "truth", "samples").
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
    save_png(stack(blocks), out)


def captioned_row(images: np.ndarray, name: str, captions: list, scale: int = PICTURE_SCALE,
                  top: int = 0) -> np.ndarray:
    """Return uint8 [h, w, 3]: the views uint8 [C, H, W, 3] side by side, `name` on their left and each caption
    written under its view, below `top` white rows (HEADER_H lines it up with a `labelled` block)."""
    tiles = grid([images], scale)
    img = Image.new("RGB", (LABEL_W + tiles.shape[1], top + tiles.shape[0] + CAPTION_H), (WHITE,) * 3)
    img.paste(Image.fromarray(tiles), (LABEL_W, top))
    draw = ImageDraw.Draw(img)
    draw.text((2, top + tiles.shape[0] // 2 - 5), name, fill=(0, 0, 0))
    step = tiles.shape[1] // len(images) + 1
    for c, caption in enumerate(captions):
        draw.text((LABEL_W + c * step, top + tiles.shape[0] + 1), caption, fill=(0, 0, 0))
    return np.asarray(img)


def save_digit_picture(shown: list, out) -> None:
    """Write the digit-agreement picture: per scene its context views, the true views of the hidden face with the
    probe's reading under each, then each run's sampled sets of those views (a row per set), read the same way.

    shown: dicts from digit_agreement.DigitAgreement.picture_data ("scene", "face", "digit", "context", "truth", "truth_read",
    "samples": {run name: (views uint8 [S, T, H, W, 3], readings int [S, T])})."""
    blocks = []
    for s in shown:
        known = labelled([s["context"]], ["context"], [f"view {i + 1}" for i in range(len(s["context"]))],
                         PICTURE_SCALE)
        truth = captioned_row(s["truth"], "truth", [f"reads {d}" for d in s["truth_read"]], top=HEADER_H)
        runs = [titled(stack([captioned_row(views, f"set {k + 1}", [f"reads {d}" for d in read])
                              for k, (views, read) in enumerate(zip(*samples))]), name)
                for name, samples in s["samples"].items()]
        head = titled(side_by_side([known, truth]), f"test scene {s['scene']}: face {s['face']} (digit "
                                                    f"{s['digit']}) is hidden from the context")
        blocks.append(stack([head, side_by_side(runs)]))
    save_png(stack(blocks), out)


def story_caption(reading: dict, t: int, story: str) -> str:
    """What the probe read in frame t: the shape the actor is next to (and, for color_reaction, the colour read
    on the target, shape 1)."""
    by = reading["next_to"][t]
    text = f"by {by}" if by != NOBODY else "-"
    if story == "color_reaction":
        colour = reading["colour"][t, 1]
        text += " " + (COLOR_NAMES[colour] if colour != NOBODY else "?")
    return text


def save_story_picture(shown: list, out) -> None:
    """Write the story picture: per video, the true video and each run's sampled continuations at STORY_COLUMNS
    frames (the last context frame first), the probe's reading under each frame and the check's verdict in the
    row's name.

    shown: dicts from story.Story.picture_data ("scene", "story", "context_frames", "truth", "truth_read",
    "truth_coherent", "samples": {run name: (videos uint8 [S, V, H, W, 3], readings [S], verdicts bool [S])})."""
    blocks = []
    for s in shown:
        frames = len(s["truth"])
        columns = np.unique(np.linspace(s["context_frames"] - 1, frames - 1, STORY_COLUMNS).round().astype(int))
        verdict = {True: "coherent", False: "not"}
        row = lambda video, reading, name: captioned_row(video[columns], name, [
            f"t{t} {story_caption(reading, t, s['story'])}" for t in columns])
        rows = [row(s["truth"], s["truth_read"], f"truth: {verdict[s['truth_coherent']]}")]
        for name, (videos, readings, verdicts) in s["samples"].items():
            rows.append(titled(stack([row(v, r, f"{k + 1}: {verdict[bool(ok)]}")
                                      for k, (v, r, ok) in enumerate(zip(videos, readings, verdicts))]), name))
        blocks.append(titled(stack(rows), f"test video {s['scene']} ({s['story']}): frames 0-"
                                          f"{s['context_frames'] - 1} given; 'by k': the actor is next to shape k"))
    save_png(stack(blocks), out)


def save_png(picture: np.ndarray, out) -> None:
    """Write uint8 [h, w, 3] as a PNG to `out`."""
    Image.fromarray(picture).save(out, format="PNG")
