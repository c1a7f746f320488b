"""A metric's figures as the JSON report holds them: a value with its bootstrap 95% interval, per runs[] entry.

    {"run": "runs/dice", "model": "jump", "step": 300000, "kl1": 4.2, "kl1_ci95": [4.0, 4.4], ...}
"""

import math

import numpy as np

from scene_shards.common import UserError

from .. import names

BOOTSTRAP_RESAMPLES = 2000


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


def figure(values, statistic=np.mean, seed: int = 0) -> tuple:
    """Return (statistic of values, its bootstrap 95% interval) as plain floats."""
    return float(statistic(np.asarray(values, np.float64))), bootstrap_ci95(values, statistic, seed=seed)


def entry(run, **figures) -> dict:
    """A runs[] entry of a run (anything with .path, .kind, .step): run path, model kind, step, then each figure
    (value, interval) as NAME and NAME_ci95."""
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
