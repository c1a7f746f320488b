"""A metric's figures as the JSON report holds them: a value with its 95% interval and the number of units the
interval is over, per runs[] entry.

    {"run": "runs/dice", "model": "jump", "step": 300000, "seed": 0,
     "kl1": 4.2, "kl1_ci95": [4.0, 4.4], "kl1_n": 400, ...}

A Figure also keeps its per-unit values and its statistic, so that runs of one model can be summarised over
seeds and two models compared scene by scene (seeds.py); an Entry (a runs[] dict) keeps its Figures beside the
JSON fields.
"""

import math
from dataclasses import dataclass

import numpy as np

from scene_shards.common import UserError

from .. import names

BOOTSTRAP_RESAMPLES = 2000
SCENE_UNITS, REPEAT_UNITS = "scenes", "repeats"   # what a Figure's units are: test scenes (paired across runs)
                                                 # or timed calls (not paired)


def bootstrap_ci95(values, statistic=np.mean, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> list:
    """Return [low, high], the 2.5th and 97.5th percentiles of `statistic` over resamples of the rows of `values`.

    values: array [N] or [N, k] (a scene's k numbers are resampled together); statistic: array -> float.
    """
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    stats = np.array([statistic(values[p]) for p in picks])
    low, high = np.percentile(stats, [2.5, 97.5])
    return [float(low), float(high)]


@dataclass(frozen=True)
class Figure:
    """One figure: its value, 95% interval ([low, high] or None), the number of units `n` the interval is over
    (None for an exact value), and, for a measured figure, its per-unit `values` [N] or [N, k] with the
    `statistic` (array -> float) that made `value` from them and what the units are (SCENE_UNITS, REPEAT_UNITS)."""
    value: float
    interval: list = None
    n: int = None
    values: np.ndarray = None
    statistic: object = None
    units: str = None


def figure(values, statistic=np.mean, seed: int = 0, units: str = SCENE_UNITS) -> Figure:
    """Return the Figure of per-unit `values` ([N] or [N, k]): statistic(values) with its bootstrap 95% interval
    over the N units."""
    values = np.asarray(values, np.float64)
    return Figure(float(statistic(values)), bootstrap_ci95(values, statistic, seed=seed), len(values), values,
                  statistic, units)


def exact(value: float) -> Figure:
    """Return the Figure of a value known exactly (no interval, no units: the random floor)."""
    return Figure(float(value))


class Entry(dict):
    """A runs[] entry: its JSON fields (a dict), with the Figures they came from in `.figures` ({name: Figure})
    and `.curves` ({name: [(x key, x, Figure)]}: figures along a setting, such as nelbo_curve)."""

    def __init__(self, fields: dict, figures: dict, curves: dict = None):
        super().__init__(fields)
        self.figures, self.curves = figures, curves or {}

    def __or__(self, fields: dict) -> "Entry":
        """Return this entry with more JSON fields (its Figures kept)."""
        return Entry({**self, **fields}, self.figures, self.curves)


def entry(run, curves: dict = None, **figures) -> Entry:
    """A runs[] entry of a run (anything with .path, .kind, .step, and .cfg with a training seed or None): run
    path, model kind, step, seed, then each Figure as NAME, NAME_ci95, NAME_n; each curve ({name: [(x key, x,
    Figure)]}) as a list of {x key: x, figure name: value, ..._ci95, ..._n} under its name."""
    head = {names.RUN: run.path, names.MODEL: run.kind, names.STEP: run.step}
    seed = getattr(getattr(run, "cfg", None), "seed", None)
    if seed is not None:
        head[names.SEED] = seed
    return Entry({**head, **figure_fields(figures), **curve_fields(curves or {})}, figures, curves)


def reference_entry(run: str, model: str, **figures) -> Entry:
    """A runs[] entry that is not a run folder (the probe metrics' truth and random rows): `run` names it,
    `model` is names.TRUTH or names.RANDOM; figures as in entry()."""
    return Entry({names.RUN: run, names.MODEL: model, **figure_fields(figures)}, figures)


def figure_fields(figures: dict) -> dict:
    """{NAME: Figure} -> {NAME: value, NAME_ci95: interval, NAME_n: units} (no interval or count when exact)."""
    out = {}
    for name, fig in figures.items():
        out[name] = fig.value
        if fig.interval is not None:
            out[name + names.CI95] = fig.interval
        if fig.n is not None:
            out[name + names.COUNT] = fig.n
    return out


def non_finite(value):
    """Return the first float in `value` (a number, or lists and dicts of them) that is NaN or infinite, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else value
    parts = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else []
    return next((bad for bad in map(non_finite, parts) if bad is not None), None)


def check_finite(results: list) -> None:
    """Raise UserError (one line naming the metric, the run and the figure) when a figure in `results` (metric
    JSON objects) is NaN or infinite: such a report is not written."""
    for result in results:
        for e in result[names.RUNS]:
            for key, value in e.items():
                bad = non_finite(value)
                if bad is not None:
                    raise UserError(f"{result[names.METRIC]} of {e[names.RUN]}: its {key} is {bad}; no report "
                                    f"written (a diverged run, or NaN in the data?)")


def curve_fields(curves: dict) -> dict:
    """{name: [(x key, x, Figure)]} -> {name: [{x key: x, FIGURE: value, FIGURE_ci95, FIGURE_n}]}, the curve's
    figure named by the part of `name` before "_curve"."""
    return {name: [{key: x, **figure_fields({name.removesuffix(names.CURVE): fig})} for key, x, fig in points]
            for name, points in curves.items()}
