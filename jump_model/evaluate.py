"""`jumpdata eval`: measure trained runs on their test split and write the JSON report, its plot and a table.

    report = evaluate(["runs/dice", "runs/dice-gqn"], "consistency.json", EvalSettings(metrics=["consistency"]))

Every run must have been trained on the same dataset; each metric is computed
for every run on the same scenes, views and random draws. The JSON layout and
the names are in jump_model.metric_names; docs/reproduce.md explains every figure.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from narratives.spec import STORY_KEY
from scene_shards.common import UserError
from scene_shards.files import write_json_atomic

from . import metric_names as names
from .data import open_test_split
from .hidden_face import TARGET_VIEWS, select_scenes
from .metrics import (bootstrap_ci95, draw_views, kl_per_scene, min_mse_per_scene, model_device, nelbo_per_scene,
                      scene_seed, time_to_frame_ms)
from .probe_metrics import (agreement_per_scene, random_floor, readable_picks, sampled_digits, sampled_story,
                            true_digits, true_story)
from .probes import check_probe_fits, load_probe
from .run_folder import load_run, with_data_folder
from .story_checks import CHECKS
from .train import resolve_device

TEST = "test"
DEFAULT_VIDEO_CONTEXT = 5     # min-mse and speed: the first 5 frames are the context (the paper's salesman setup)
DEFAULT_DICE_CONTEXT = 3      # nelbo and consistency: at most 3 context views (the dice preset's context)
MIN_QUALIFIED = 10            # fewer qualifying dice scenes than this is too few for an interval
SPEED_BATCHES = (1, 16)
SPEED_REPEATS = 10
PICTURE_SCENES, PICTURE_SAMPLES = 2, 4   # pictures: scenes shown, samples per run and scene
DEFAULT_SAMPLES = {names.MIN_MSE: 30, names.NELBO: 30, names.CONSISTENCY: 30, names.DIGIT_AGREEMENT: 10,
                   names.STORY: 10}


@dataclass
class EvalSettings:
    """The options of `jumpdata eval` (None: the default of docs/reproduce.md)."""
    metrics: list = field(default_factory=list)   # empty: every metric that applies to the runs' data
    samples: int = None          # min-mse, story: continuations per video; nelbo, consistency: posterior samples
                                 # per scene; digit-agreement: sampled sets per scene (None: DEFAULT_SAMPLES)
    scenes: int = None           # test scenes to use (the first ones; None: all)
    frames: int = 40             # speed: the frame number to obtain
    context_frames: int = None   # min-mse, speed: first frames given (5); nelbo, consistency: most context views (3)
    data: str = None             # folder holding the runs' dataset, if it moved
    probe: str = None            # probe folder (jumpdata probe train): needed by digit-agreement and story
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


def choose_metrics(asked: list, scenes, with_probe: bool) -> list:
    """Return the metrics to compute: `asked`, or every one that applies to `scenes` (a ShardDataset) when empty
    (the probe metrics only `with_probe`). UserError when an asked metric does not apply to the data or needs
    a probe that was not given."""
    fitting = names.metrics_for(scenes.viewpoint_kind, scenes.manifest.get("labels", {}))
    if not asked:
        fitting = [m for m in fitting if with_probe or m not in names.PROBE_METRICS]
        if not fitting:
            raise UserError(f"no metric applies to dataset '{scenes.name}' ({scenes.viewpoint_kind} viewpoints): "
                            f"min-mse and speed need videos, nelbo and consistency the dice room's "
                            f"{names.FACE_LABEL} label")
        return fitting
    for metric in asked:
        if metric not in fitting:
            raise UserError(f"metric {metric} does not apply to dataset '{scenes.name}': it needs "
                            f"{names.METRIC_NEEDS[metric]}"
                            + (f"; this dataset fits: {', '.join(fitting)}" if fitting else ""))
        if metric in names.PROBE_METRICS and not with_probe:
            raise UserError(f"metric {metric} reads sampled frames with a probe: give --probe FOLDER (make one with "
                            f"jumpdata probe train DATA --dataset {scenes.name} --out FOLDER)")
    return list(dict.fromkeys(asked))


def picture_names(runs: list) -> list:
    """The runs' names in pictures: model kind and folder name, the full path where two would look alike."""
    short = [f"{run.kind} {Path(run.path).name}" for run in runs]
    return [name if short.count(name) == 1 else f"{run.kind} {run.path}" for name, run in zip(short, runs)]


def agreement_figures(read: np.ndarray, digits: np.ndarray) -> dict:
    """The digit-agreement figures of readings int [N, S, T] of N scenes whose true digits are int [N]."""
    agreement, accuracy = agreement_per_scene(read, digits)
    return {"agreement": figure(agreement), "accuracy": figure(accuracy)}


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
    return {names.RUN: run.path, names.MODEL: run.kind, names.STEP: run.step, **figure_fields(figures)}


def reference_entry(run: str, model: str, **figures) -> dict:
    """A runs[] entry that is not a run folder (the probe metrics' truth and random rows): `run` names it,
    `model` is names.TRUTH or names.RANDOM; figures as in entry()."""
    return {names.RUN: run, names.MODEL: model, **figure_fields(figures)}


def figure_fields(figures: dict) -> dict:
    """{NAME: (value, interval or None)} -> {NAME: value, NAME_ci95: interval} (no interval key for None)."""
    out = {}
    for name, (value, interval) in figures.items():
        out[name] = value
        if interval is not None:
            out[name + names.CI95] = interval
    return out


# --------------------------------------------------------------------------- the metrics over runs

class Plan:
    """What one `eval` call measures: the runs, the test scenes, the settings, derived once for every metric."""

    def __init__(self, runs: list, scenes, settings: EvalSettings, metrics: list, probe=None):
        """probe: (ProbeConfig, network) from probes.load_probe when a probe metric is measured, else None."""
        self.runs, self.scenes, self.settings, self.metrics = runs, scenes, settings, metrics
        self.pictures = {}     # file name suffix -> the data of a picture the metrics leave (eval_plots draws it)
        self.names = dict(zip((id(r) for r in runs), picture_names(runs)))   # run -> its name in pictures
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
                raise UserError("the dice metrics need a latent of the whole scene: the ar model has none")
            self.picks = select_scenes(scenes, self.indices, settings.context_frames or DEFAULT_DICE_CONTEXT)
            if len(self.picks) < MIN_QUALIFIED:
                raise UserError(
                    f"only {len(self.picks)} of {len(self.indices)} test scenes of '{scenes.name}' have context views "
                    f"hiding a side face and {TARGET_VIEWS} views showing it (at least {MIN_QUALIFIED} needed): "
                    f"generate more test scenes (--test-n) or more views per scene (jumpdata dice --views 20)")
        self.probe_cfg, self.probe = probe if probe is not None else (None, None)
        if probe is not None and settings.probe is None:
            raise UserError("settings.probe must name the folder the probe was loaded from")
        for metric in metrics:
            if metric in names.PROBE_METRICS:
                check_probe_fits(self.probe_cfg, settings.probe, names.PROBE_METRICS[metric], scenes.name,
                                 scenes.frame_shape[0])
                self.probe.to(model_device(runs[0].model))
        self.readable = []
        if names.DIGIT_AGREEMENT in metrics:
            self.readable = readable_picks(scenes, self.picks, self.probe_cfg.face_min)
            if len(self.readable) < MIN_QUALIFIED:
                raise UserError(
                    f"only {len(self.readable)} of {len(self.picks)} selected test scenes of '{scenes.name}' show "
                    f"their hidden face as the largest face (at least {self.probe_cfg.face_min:.0%} of the image) in "
                    f"all {TARGET_VIEWS} target views (at least {MIN_QUALIFIED} needed): generate more test scenes "
                    f"(--test-n)")
        self.story = scenes.manifest.get("config", {}).get(STORY_KEY)
        if names.STORY in metrics and self.story not in CHECKS:
            raise UserError(f"metric story has no check for the story of '{scenes.name}' ({self.story}); it checks "
                            f"{', '.join(CHECKS)}")

    def samples(self, metric: str) -> int:
        """The --samples of `metric` (its DEFAULT_SAMPLES when not given)."""
        return self.settings.samples or DEFAULT_SAMPLES[metric]

    def units(self) -> int:
        """The number of progress units of every metric and run."""
        per_metric = {names.MIN_MSE: len(self.indices), names.NELBO: len(self.picks),
                      names.CONSISTENCY: len(self.picks), names.SPEED: len(SPEED_BATCHES) * SPEED_REPEATS,
                      names.DIGIT_AGREEMENT: len(self.readable), names.STORY: len(self.indices)}
        return sum(per_metric[m] * len(self.runs) for m in self.metrics)

    def header(self, metric: str) -> dict:
        """The top of a metric's JSON: metric, dataset, split, scenes."""
        scenes = len(self.picks) if names.METRIC_VIEWPOINTS[metric] == "camera" else len(self.indices)
        if metric == names.SPEED:
            scenes = 1
        if metric == names.DIGIT_AGREEMENT:
            scenes = len(self.readable)
        return {names.METRIC: metric, names.DATASET: self.scenes.name, names.SPLIT: TEST, names.SCENES: scenes}

    def min_mse(self, progress: Progress) -> dict:
        """The min-mse metric's JSON object."""
        entries = []
        for run in self.runs:
            progress.text = f"min-mse {run.path}"
            per_scene = min_mse_per_scene(run.model, self.scenes, self.indices, self.video_context,
                                          self.samples(names.MIN_MSE), on_scene=progress.step)
            entries.append(entry(run, min_mse=figure(per_scene)))
        return {**self.header(names.MIN_MSE), names.SAMPLES: self.samples(names.MIN_MSE),
                names.CONTEXT_FRAMES: self.video_context, names.RUNS: entries}

    def dice_header(self, metric: str) -> dict:
        """The top of nelbo's and consistency's JSON, with the scene count checked and the selection's settings."""
        return {**self.header(metric), names.SCENES_CHECKED: len(self.indices),
                names.SAMPLES: self.samples(metric), names.TARGET_VIEWS: TARGET_VIEWS}

    def pixel_variance(self) -> float:
        """The one fixed pixel variance of the NELBO: the first run's eval_pixel_variance."""
        return float(self.runs[0].cfg.eval_pixel_variance)

    def nelbo(self, progress: Progress) -> dict:
        """The nelbo metric's JSON object."""
        variance, entries = self.pixel_variance(), []
        for run in self.runs:
            progress.text = f"nelbo {run.path}"
            per_scene = nelbo_per_scene(run.model, self.scenes, self.picks, self.samples(names.NELBO), variance,
                                        on_scene=progress.step)
            entries.append(entry(run, nelbo=figure(per_scene)))
        return {**self.dice_header(names.NELBO), names.PIXEL_VARIANCE: variance, names.RUNS: entries}

    def consistency(self, progress: Progress) -> dict:
        """The consistency metric's JSON object."""
        entries = []
        for run in self.runs:
            progress.text = f"consistency {run.path}"
            kl1, kl3 = kl_per_scene(run.model, self.scenes, self.picks, self.samples(names.CONSISTENCY),
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

    def probe_header(self, metric: str) -> dict:
        """The probe metrics' settings: the probe folder and its held-out accuracy, the samples."""
        return {names.PROBE: str(self.settings.probe), names.PROBE_ACCURACY: self.probe_cfg.test_accuracy,
                names.SAMPLES: self.samples(metric)}

    def digit_agreement(self, progress: Progress) -> dict:
        """The digit-agreement metric's JSON object: a row per run, then the probe on the true views (its
        ceiling) and independent random classes (the floor)."""
        sets, entries, shown = self.samples(names.DIGIT_AGREEMENT), [], {}
        digits, true_read = true_digits(self.probe, self.scenes, self.readable)
        for run in self.runs:
            progress.text = f"digit-agreement {run.path}"
            read, kept = sampled_digits(run.model, self.probe, self.scenes, self.readable, sets,
                                        on_scene=progress.step, keep=PICTURE_SCENES)
            entries.append(entry(run, **agreement_figures(read, digits)))
            shown[self.names[id(run)]] = (kept, read[:PICTURE_SCENES])
        entries.append(reference_entry("probe on the true views", names.TRUTH,
                                       **agreement_figures(true_read, digits)))
        floor = random_floor(TARGET_VIEWS)
        entries.append(reference_entry("random classes", names.RANDOM, agreement=(floor[0], None),
                                       accuracy=(floor[1], None)))
        self.pictures["digits"] = [
            {"scene": p.scene, "face": p.face, "digit": int(digits[k]),
             "context": self.scenes.frames(p.scene, list(p.context)),
             "truth": self.scenes.frames(p.scene, list(p.targets)), "truth_read": true_read[k, 0],
             "samples": {name: (kept[k][:PICTURE_SAMPLES], read[k, :PICTURE_SAMPLES])
                         for name, (kept, read) in shown.items()}}
            for k, p in enumerate(self.readable[:PICTURE_SCENES])]
        return {**self.header(names.DIGIT_AGREEMENT), names.SCENES_CHECKED: len(self.indices),
                names.TARGET_VIEWS: TARGET_VIEWS, **self.probe_header(names.DIGIT_AGREEMENT), names.RUNS: entries}

    def story_metric(self, progress: Progress) -> dict:
        """The story metric's JSON object: the coherent share per run, then that of the true videos as the probe
        reads them (the ceiling through these checks)."""
        check, samples, entries, shown = CHECKS[self.story], self.samples(names.STORY), [], {}
        for run in self.runs:
            progress.text = f"story {run.path}"
            coherent, kept = sampled_story(run.model, self.probe, self.scenes, self.indices, self.video_context,
                                           samples, check, on_scene=progress.step, keep=PICTURE_SCENES)
            entries.append(entry(run, coherent=figure(coherent)))
            shown[self.names[id(run)]] = kept
        truth, truth_read = true_story(self.probe, self.scenes, self.indices, check, keep=PICTURE_SCENES)
        entries.append(reference_entry("probe on the true videos", names.TRUTH, coherent=figure(truth)))
        self.pictures["story"] = [
            {"scene": i, "story": self.story, "context_frames": self.video_context, "truth": self.scenes.frames(i),
             "truth_read": truth_read[k], "truth_coherent": bool(truth[k]),
             "samples": {name: tuple(part[:PICTURE_SAMPLES // 2] for part in kept[k]) for name, kept in shown.items()}}
            for k, i in enumerate(self.indices[:PICTURE_SCENES])]
        return {**self.header(names.STORY), names.STORY_NAME: self.story, names.CONTEXT_FRAMES: self.video_context,
                **self.probe_header(names.STORY), names.RUNS: entries}

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
                torch.manual_seed(scene_seed(1, pick.scene))
                rows[self.names[id(run)]] = draw_views(run.model, frames, views, ctx, tgt, PICTURE_SAMPLES)
            shown.append({"scene": pick.scene, "face": pick.face, "context": frames[ctx], "truth": frames[tgt],
                          "samples": rows})
        return shown


def measure(runs: list, scenes, settings: EvalSettings, probe=None, on_progress=None) -> tuple:
    """Measure loaded runs (LoadedRun, or anything with .path, .kind, .step and .model) on `scenes`, their test
    split. probe: (ProbeConfig, network) for the probe metrics, else None.

    Returns (results: a metric JSON object per metric, pictures: {file name suffix: picture data}).
    UserError on bad input (before any measurement)."""
    plan = Plan(runs, scenes, settings, choose_metrics(settings.metrics, scenes, probe is not None), probe)
    progress = Progress(on_progress, plan.units())
    metric = {names.MIN_MSE: plan.min_mse, names.NELBO: plan.nelbo, names.CONSISTENCY: plan.consistency,
              names.SPEED: plan.speed, names.DIGIT_AGREEMENT: plan.digit_agreement, names.STORY: plan.story_metric}
    with torch.no_grad():
        results = [metric[m](progress) for m in plan.metrics]
        if names.CONSISTENCY in plan.metrics:
            plan.pictures["hidden_face"] = plan.hidden_face_samples()
    return results, plan.pictures


def evaluate(run_paths, out, settings: EvalSettings, on_progress=None) -> dict:
    """Measure the runs, write `out` (JSON: one metric's object, or {"metrics": [...]} for several), the bar plot
    beside it (same name, .png) and the metrics' pictures: NAME_hidden_face.png (consistency), NAME_digits.png
    (digit-agreement), NAME_story.png (story).

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
    chosen = choose_metrics(settings.metrics, scenes, settings.probe is not None)
    probe = load_probe(settings.probe) if set(chosen) & set(names.PROBE_METRICS) else None
    results, pictures = measure(runs, scenes, replace(settings, metrics=chosen), probe, on_progress)
    report = results[0] if len(results) == 1 else {names.REPORT: results}
    from .eval_plots import PICTURES, plot_figures   # matplotlib only here
    write_json_atomic(out, report)
    plot_figures(results, out.with_suffix(".png"))
    for suffix, shown in pictures.items():
        PICTURES[suffix](shown, out.with_name(f"{out.stem}_{suffix}.png"))
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
