"""`jumpdata eval`: measure trained runs on their test split and write the JSON report, its plot and a table.

    report = evaluate(["runs/dice", "runs/dice-gqn"], "consistency.json", EvalSettings(metrics=["consistency"]))

Every run must have been trained on the same dataset; each metric is computed
for every run on the same scenes, views and random draws. The JSON layout and
the names are in jump_model.metric_names; docs/reproduce.md explains every figure.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from scene_shards.common import UserError
from scene_shards.files import write_json_atomic

from . import metric_names as names
from .data import open_test_split
from .hidden_face import TARGET_VIEWS, select_scenes
from .metrics import (bootstrap_ci95, copies, kl_per_scene, min_mse_per_scene, model_device, nelbo_per_scene,
                      scene_seed, time_to_frame_ms)
from .run_folder import load_run, with_data_folder
from .train import resolve_device

TEST = "test"
DEFAULT_VIDEO_CONTEXT = 5     # min-mse and speed: the first 5 frames are the context (the paper's salesman setup)
DEFAULT_DICE_CONTEXT = 3      # nelbo and consistency: at most 3 context views (the dice preset's context)
MIN_QUALIFIED = 10            # fewer qualifying dice scenes than this is too few for an interval
SPEED_BATCHES = (1, 16)
SPEED_REPEATS = 10
PICTURE_SCENES, PICTURE_SAMPLES = 2, 4   # consistency picture: scenes shown, samples per run and scene


@dataclass
class EvalSettings:
    """The options of `jumpdata eval` (None: the default of docs/reproduce.md)."""
    metrics: list = field(default_factory=list)   # empty: every metric that applies to the runs' data
    samples: int = 30            # min-mse: continuations per video; nelbo, consistency: posterior samples per scene
    scenes: int = None           # test scenes to use (the first ones; None: all)
    frames: int = 40             # speed: the frame number to obtain
    context_frames: int = None   # min-mse, speed: first frames given (5); nelbo, consistency: most context views (3)
    data: str = None             # folder holding the runs' dataset, if it moved
    device: str = "auto"

    def check(self) -> "EvalSettings":
        """Raise UserError on a value out of range; returns self."""
        for name in ("samples", "scenes", "frames", "context_frames"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        unknown = [m for m in self.metrics if m not in names.METRICS]
        if unknown:
            raise UserError(f"unknown metric '{unknown[0]}' (choose {', '.join(names.METRICS)})")
        return self


@dataclass
class LoadedRun:
    """A run folder as given on the command line, its RunConfig, model (eval mode) and the step it reached."""
    path: str
    cfg: object
    model: torch.nn.Module
    step: int

    @property
    def kind(self) -> str:
        """The model kind: jump, gqn, badj or ar."""
        return self.model.cfg.kind


def load_runs(paths, data, device: torch.device) -> list:
    """Load every run (pointed at `data` when given); UserError when one is not a run or they hold different
    datasets. Returns [LoadedRun]."""
    if not paths:
        raise UserError("give at least one run folder")
    runs = []
    for path in paths:
        cfg, model, step = load_run(path, device)
        runs.append(LoadedRun(str(path), with_data_folder(cfg, data) if data is not None else cfg, model, step))
    a = runs[0]
    b = next((r for r in runs if where_of(r) != where_of(a)), None)
    if b is not None:
        raise UserError(f"runs on different datasets: {a.path} was trained on '{a.cfg.dataset}' in {a.cfg.data_dir}, "
                        f"{b.path} on '{b.cfg.dataset}' in {b.cfg.data_dir}; evaluate runs of one dataset together")
    return runs


def where_of(run: LoadedRun) -> tuple:
    """Return (dataset name, resolved data folder) of a run."""
    return run.cfg.dataset, str(Path(run.cfg.data_dir).resolve())


def choose_metrics(asked: list, scenes) -> list:
    """Return the metrics to compute: `asked`, or every one that applies to `scenes` (a ShardDataset) when empty.
    UserError when an asked metric does not apply to the data."""
    fitting = names.metrics_for(scenes.viewpoint_kind, scenes.manifest.get("labels", {}))
    if not asked:
        if not fitting:
            raise UserError(f"no metric applies to dataset '{scenes.name}' ({scenes.viewpoint_kind} viewpoints): "
                            f"min-mse and speed need videos, nelbo and consistency the dice room's "
                            f"{names.FACE_LABEL} label")
        return fitting
    for metric in asked:
        if metric not in fitting:
            need = "videos (time viewpoints)" if names.METRIC_VIEWPOINTS[metric] == "time" else \
                f"camera scenes with the {names.FACE_LABEL} label (jumpdata dice)"
            raise UserError(f"metric {metric} does not apply to dataset '{scenes.name}': it needs {need}"
                            + (f"; this dataset fits: {', '.join(fitting)}" if fitting else ""))
    return list(dict.fromkeys(asked))


class Progress:
    """Counts work units across all metrics and runs and reports them to on_progress(done, total, text)."""

    def __init__(self, on_progress, total: int):
        self.on_progress, self.total, self.done, self.text = on_progress, total, 0, None

    def step(self) -> None:
        """One unit done."""
        self.done += 1
        if self.on_progress:
            self.on_progress(self.done, self.total, self.text)


def figure(values, statistic=np.mean, seed: int = 0) -> tuple:
    """Return (statistic of values, its bootstrap 95% interval) as plain floats."""
    return float(statistic(np.asarray(values, np.float64))), bootstrap_ci95(values, statistic, seed=seed)


def entry(run: LoadedRun, **figures) -> dict:
    """A runs[] entry: run path, model kind, step, then each figure (value, interval) as NAME and NAME_ci95."""
    out = {names.RUN: run.path, names.MODEL: run.kind, names.STEP: run.step}
    for name, (value, interval) in figures.items():
        out[name] = value
        if interval is not None:
            out[name + names.CI95] = interval
    return out


# --------------------------------------------------------------------------- the metrics over runs

class Plan:
    """What one `eval` call measures: the runs, the test scenes, the settings, derived once for every metric."""

    def __init__(self, runs: list, scenes, settings: EvalSettings, metrics: list):
        self.runs, self.scenes, self.settings, self.metrics = runs, scenes, settings, metrics
        self.indices = list(range(min(settings.scenes or len(scenes), len(scenes))))
        video_metrics = [m for m in metrics if names.METRIC_VIEWPOINTS[m] == "time"]
        self.video_context = settings.context_frames or DEFAULT_VIDEO_CONTEXT
        if video_metrics and self.video_context >= scenes.views_per_scene:
            raise UserError(f"--context-frames {self.video_context} leaves nothing to predict in videos of "
                            f"{scenes.views_per_scene} frames")
        if names.SPEED in metrics:
            if not 1 <= settings.frames <= scenes.views_per_scene or settings.frames <= self.video_context:
                raise UserError(f"--frames {settings.frames}: the videos of '{scenes.name}' have "
                                f"{scenes.views_per_scene} frames and the context is the first {self.video_context}; "
                                f"ask for a frame after the context (or generate longer videos: jumpdata narratives "
                                f"--frames {settings.frames})")
        self.picks = []
        if any(names.METRIC_VIEWPOINTS[m] == "camera" for m in metrics):
            if any(r.kind == names.AUTOREGRESSIVE for r in runs):
                raise UserError("nelbo and consistency need a latent of the whole scene: the ar model has none")
            self.picks = select_scenes(scenes, self.indices, settings.context_frames or DEFAULT_DICE_CONTEXT)
            if len(self.picks) < MIN_QUALIFIED:
                raise UserError(
                    f"only {len(self.picks)} of {len(self.indices)} test scenes of '{scenes.name}' have context views "
                    f"hiding a side face and {TARGET_VIEWS} views showing it (at least {MIN_QUALIFIED} needed): "
                    f"generate more test scenes (--test-n) or more views per scene (jumpdata dice --views 20)")

    def units(self) -> int:
        """The number of progress units of every metric and run."""
        per_metric = {names.MIN_MSE: len(self.indices), names.NELBO: len(self.picks),
                      names.CONSISTENCY: len(self.picks), names.SPEED: len(SPEED_BATCHES) * SPEED_REPEATS}
        return sum(per_metric[m] * len(self.runs) for m in self.metrics)

    def header(self, metric: str) -> dict:
        """The top of a metric's JSON: metric, dataset, split, scenes."""
        scenes = len(self.picks) if names.METRIC_VIEWPOINTS[metric] == "camera" else len(self.indices)
        if metric == names.SPEED:
            scenes = 1
        return {names.METRIC: metric, names.DATASET: self.scenes.name, names.SPLIT: TEST, names.SCENES: scenes}

    def min_mse(self, progress: Progress) -> dict:
        """The min-mse metric's JSON object."""
        s = self.settings
        entries = []
        for run in self.runs:
            progress.text = f"min-mse {run.path}"
            per_scene = min_mse_per_scene(run.model, self.scenes, self.indices, self.video_context, s.samples,
                                          on_scene=progress.step)
            entries.append(entry(run, min_mse=figure(per_scene)))
        return {**self.header(names.MIN_MSE), names.SAMPLES: s.samples, names.CONTEXT_FRAMES: self.video_context,
                names.RUNS: entries}

    def dice_header(self, metric: str) -> dict:
        """The top of nelbo's and consistency's JSON, with the scene count checked and the selection's settings."""
        return {**self.header(metric), names.SCENES_CHECKED: len(self.indices),
                names.SAMPLES: self.settings.samples, names.TARGET_VIEWS: TARGET_VIEWS}

    def pixel_variance(self) -> float:
        """The one fixed pixel variance of the NELBO: the first run's eval_pixel_variance."""
        return float(self.runs[0].cfg.eval_pixel_variance)

    def nelbo(self, progress: Progress) -> dict:
        """The nelbo metric's JSON object."""
        variance, entries = self.pixel_variance(), []
        for run in self.runs:
            progress.text = f"nelbo {run.path}"
            per_scene = nelbo_per_scene(run.model, self.scenes, self.picks, self.settings.samples, variance,
                                        on_scene=progress.step)
            entries.append(entry(run, nelbo=figure(per_scene)))
        return {**self.dice_header(names.NELBO), names.PIXEL_VARIANCE: variance, names.RUNS: entries}

    def consistency(self, progress: Progress) -> dict:
        """The consistency metric's JSON object."""
        entries = []
        for run in self.runs:
            progress.text = f"consistency {run.path}"
            kl1, kl3 = kl_per_scene(run.model, self.scenes, self.picks, self.settings.samples,
                                    on_scene=progress.step)
            both = np.stack([kl1, kl3], axis=1)
            entries.append(entry(
                run, kl1=figure(kl1), kl3=figure(kl3),
                ratio=figure(both, lambda v: v[:, 1].mean() / v[:, 0].mean()),
                kl3_minus_kl1_sd=figure(both, lambda v: (v[:, 1] - v[:, 0]).std(ddof=1))))
        return {**self.dice_header(names.CONSISTENCY), names.RUNS: entries}

    def speed(self, progress: Progress) -> dict:
        """The speed metric's JSON object: an entry per run and batch size; a jumpy run's speedup is over the
        first ar run given."""
        s, video = self.settings, self.indices[0]
        frames, views = self.scenes.frames(video), self.scenes.viewpoints(video)
        times = {}
        for run in self.runs:
            progress.text = f"speed {run.path}"
            for batch in SPEED_BATCHES:
                times[run.path, batch] = time_to_frame_ms(run.model, frames, views, self.video_context, s.frames,
                                                          batch, SPEED_REPEATS, on_repeat=progress.step)
        reference = next((r for r in self.runs if r.kind == names.AUTOREGRESSIVE), None)
        entries = []
        for batch in SPEED_BATCHES:
            ar_ms = None if reference is None else times[reference.path, batch]
            for run in self.runs:
                own = figure(times[run.path, batch], np.median)
                if run.kind == names.AUTOREGRESSIVE:
                    entries.append({**entry(run, autoregressive_ms=own), names.BATCH: batch})
                    continue
                figures = {"jumpy_ms": own}
                if ar_ms is not None:
                    pair = np.stack([ar_ms, times[run.path, batch]], axis=1)
                    figures["autoregressive_ms"] = figure(ar_ms, np.median)
                    figures["speedup"] = figure(pair, lambda v: np.median(v[:, 0]) / np.median(v[:, 1]))
                extra = {names.REFERENCE: reference.path} if reference is not None else {}
                entries.append({**entry(run, **figures), names.BATCH: batch, **extra})
        return {**self.header(names.SPEED), names.FRAMES: s.frames, names.CONTEXT_FRAMES: self.video_context,
                names.REPEATS: SPEED_REPEATS, names.DEVICE: str(model_device(self.runs[0].model)),
                names.RUNS: entries}

    def hidden_face_samples(self) -> list:
        """Sampled views of the hidden face for the consistency picture: per shown scene a dict with the context
        and true target views (uint8 [n, H, W, 3]) and, per run, samples uint8 [PICTURE_SAMPLES, TARGET_VIEWS,
        H, W, 3] (one z per sample for a jumpy model)."""
        shown = []
        for pick in self.picks[:PICTURE_SCENES]:
            frames, views = self.scenes.frames(pick.scene), self.scenes.viewpoints(pick.scene)
            ctx, tgt = list(pick.context), list(pick.targets)
            rows = {}
            for run in self.runs:
                device = model_device(run.model)
                torch.manual_seed(scene_seed(1, pick.scene))
                pred = run.model.sample(*(copies(a, PICTURE_SAMPLES, device) for a in
                                          (frames[ctx], views[ctx], views[tgt])))
                rows[f"{run.kind} {Path(run.path).name}"] = \
                    (pred.movedim(2, -1).clamp(0, 1) * 255).round().byte().cpu().numpy()
            shown.append({"scene": pick.scene, "face": pick.face, "context": frames[ctx], "truth": frames[tgt],
                          "samples": rows})
        return shown


def evaluate(run_paths, out, settings: EvalSettings, on_progress=None) -> dict:
    """Measure the runs, write `out` (JSON: one metric's object, or {"metrics": [...]} for several), the bar plot
    beside it (same name, .png) and, for consistency, the picture of the hidden face (NAME_hidden_face.png).

    on_progress(done, total, text): called as work units finish. Returns the JSON written.
    UserError on bad input (before anything is written).
    """
    settings.check()
    out = Path(out)
    if out.suffix.lower() != ".json":
        raise UserError(f"--out {out}: the report is a .json file (its plot is written beside it as .png)")
    if not out.parent.is_dir():
        raise UserError(f"--out {out}: folder {out.parent} does not exist")
    runs = load_runs(run_paths, settings.data, resolve_device(settings.device))
    scenes = open_test_split(runs[0].cfg)
    plan = Plan(runs, scenes, settings, choose_metrics(settings.metrics, scenes))
    progress = Progress(on_progress, plan.units())
    measure = {names.MIN_MSE: plan.min_mse, names.NELBO: plan.nelbo, names.CONSISTENCY: plan.consistency,
               names.SPEED: plan.speed}
    with torch.no_grad():
        results = [measure[m](progress) for m in plan.metrics]
        pictures = plan.hidden_face_samples() if names.CONSISTENCY in plan.metrics else None
    report = results[0] if len(results) == 1 else {names.REPORT: results}
    from .eval_plots import plot_figures, save_hidden_face_picture   # matplotlib only here
    write_json_atomic(out, report)
    plot_figures(results, out.with_suffix(".png"))
    if pictures:
        save_hidden_face_picture(pictures, out.with_name(out.stem + "_hidden_face.png"))
    return report


def table(report: dict) -> str:
    """Return the report as text: a block per metric, a row per runs[] entry, a column per figure present."""
    blocks = []
    for result in report.get(names.REPORT, [report]):
        figures = [f for f in names.FIGURES[result[names.METRIC]] if any(f in e for e in result[names.RUNS])]
        has_batch = any(names.BATCH in e for e in result[names.RUNS])
        head = ["run", "model"] + (["batch"] if has_batch else []) + figures
        rows = [[e[names.RUN], e[names.MODEL]] + ([str(e[names.BATCH])] if has_batch else [])
                + [format_figure(e, f) for f in figures] for e in result[names.RUNS]]
        widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
        scenes = f"{result[names.SCENES]} of {result[names.SCENES_CHECKED]} scenes qualified" \
            if names.SCENES_CHECKED in result else f"{result[names.SCENES]} scene{'s' * (result[names.SCENES] != 1)}"
        lines = [f"{result[names.METRIC]} on {result[names.DATASET]} ({result[names.SPLIT]}: {scenes})"]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [head] + rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def format_figure(e: dict, name: str) -> str:
    """Return 'value [low, high]' of figure `name` of a runs[] entry (4 significant digits), '-' when absent."""
    if name not in e:
        return "-"
    text = f"{e[name]:.4g}"
    interval = e.get(name + names.CI95)
    return text + (f" [{interval[0]:.4g}, {interval[1]:.4g}]" if interval else "")
