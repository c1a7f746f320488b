"""The shipped models and probes: where they are, their names, their model cards, a line each for the listing.

Standard library only: `jumpdata pretrained` lists them without loading torch or numpy.

    jump_model/pretrained/shipped/NAME/   one shipped folder (package data: `pip install` users have it)
        config.json     a model: the run's config as `jumpdata train` wrote it; a probe: its ProbeConfig
        checkpoint.pt   a model: {"model", "step", "config"}, no optimizer state; a probe: as `probe train` wrote it
        card.json       the card: how it was made and how well it does (the CARD_* keys below; docs/pretrained.md)

The environment variable JUMPDATA_PRETRAINED names another folder of shipped folders (a maintainer's models
before they ship, the tests' tiny ones). package.py writes shipped folders, use.py loads them.
"""

import json
import os
import re
import shlex
from pathlib import Path

from scene_shards.common import UserError, one_line

from .. import names

SHIPPED_ENV = "JUMPDATA_PRETRAINED"
PACKAGE_SHIPPED = Path(__file__).with_name("shipped")
CARD_FILE = "card.json"
MAX_SHIPPED_BYTES = 5_000_000     # the most one shipped folder may take (5 MB): the wheel carries every one
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")

# The card's keys (docs/pretrained.md, "What a card holds")
CARD_NAME, CARD_KIND, CARD_WHAT, CARD_VERSION = "name", "kind", "what", "jumpdata"
CARD_COMMANDS = "commands"        # {stage: argv}: the jumpdata commands that made it, stages as STAGES
CARD_DATA_SEED, CARD_SEED, CARD_STEPS = "data_seed", "seed", "steps"
CARD_WALL = "wall_time_s"         # {stage: seconds} as measured where it was made
CARD_MACHINE, CARD_THREADS = "machine", "threads"
CARD_MODEL = "model"              # a model's kind (jump, badj, ...)
CARD_PROBE = "probe"              # a model: the name of the shipped probe its eval read frames with (or absent)
CARD_EVAL = "eval"                # a model: the `jumpdata eval` report JSON, as written
CARD_TEST_SCENES = "test_scenes_sha256"   # a model: sha256 of each of its data's first test scenes (scenes.py)
CARD_HELD_OUT = "held_out"        # a probe: {"accuracy", "examples", "chance"} of `probe train`
MODEL, PROBE = "model", "probe"   # the kinds of shipped folder
DATA, TRAIN, EVAL = "data", "train", "eval"
STAGES = (DATA, PROBE, TRAIN, EVAL)   # the commands of a recipe, in the order they run
# The placeholders of a card's commands, standing for the folders and files they made
DATA_DIR, RUN_DIR, PROBE_DIR, REPORT_FILE = "DATA", "RUN", "PROBE", "REPORT.json"

# The figures the listing shows of each metric of a model's eval report
HEADLINE = {names.STORY: ("coherent", "arrivals", "visited", "reached", "changed_once"),   # salesman; color_reaction
            names.DIGIT_AGREEMENT: ("seen_accuracy", "consistency_gain"),
            names.CONSISTENCY: ("kl1", "ratio"), names.NELBO: ("nelbo",), names.MIN_MSE: ("min_mse",),
            names.SPEED: ("speedup",)}


def shipped_root() -> Path:
    """Return the folder holding the shipped folders: $JUMPDATA_PRETRAINED, else the package's own."""
    return Path(os.environ.get(SHIPPED_ENV) or PACKAGE_SHIPPED)


def shipped_names() -> list:
    """Return the names of the shipped folders (sorted; those holding a card)."""
    root = shipped_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if NAME_PATTERN.fullmatch(p.name) and (p / CARD_FILE).is_file())


def shipped_folder(name: str, kind: str = None) -> Path:
    """Return the shipped folder called `name` (of `kind`, MODEL or PROBE, when given); UserError (one line
    listing what is shipped) when there is none."""
    shipped = shipped_names()
    if NAME_PATTERN.fullmatch(name) and name in shipped:
        folder = shipped_root() / name
        if kind is None or read_card(folder)[CARD_KIND] == kind:
            return folder
    what = {MODEL: "model", PROBE: "probe", None: "model or probe"}[kind]
    choices = f"shipped: {', '.join(shipped)}" if shipped else "none is shipped with this jumpdata: docs/pretrained.md"
    raise UserError(f"no pretrained {what} called '{name}' ({choices})")


def read_card(folder) -> dict:
    """Return the card of a shipped folder (a dict holding at least name, kind and commands); UserError (one
    line) when it is missing, not JSON or not a card."""
    path = Path(folder) / CARD_FILE
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read the card {path}: {one_line(e)}") from None
    if not isinstance(card, dict) or card.get(CARD_KIND) not in (MODEL, PROBE) \
            or not isinstance(card.get(CARD_COMMANDS), dict) or DATA not in card[CARD_COMMANDS]:
        raise UserError(f"{path} is not a card of a shipped model or probe (it needs {CARD_KIND} and "
                        f"{CARD_COMMANDS} with the data command)")
    return card


def command_text(argv) -> str:
    """Return a card's command (argv, "jumpdata" first) as one shell line."""
    return shlex.join(argv)


def listing() -> tuple:
    """Return (the lines of `jumpdata pretrained`, the number of damaged shipped folders): a line per shipped
    folder, the name first ("NAME  damaged: ..." for one whose card cannot be read), or one line saying that
    none is shipped."""
    shipped = shipped_names()
    if not shipped:
        return [f"no pretrained model is shipped with this jumpdata (none in {shipped_root()}); "
                f"`make weights` trains them (docs/pretrained.md)"], 0
    width = max(map(len, shipped))
    lines, damaged = [], 0
    for name in shipped:
        try:
            summary = card_summary(read_card(shipped_root() / name))
        except UserError as e:
            summary, damaged = f"damaged: {e}", damaged + 1
        lines.append(f"{name.ljust(width)}  {summary}")
    return lines, damaged


def card_summary(card: dict) -> str:
    """Return one line of a card: what it is, steps, training wall time, then its headline figures (a model: its
    eval's, as HEADLINE picks them, with their 95% intervals; a probe: its held-out accuracy)."""
    wall = card.get(CARD_WALL, {}).get(TRAIN if card[CARD_KIND] == MODEL else PROBE)
    parts = [card.get(CARD_WHAT, "?"), f"{card[CARD_STEPS]:,} steps" if CARD_STEPS in card else "steps ?",
             duration(wall) if isinstance(wall, (int, float)) else "time ?"]
    if card[CARD_KIND] == PROBE:
        held = card.get(CARD_HELD_OUT, {})
        parts.append(f"held-out accuracy {held.get('accuracy', float('nan')):.3f} "
                     f"(chance {held.get('chance', float('nan')):.3f})")
    else:
        parts += [metric_summary(result) for result in eval_results(card)]
    return "  ".join(parts)


def duration(seconds: float) -> str:
    """Return a wall time as "12 s", "34 min" or "1.5 h"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def eval_results(card: dict) -> list:
    """Return the metric objects of a model card's eval report (none when it has no report)."""
    return report_results(card.get(CARD_EVAL))


def report_results(report) -> list:
    """Return the metric objects of a `jumpdata eval` report: its one metric's, or each of its "metrics" list
    (none when `report` is not a dict)."""
    if not isinstance(report, dict):
        return []
    return report[names.REPORT] if names.REPORT in report else [report]


def model_entry(result: dict) -> dict:
    """Return the runs[] entry of the shipped model in a metric object (the first that is not the truth's or the
    random floor's row)."""
    return next((e for e in result.get(names.RUNS, []) if e.get(names.MODEL) not in (names.TRUTH, names.RANDOM)),
                {})


def metric_summary(result: dict) -> str:
    """Return "METRIC (N scenes): FIGURE VALUE [LOW, HIGH], ..." of one metric object, HEADLINE's figures."""
    entry = model_entry(result)
    shown = []
    for figure in HEADLINE.get(result.get(names.METRIC), ()):
        if figure in entry:
            interval = entry.get(figure + names.CI95)
            shown.append(f"{figure} {entry[figure]:.3g}" + (f" [{interval[0]:.3g}, {interval[1]:.3g}]"
                                                            if interval else ""))
    return f"{result.get(names.METRIC)} ({result.get(names.SCENES)} scenes): {', '.join(shown) or '-'}"
