"""How every shipped model and probe is made: the one table of the jumpdata commands `make weights` runs
(retrain.py) and their cards record (package.py). Standard library only.

A command is the argv after `jumpdata`; the folders it reads and writes are the placeholders of catalog.py (DATA,
RUN, PROBE, REPORT.json), filled in by retrain.py. Each dataset's command is declared once, in DATASETS; a probe
and the models measured with it name their dataset. docs/pretrained.md explains what a card holds.
"""

from dataclasses import dataclass

from scene_shards.common import UserError

from .catalog import DATA, DATA_DIR, EVAL, MODEL, PROBE, PROBE_DIR, REPORT_FILE, RUN_DIR, TRAIN

# The generator commands of the shipped models' datasets (without --out). Scene j of a split depends on the
# generator options and --seed alone, so `sample`/`eval --pretrained` remake the first test scenes with the same
# options and a small --n and --test-n (use.py).
DATASETS = {
    "salesman-32": ("narratives", "--story", "salesman", "--size", "32", "--n", "20000", "--test-n", "1000",
                    "--seed", "0"),
    "color_reaction-32": ("narratives", "--story", "color_reaction", "--size", "32", "--n", "20000",
                          "--test-n", "1000", "--seed", "0"),
    "dice-32": ("dice", "--size", "32", "--views", "10", "--n", "4000", "--test-n", "400", "--seed", "0"),
}


@dataclass(frozen=True)
class Recipe:
    """One shipped folder: its name, kind (catalog.MODEL or PROBE), a few words on what it is, the dataset it
    learns from (a key of DATASETS), the options of its commands, and the torch threads they run with."""
    name: str
    kind: str
    what: str
    dataset: str
    train: tuple = ()     # a model: `jumpdata train DATA` options; a probe: `jumpdata probe train DATA` options
    eval: tuple = ()      # a model: `jumpdata eval RUN` options (the probe and the report added)
    probe: str = None     # a model: the probe recipe its eval reads frames with (None: no probe metric)
    threads: int = 1      # OMP_NUM_THREADS of its commands (two runs at one thread each fill the 2-core machine)


RECIPES = {r.name: r for r in (
    Recipe("probe-salesman-32", PROBE, "shape probe of salesman 32x32", "salesman-32"),
    Recipe("probe-color_reaction-32", PROBE, "shape probe of color_reaction 32x32", "color_reaction-32"),
    Recipe("probe-dice-32", PROBE, "digit probe of the dice room 32x32", "dice-32", train=("--steps", "4000")),
    Recipe("salesman-32", MODEL, "JUMP, salesman 32x32", "salesman-32",
           train=("--preset", "small", "--steps", "30000", "--pixel-variance", "0.5:0.1@5000", "--context", "5",
                  "--posterior-reads-prior", "--device", "cpu", "--workers", "0"),
           eval=("--metric", "story", "--scenes", "200", "--context-frames", "5"), probe="probe-salesman-32"),
    Recipe("color_reaction-32", MODEL, "JUMP, color_reaction 32x32", "color_reaction-32",
           train=("--preset", "small", "--steps", "30000", "--pixel-variance", "0.5:0.1@5000", "--device", "cpu",
                  "--workers", "0"),
           eval=("--metric", "story", "--scenes", "200", "--context-frames", "3"), probe="probe-color_reaction-32"),
    Recipe("dice-32", MODEL, "JUMP, dice room 32x32", "dice-32",
           train=("--preset", "tiny", "--workers", "0"),
           eval=("--metric", "digit-agreement"), probe="probe-dice-32"),
)}


def recipe(name: str) -> Recipe:
    """Return the recipe called `name`; UserError (one line listing them) when there is none."""
    if name not in RECIPES:
        raise UserError(f"no recipe called '{name}' (recipes: {', '.join(RECIPES)})")
    return RECIPES[name]


def commands(r: Recipe, extra: dict = None) -> dict:
    """Return the commands that make `r`, {stage: argv with "jumpdata" first}, stages as catalog.STAGES: data and
    probe for a probe, also train and eval for a model (its probe's data and probe commands: the same dataset).
    extra: {stage: options appended to that stage's command} (later options win: a smoke run's smaller sizes)."""
    extra = extra or {}
    probe = r if r.kind == PROBE else RECIPES[r.probe] if r.probe else None
    made = {DATA: ("jumpdata", *DATASETS[r.dataset], "--out", DATA_DIR)}
    if probe is not None:
        made[PROBE] = ("jumpdata", "probe", "train", DATA_DIR, *probe.train, "--out", PROBE_DIR)
    if r.kind == MODEL:
        made[TRAIN] = ("jumpdata", "train", DATA_DIR, *r.train, "--out", RUN_DIR)
        probe_option = ("--probe", PROBE_DIR) if probe is not None else ()
        made[EVAL] = ("jumpdata", "eval", RUN_DIR, *r.eval, *probe_option, "--out", REPORT_FILE)
    return {stage: [*argv, *extra.get(stage, ())] for stage, argv in made.items()}
