"""`jumpdata eval`: measure trained runs on their test split and write the JSON report, its plot and a table.

    report = evaluate(["runs/dice", "runs/dice-gqn"], "consistency.json", EvalSettings(metrics=["consistency"]))

Every run must have been trained on the same dataset; each metric is computed
for every run on the same scenes, views and random draws. The metrics are
plug-ins (metric.py), registered in registry.py; the JSON keys are in
jump_model.names; docs/reproduce.md explains every figure.
"""

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from scene_shards.common import UserError
from scene_shards.files import FileGroup, new_folder

from .. import names
from ..data import check_run_data, open_test_split
from ..probes.nets import load_probe
from ..run_folder import load_run, with_data_folder
from ..runtime import compile_sampling, resolve_device
from .figures import check_finite
from .latent_use import check_kl_floor
from .metric import Progress, Study, probe_missing
from .registry import METRICS, metric_class
from .seeds import summarise


@dataclass
class EvalSettings:
    """The options of `jumpdata eval` (None: the default of docs/reproduce.md)."""
    metrics: list = field(default_factory=list)   # empty: every metric that applies to the runs' data
    samples: int = None          # min-mse, story: continuations per video; nelbo, consistency: posterior samples
                                 # per scene; digit-agreement: sampled sets per scene (None: each metric's default)
    scenes: int = None           # test scenes to use (the first ones; None: all)
    frames: int = 40             # speed: the frame number to obtain
    context_frames: int = None   # min-mse, speed: first frames given (5); nelbo, consistency: most context views (3)
    data: str = None             # folder holding the runs' dataset, if it moved
    probe: str = None            # probe folder (jumpdata probe train): needed by digit-agreement and story
    device: str = "auto"
    compile: bool = False        # sample through torch.compile (runtime.compile_sampling)
    allow_low_kl: bool = False   # report an ar run below the KL floor (latent_use.KL_FLOOR) instead of refusing it

    def check(self) -> "EvalSettings":
        """Raise UserError on a value out of range; returns self."""
        for name in ("samples", "scenes", "frames", "context_frames"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        unknown = [m for m in self.metrics if m not in METRICS]
        if unknown:
            raise UserError(f"unknown metric '{unknown[0]}' (choose {', '.join(METRICS)})")
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
        """The model kind: jump, gqn, factored, badj or ar."""
        return self.model.cfg.kind


def load_runs(paths, data, device: torch.device, compile: bool = False) -> list:
    """Load every run (pointed at `data` when given; compile: its sampling through torch.compile); UserError when
    one is not a run or they hold different datasets. Returns [LoadedRun]."""
    if not paths:
        raise UserError("give at least one run folder")
    runs = []
    for path in paths:
        cfg, model, step = load_run(path, device)
        if compile:
            compile_sampling(model, device)
        runs.append(LoadedRun(str(path), with_data_folder(cfg, data, path) if data is not None else cfg, model,
                              step))
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
    labels = scenes.manifest.get("labels", {})
    fitting = [m for m in METRICS if metric_class(m).applies(scenes.viewpoint_kind, labels)]
    if not asked:
        fitting = [m for m in fitting if with_probe or metric_class(m).probe_kind is None]
        if not fitting:
            raise UserError(f"no metric applies to dataset '{scenes.name}' ({scenes.viewpoint_kind} viewpoints): "
                            f"min-mse and speed need videos, nelbo and consistency the dice room's "
                            f"{names.FACE_LABEL} label")
        return fitting
    for metric in asked:
        if metric not in fitting:
            raise UserError(f"metric {metric} does not apply to dataset '{scenes.name}': it needs "
                            f"{metric_class(metric).needs}"
                            + (f"; this dataset fits: {', '.join(fitting)}" if fitting else ""))
        if metric_class(metric).probe_kind is not None and not with_probe:
            raise probe_missing(metric, scenes.name)
    return list(dict.fromkeys(asked))


def measure(runs: list, scenes, settings: EvalSettings, probe=None, on_progress=None) -> tuple:
    """Measure loaded runs (LoadedRun, or anything with .path, .kind, .step and .model) on `scenes`, their test
    split, with the metrics settings.metrics names (empty: every one that applies). probe: (ProbeConfig,
    network) for the probe metrics, else None.

    Returns (results: a metric JSON object per metric, pictures: {file name suffix: picture data}).
    UserError on bad input (before any measurement)."""
    return measure_chosen(runs, scenes, settings, choose_metrics(settings.metrics, scenes, probe is not None), probe,
                          on_progress)


def measure_chosen(runs: list, scenes, settings: EvalSettings, chosen: list, probe=None, on_progress=None) -> tuple:
    """`measure` with the metrics already chosen (choose_metrics): checks them all, then measures each."""
    if probe is not None and settings.probe is None:
        raise UserError("settings.probe must name the folder the probe was loaded from")
    study = Study(runs, scenes, settings, probe)
    metrics = [metric_class(m)(study) for m in chosen]
    for metric in metrics:
        metric.check()
    progress = Progress(on_progress, sum(metric.units() for metric in metrics))
    with torch.no_grad():
        results = [summarise(metric.measure(progress), runs) for metric in metrics]
        pictures = {suffix: data for metric in metrics for suffix, data in metric.picture_data().items()}
    return results, pictures


def evaluate(run_paths, out, settings: EvalSettings, on_progress=None) -> dict:
    """Measure the runs, write `out` (JSON: one metric's object, or {"metrics": [...]} for several), the bar plot
    beside it (same name, .png) and the metrics' pictures: NAME_hidden_face.png (consistency), NAME_digits.png
    (digit-agreement), NAME_story.png (story).

    on_progress(done, total, text): called as work units finish. Returns the JSON written. A missing folder of
    `out` is created. UserError on bad input, other data than the runs trained on, an ar run below the KL floor
    (latent_use.check_kl_floor) unless settings.allow_low_kl, or a NaN or infinite figure (nothing written); the
    files appear together or not at all (a full disk: one line, nothing left).
    """
    settings.check()
    check_report_path(out)
    runs = load_runs(run_paths, settings.data, resolve_device(settings.device), settings.compile)
    scenes = open_test_split(runs[0].cfg, runs[0].path)
    for run in runs[1:]:
        check_run_data(run.path, run.cfg, scenes.manifest, scenes.folder)
    return evaluate_on(runs, scenes, out, settings, load_probe, on_progress)


def check_report_path(out) -> None:
    """Raise UserError unless `out` can be the report: a .json file whose nearest existing folder is a folder."""
    out = Path(out)
    if out.suffix.lower() != ".json":
        raise UserError(f"--out {out}: the report is a .json file (its plot is written beside it as .png)")
    place = next(p for p in out.parents if p.exists())
    if not place.is_dir():
        raise UserError(f"--out {out}: {place} is a file, not a folder")


def evaluate_on(runs: list, scenes, out, settings: EvalSettings, probe_loader, on_progress=None) -> dict:
    """`evaluate` of loaded runs (LoadedRun) on `scenes`, their checked test split (settings checked, `out` by
    check_report_path); probe_loader(settings.probe) returns the (ProbeConfig, network) the probe metrics read,
    called only when one is chosen. Returns the JSON written."""
    out = Path(out)
    chosen = choose_metrics(settings.metrics, scenes, settings.probe is not None)
    check_kl_floor(runs, scenes, settings.allow_low_kl)
    probe = probe_loader(settings.probe) if any(metric_class(m).probe_kind for m in chosen) else None
    results, pictures = measure_chosen(runs, scenes, replace(settings, metrics=chosen), chosen, probe, on_progress)
    check_finite(results)
    report = results[0] if len(results) == 1 else {names.REPORT: results}
    from .plots import plot_figures
    drawers = {suffix: draw for m in chosen for suffix, draw in metric_class(m).pictures.items()}
    with new_folder(out.parent), FileGroup() as files:   # the report and its pictures appear together or not at all
        files.temporary(out).write_text(json.dumps(report, indent=2) + "\n")
        plot_figures(results, files.temporary(out.with_suffix(".png")))
        for suffix, shown in pictures.items():
            drawers[suffix](shown, files.temporary(out.with_name(f"{out.stem}_{suffix}.png")))
    return report


def table(report: dict) -> str:
    """Return the report as text: a block per metric, a row per runs[] entry, a column per figure present; then,
    when a model has several runs, a row per model (mean over seeds) and the differences between models."""
    blocks = []
    for result in report.get(names.REPORT, [report]):
        figures = metric_class(result[names.METRIC]).figures
        scenes = f"{result[names.SCENES]} of {result[names.SCENES_CHECKED]} scenes qualified" \
            if names.SCENES_CHECKED in result else f"{result[names.SCENES]} scene{'s' * (result[names.SCENES] != 1)}"
        lines = [f"{result[names.METRIC]} on {result[names.DATASET]} ({result[names.SPLIT]}: {scenes})"]
        lines += text_rows(["run", "model"], [[e[names.RUN], e[names.MODEL]] for e in result[names.RUNS]],
                           result[names.RUNS], figures)
        models = result.get(names.MODELS, [])
        if any(len(m[names.RUNS]) > 1 for m in models):
            lines += ["per model: mean over its runs [95% interval over seeds]"]
            lines += text_rows(["model", "seeds"], [[m[names.MODEL], ",".join(map(str, m[names.SEEDS]))]
                                                    for m in models], models, figures)
        differences = result.get(names.DIFFERENCES, [])
        if differences:
            lines += ["differences A - B, paired by scene [95% interval over scenes]"]
            lines += text_rows(["A", "B"], [list(d[names.MODELS]) for d in differences], differences, figures)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def text_rows(head: list, labels: list, rows: list, figures: tuple) -> list:
    """Return the lines of one table: `head` and each row's `labels`, a batch column when rows have one, then a
    column per figure of `figures` that some row has."""
    present = [f for f in figures if any(f in r for r in rows)]
    has_batch = any(names.BATCH in r for r in rows)
    head = head + (["batch"] if has_batch else []) + present
    cells = [label + ([str(r.get(names.BATCH, "-"))] if has_batch else []) + [format_figure(r, f) for f in present]
             for label, r in zip(labels, rows)]
    widths = [max(len(c[i]) for c in [head] + cells) for i in range(len(head))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in [head] + cells]


def format_figure(e: dict, name: str) -> str:
    """Return 'value [low, high]' of figure `name` of a runs[] entry (4 significant digits), '-' when absent."""
    if name not in e:
        return "-"
    text = f"{e[name]:.4g}"
    interval = e.get(name + names.CI95)
    return text + (f" [{interval[0]:.4g}, {interval[1]:.4g}]" if interval else "")
