"""Several runs of one model (seeds): per model the mean over its runs with a 95% interval over seeds, and the
difference between two models with an interval over scenes, paired scene by scene.

Runs are one model when they have the same model kind, reached the same step and have the same settings apart
from the seed and the machinery (IDENTITY_IGNORED). A model is named by its kind ("jump"); a second model of
the same kind is "jump-2", and so on, in the order the runs were given.

    summarise(result, runs)   a metric's JSON with "models" (one row per model) and "differences" added
"""

import json

import numpy as np
from scipy import stats

from .. import names
from .figures import SCENE_UNITS, Figure, bootstrap_ci95, curve_fields, figure_fields

IDENTITY_IGNORED = frozenset({"seed", "steps", "device", "compile", "amp", "workers", "log_every", "sample_every",
                              "checkpoint_every", "eval_every", "eval_scenes", "eval_pixel_variance", "data_dir",
                              "manifest"})


def model_key(run) -> tuple:
    """Return what makes runs one model: (kind, step reached, the run's settings but IDENTITY_IGNORED as JSON)."""
    cfg = getattr(run, "cfg", None)
    settings = {} if cfg is None else {k: v for k, v in cfg.to_dict().items() if k not in IDENTITY_IGNORED}
    return run.kind, run.step, json.dumps(settings, sort_keys=True, default=str)


def model_names(runs: list) -> dict:
    """Return {run path: the name of its model}: the kind, then -2, -3 for later models of the same kind."""
    keys, out = [], {}
    for run in runs:
        key = model_key(run)
        if key not in keys:
            keys.append(key)
        same_kind = [k for k in keys if k[0] == run.kind]
        index = same_kind.index(key)
        out[run.path] = run.kind if index == 0 else f"{run.kind}-{index + 1}"
    return out


def seed_interval(values) -> list:
    """Return the Student-t 95% interval [low, high] of the mean of `values` (one per seed), None for fewer than
    two values."""
    values = np.asarray(values, np.float64)
    if len(values) < 2:
        return None
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return [float(values.mean() - half), float(values.mean() + half)]


def over_seeds(figs: list) -> Figure:
    """The Figure of one model from its runs' Figures: the mean of their values, the interval over seeds."""
    values = [f.value for f in figs]
    return Figure(float(np.mean(values)), seed_interval(values), len(values))


def groups(result: dict, runs: list) -> list:
    """Return [(model name, batch or None, [its runs[] entries])] of a metric's JSON, in order."""
    named, out = model_names(runs), {}
    for e in result[names.RUNS]:
        if names.STEP in e and e[names.RUN] in named:          # a run's entry, not a reference row
            out.setdefault((named[e[names.RUN]], e.get(names.BATCH)), []).append(e)
    return [(name, batch, entries) for (name, batch), entries in out.items()]


def common(entries: list, attribute: str) -> list:
    """Return the figure (or curve) names every entry has in `attribute` ("figures" or "curves"), in order."""
    first = getattr(entries[0], attribute, {})
    return [k for k in first if all(k in getattr(e, attribute, {}) for e in entries)]


def model_row(name: str, batch, entries: list) -> dict:
    """The "models" row of one model: its runs, their seeds, each figure over seeds (and each curve point)."""
    figures = {k: over_seeds([e.figures[k] for e in entries]) for k in common(entries, "figures")}
    curves = {k: [(key, x, over_seeds([e.curves[k][i][2] for e in entries]))
                  for i, (key, x, _) in enumerate(entries[0].curves[k])] for k in common(entries, "curves")}
    head = {names.MODEL: name, names.KIND: entries[0][names.MODEL], names.RUNS: [e[names.RUN] for e in entries],
            names.SEEDS: [e.get(names.SEED) for e in entries]}
    return {**head, **({names.BATCH: batch} if batch is not None else {}), **figure_fields(figures),
            **curve_fields(curves)}


def paired(a: list, b: list) -> Figure:
    """The difference model A - model B of one figure, from the Figures of A's and B's runs on the same scenes:
    the mean over A's seeds minus that over B's, with a bootstrap interval over scenes resampled together for
    every run of both. None when the units are not scenes or the runs measured different numbers of them."""
    runs = a + b
    if any(f.units != SCENE_UNITS or f.values is None or len(f.values) != len(runs[0].values) for f in runs):
        return None
    columns = [f.values.reshape(len(f.values), -1) for f in runs]
    bounds = np.cumsum([0] + [c.shape[1] for c in columns])
    table = np.concatenate(columns, axis=1)

    def difference(rows):
        per_run = [f.statistic(rows[:, lo:hi].squeeze(1) if hi - lo == 1 else rows[:, lo:hi])
                   for f, lo, hi in zip(runs, bounds[:-1], bounds[1:])]
        return float(np.mean(per_run[:len(a)]) - np.mean(per_run[len(a):]))

    return Figure(difference(table), bootstrap_ci95(table, difference), len(table), None, None, SCENE_UNITS)


def difference_row(first: tuple, second: tuple) -> dict:
    """The "differences" row of two models (name, batch, entries): every figure they share that is paired by
    scene, as A - B, and each curve point likewise. None when no figure is paired."""
    (a, batch, ea), (b, _, eb) = first, second
    shared = [k for k in common(ea, "figures") if k in common(eb, "figures")]
    figures = {k: paired([e.figures[k] for e in ea], [e.figures[k] for e in eb]) for k in shared}
    figures = {k: f for k, f in figures.items() if f is not None}
    curves = {}
    for k in [k for k in common(ea, "curves") if k in common(eb, "curves")]:
        points = [(key, x, paired([e.curves[k][i][2] for e in ea], [e.curves[k][i][2] for e in eb]))
                  for i, (key, x, _) in enumerate(ea[0].curves[k])]
        if all(p[2] is not None for p in points):
            curves[k] = points
    if not figures and not curves:
        return None
    return {names.MODELS: [a, b], **({names.BATCH: batch} if batch is not None else {}), **figure_fields(figures),
            **curve_fields(curves)}


def summarise(result: dict, runs: list) -> dict:
    """Return a metric's JSON with "models" (a row per model and batch: the mean over its runs, the interval
    over seeds) and, with two models or more, "differences" (each pair of models of the same batch, A - B)."""
    rows = groups(result, runs)
    out = {**result, names.MODELS: [model_row(*g) for g in rows]}
    pairs = [difference_row(g, h) for i, g in enumerate(rows) for h in rows[i + 1:] if g[1] == h[1]]
    if any(p is not None for p in pairs):
        out[names.DIFFERENCES] = [p for p in pairs if p is not None]
    return out
