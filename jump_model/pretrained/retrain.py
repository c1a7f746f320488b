"""`make weights`: every shipped probe and model made again from scratch on this machine with its recipe's jumpdata
commands (recipes.py), each timed, then packaged (package.py) into the package's shipped folder.

    WORK/data/DATASET/     the recipe's dataset (kept when intact: generating it again gives the same bytes)
    WORK/probes/NAME/      a probe, trained again
    WORK/runs/NAME/        a model's run, trained again, and WORK/reports/NAME.json its eval report

Each command runs in a child process (`python -m cli ...`) with OMP_NUM_THREADS set to its recipe's threads; its
output goes to the terminal. `smoke=True` appends SMOKE's tiny sizes to every command (the machinery checked in
a minute, tests/test_pretrained_retrain.py): its folders are cards of what ran, never models to ship.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from scene_shards.common import UserError
from scene_shards.manifest import list_datasets

from .catalog import (DATA, DATA_DIR, EVAL, MODEL, PROBE, PROBE_DIR, REPORT_FILE, RUN_DIR, TRAIN, command_text,
                      shipped_root)
from .package import package
from .recipes import RECIPES, commands, recipe
from .scenes import intact

SMOKE = {DATA: ("--n", "24", "--test-n", "24"),   # digit-agreement needs 10 test scenes that qualify
         PROBE: ("--steps", "4", "--batch-size", "4"),
         TRAIN: ("--steps", "4", "--batch-size", "4", "--log-every", "2", "--eval-every", "4", "--sample-every", "4",
                 "--checkpoint-every", "4"),
         EVAL: ("--scenes", "24", "--samples", "3")}


def chosen_recipes(wanted: list) -> list:
    """Return the recipes to make for the names `wanted` (empty: all): each model's probe too, probes first."""
    picked = [recipe(name) for name in wanted] if wanted else list(RECIPES.values())
    picked += [RECIPES[r.probe] for r in picked if r.kind == MODEL and r.probe]
    unique = list({r.name: r for r in picked}.values())
    return [r for r in unique if r.kind == PROBE] + [r for r in unique if r.kind == MODEL]


def run_command(argv: list, places: dict, threads: int, on_line) -> float:
    """Run one recipe command (argv, "jumpdata" first) with its placeholders replaced by `places`, in a child
    process with `threads` torch threads; returns its wall time in seconds. UserError when it fails (its own
    error line is on the terminal above)."""
    filled = [places.get(token, token) for token in argv]
    on_line(f"$ {command_text(filled)}")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cli", *filled[1:]], env=env, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise UserError(f"`{command_text(filled)}` failed (status {done.returncode})")
    return time.perf_counter() - start


def holds_intact_data(folder: Path) -> bool:
    """Return True when `folder` holds at least one dataset and every one is complete and intact."""
    found = list_datasets(folder) if folder.is_dir() else []
    return bool(found) and all(intact(folder, name) for name in found)


def fresh(path: Path) -> Path:
    """Delete an earlier make weights' output at `path` (a folder or a file); returns `path`."""
    if path.is_dir():
        shutil.rmtree(path)
    path.unlink(missing_ok=True)
    return path


def retrain(wanted: list = (), work="weights-work", into=None, smoke: bool = False, on_line=print) -> list:
    """Make the recipes `wanted` (names; empty: all) again in folder `work` and package each into `into` (None:
    the shipped folder, catalog.shipped_root(); with `smoke`, WORK/shipped). on_line(text): each command and
    result. Returns the shipped folders written."""
    work = Path(work).resolve()
    into = Path(into or (work / "shipped" if smoke else shipped_root()))
    extra = SMOKE if smoke else None
    data_wall, written = {}, []
    for r in chosen_recipes(list(wanted)):
        argv = commands(r, extra)
        places = {DATA_DIR: str(work / "data" / r.dataset), PROBE_DIR: str(work / "probes" / (r.probe or r.name)),
                  RUN_DIR: str(work / "runs" / r.name), REPORT_FILE: str(work / "reports" / f"{r.name}.json")}
        if r.dataset not in data_wall:
            made_before = holds_intact_data(Path(places[DATA_DIR]))
            seconds = run_command(argv[DATA], places, r.threads, on_line)
            data_wall[r.dataset] = {} if made_before else {DATA: round(seconds, 1)}
        wall = dict(data_wall[r.dataset])
        if r.kind == PROBE:
            fresh(Path(places[PROBE_DIR]))
            wall[PROBE] = round(run_command(argv[PROBE], places, r.threads, on_line), 1)
            source, report = places[PROBE_DIR], None
        else:
            fresh(Path(places[RUN_DIR]))
            wall[TRAIN] = round(run_command(argv[TRAIN], places, r.threads, on_line), 1)
            fresh(Path(places[REPORT_FILE]))
            wall[EVAL] = round(run_command(argv[EVAL], places, r.threads, on_line), 1)
            source, report = places[RUN_DIR], places[REPORT_FILE]
        written.append(package(r.name, source, into, wall, report, extra=extra))
        on_line(f"packaged {r.name} into {written[-1]}")
    return written
