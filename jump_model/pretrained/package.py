"""Turning a finished run folder (with its eval report) or a probe folder into a shipped folder (catalog.py):
the checkpoint stripped to what sampling and evaluation read, the config, and the card.

    jumpdata pretrained package salesman-32 --from RUN --report REPORT.json --wall train=3100 --wall eval=60

Before anything is written it checks that the folder is what its recipe (recipes.py) makes: the options of the
recipe's train (or probe train) command against the recorded config, the eval report against the run, and the
recipe's data command by remaking the first test scenes (scenes.py) and comparing them, byte for byte, with the
run's own. The folder is written under a temporary name and renamed into place whole (scene_shards/files.py).
"""

import dataclasses
import json
import os
import platform
from pathlib import Path

import torch

from scene_shards.common import UserError, one_line, package_version
from scene_shards.files import new_folder, replace_folder, temporary_name, write_json_atomic
from scene_shards import open_dataset
from scene_shards.fingerprint import facts_of

from .. import names
from ..data import open_split
from ..probes.nets import check_probe_data, load_probe
from ..run_folder import load_run, read_config_values, save_torch
from .catalog import (CARD_COMMANDS, CARD_DATA_SEED, CARD_EVAL, CARD_HELD_OUT, CARD_KIND, CARD_MACHINE, CARD_MODEL,
                      CARD_NAME, CARD_PROBE, CARD_SEED, CARD_STEPS, CARD_TEST_SCENES, CARD_THREADS, CARD_VERSION,
                      CARD_WALL, CARD_WHAT, CARD_FILE, DATA, MAX_SHIPPED_BYTES, PROBE, TRAIN, model_entry, read_card,
                      report_results)
from .recipes import Recipe, commands, recipe
from .scenes import check_scene_digests, scene_digest, test_scenes
from .use import pretrained_data, shipped_probe

SAMPLE_SCENES = 8   # test scenes a card lists digests of at least (the eval's scenes when more)


def machine() -> str:
    """Return this machine in one line: CPU model, cores, system, Python and torch versions."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python "
            f"{platform.python_version()}, torch {torch.__version__}")


def option_mismatches(argv: list, values: dict) -> list:
    """Return "--OPTION TEXT (recorded: VALUE)" for each option of command `argv` (its last value, as click takes
    it) naming a key of `values` (--batch-size: batch_size) whose recorded value differs; a flag (--compile,
    --no-compile) is True or False."""
    given = {}
    for i, token in enumerate(argv):
        if token.startswith("--"):
            value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else None
            key = token[2:].replace("-", "_")
            if value is None and key.startswith("no_"):
                key, value = key[3:], False
            given[key] = (token, True if value is None else value)
    return [f"{token} {text} (recorded: {values[key]})" for key, (token, text) in given.items()
            if key in values and not same_value(text, values[key])]


def same_value(text, value) -> bool:
    """Return True when option text `text` (or a flag's bool) means the recorded `value`."""
    if isinstance(value, bool) or isinstance(text, bool):
        return text is value or str(text).lower() == str(value).lower()
    try:
        return type(value)(text) == value if isinstance(value, (int, float)) else text == value
    except ValueError:
        return False


def check_recipe_options(r: Recipe, argv: list, values: dict, source) -> None:
    """Raise UserError when `source` (its recorded settings `values`) was not made by `argv`, r's command."""
    differ = option_mismatches(argv, values)
    if differ:
        raise UserError(f"{source} was not made by recipe {r.name}'s command: {', '.join(differ)}")


def write_shipped(into, name: str, files: dict) -> Path:
    """Write the shipped folder `into`/`name`: files maps a file name to a dict (written as JSON) or to
    ("torch", contents) (torch.save); under a temporary name first, renamed into place whole. UserError when it
    would take more than MAX_SHIPPED_BYTES (nothing is changed then). Returns the folder."""
    final = Path(into) / name
    with new_folder(into):
        tmp = temporary_name(final)
        tmp.mkdir()
        try:
            for file, contents in files.items():
                if isinstance(contents, tuple):
                    save_torch(tmp / file, contents[1], "shipped checkpoint")
                else:
                    write_json_atomic(tmp / file, contents)
            size = sum(p.stat().st_size for p in tmp.iterdir())
            if size > MAX_SHIPPED_BYTES:
                raise UserError(f"{name} would take {size / 1e6:.1f} MB, more than the {MAX_SHIPPED_BYTES / 1e6:.0f} MB "
                                f"a shipped folder may hold: ship a smaller model")
            replace_folder(tmp, final)
        finally:
            if tmp.exists():
                for p in tmp.iterdir():
                    p.unlink()
                tmp.rmdir()
    return final


def base_card(r: Recipe, extra: dict, wall: dict, machine_text: str, fingerprint: dict, seed: int,
              steps: int) -> dict:
    """Return what every card holds (catalog.py's CARD_* keys)."""
    return {CARD_NAME: r.name, CARD_KIND: r.kind, CARD_WHAT: r.what, CARD_VERSION: package_version(),
            CARD_COMMANDS: commands(r, extra), CARD_DATA_SEED: fingerprint.get("seed"), CARD_SEED: seed,
            CARD_STEPS: steps, CARD_WALL: wall, CARD_MACHINE: machine_text or machine(), CARD_THREADS: r.threads}


def check_wall(r: Recipe, wall: dict, stage: str) -> None:
    """Raise UserError unless `wall` gives the measured seconds of `stage` (positive numbers only)."""
    if stage not in wall or any(not (isinstance(v, (int, float)) and v > 0) for v in wall.values()):
        raise UserError(f"packaging {r.name} needs the measured wall time of its {stage} command in seconds "
                        f"(--wall {stage}=SECONDS), every one positive")


def package(name: str, source, into, wall: dict, report=None, machine_text: str = None, extra: dict = None) -> Path:
    """Package `source` (a run folder, or a probe folder for a probe recipe) as the shipped folder of recipe `name`
    in `into`; wall: {stage: measured seconds}; report: the run's eval report JSON (a model); extra: the options
    appended to the recipe's commands when they ran (recipes.commands). Returns the folder written."""
    r = recipe(name)
    if r.kind == PROBE:
        if report is not None:
            raise UserError(f"{name} is a probe: it has no eval report")
        return package_probe(r, source, into, wall, machine_text, extra)
    if report is None:
        raise UserError(f"{name} is a model: give its eval report (--report REPORT.json)")
    return package_model(r, source, report, into, wall, machine_text, extra)


def package_probe(r: Recipe, folder, into, wall: dict, machine_text: str, extra: dict) -> Path:
    """Package the probe folder `folder` as r's shipped probe (see package)."""
    check_wall(r, wall, PROBE)
    cfg, net = load_probe(folder)
    argv = commands(r, extra)
    check_recipe_options(r, argv[PROBE], dataclasses.asdict(cfg), folder)
    if not cfg.data_fingerprint:
        raise UserError(f"probe {folder} records no data fingerprint (made by an older jumpdata): train it again")
    remade = test_scenes(r.name, argv[DATA], cfg.dataset, facts_of(cfg.data_fingerprint), 1)
    shipped, _ = shipped_probe(folder)   # compared with the remade data as its users will
    check_probe_data(shipped, folder, open_dataset(remade, cfg.dataset, names.TEST).manifest, remade)
    card = {**base_card(r, extra, wall, machine_text, cfg.data_fingerprint, cfg.seed, cfg.steps),
            CARD_HELD_OUT: {"accuracy": cfg.test_accuracy, "examples": cfg.test_examples, "chance": cfg.chance}}
    values = dataclasses.asdict(cfg)
    return write_shipped(into, r.name, {names.CONFIG_FILE: values,
                                        names.CHECKPOINT_FILE: ("torch", {"probe": net.state_dict(), "config": values}),
                                        CARD_FILE: card})


def read_report(path) -> dict:
    """Return the eval report JSON at `path`; UserError (one line) when it cannot be read."""
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read the eval report {path}: {one_line(e)}") from None
    if not isinstance(report, dict) or not all(isinstance(r, dict) and r.get(names.RUNS) for r in report_results(report)):
        raise UserError(f"{path} is not a `jumpdata eval` report")
    return report


def check_report(r: Recipe, report: dict, path, cfg, step: int, into) -> None:
    """Raise UserError unless each metric of `report` measured the run of config `cfg` at `step` on its dataset,
    and its probe metrics read with r's shipped probe in `into` (the same held-out accuracy)."""
    if r.probe and not (Path(into) / r.probe / CARD_FILE).is_file():
        raise UserError(f"package {r.name}'s probe {r.probe} into {into} first")
    probe_accuracy = read_card(Path(into) / r.probe)[CARD_HELD_OUT]["accuracy"] if r.probe else None
    for result in report_results(report):
        entry = model_entry(result)
        if result.get(names.DATASET) != cfg.dataset or entry.get(names.STEP) != step \
                or entry.get(names.SEED, cfg.seed) != cfg.seed:
            raise UserError(f"{path} ({result.get(names.METRIC)}) does not measure this run: dataset "
                            f"{result.get(names.DATASET)}, step {entry.get(names.STEP)} (run: {cfg.dataset}, {step})")
        if names.PROBE_ACCURACY in result and result[names.PROBE_ACCURACY] != probe_accuracy:
            raise UserError(f"{path} ({result[names.METRIC]}) read frames with another probe than {r.probe} "
                            f"(held-out accuracy {result[names.PROBE_ACCURACY]} vs {probe_accuracy})")


def run_values(cfg) -> dict:
    """Return a RunConfig's settings by option name: the run's and the model's (the kind as "model")."""
    return {**{k: v for k, v in cfg.to_dict().items() if k != "model"}, **cfg.model.to_dict(),
            "model": cfg.model.kind}


def package_model(r: Recipe, run, report_path, into, wall: dict, machine_text: str, extra: dict) -> Path:
    """Package the run folder `run` and its eval report as r's shipped model (see package)."""
    check_wall(r, wall, TRAIN)
    cfg, model, step = load_run(run)
    argv = commands(r, extra)
    check_recipe_options(r, argv[TRAIN], run_values(cfg), run)
    if not cfg.data_fingerprint:
        raise UserError(f"{run} records no data fingerprint (made by an older jumpdata): train it again")
    report = read_report(report_path)
    check_report(r, report, report_path, cfg, step, into)
    digests = run_scene_digests(cfg, run, report)
    facts = facts_of(cfg.data_fingerprint)
    remade = test_scenes(r.name, argv[DATA], cfg.dataset, facts, len(digests))
    check_scene_digests(open_split(pretrained_data(cfg, remade), names.TEST, r.name), digests, r.name)
    card = {**base_card(r, extra, wall, machine_text, cfg.data_fingerprint, cfg.seed, step),
            CARD_MODEL: cfg.model.kind, CARD_EVAL: report, CARD_TEST_SCENES: digests,
            **({CARD_PROBE: r.probe} if r.probe else {})}
    weights = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    return write_shipped(into, r.name, {names.CONFIG_FILE: read_config_values(run),
                                        names.CHECKPOINT_FILE: ("torch", {"model": weights, "step": step,
                                                                          "config": cfg.to_dict()}),
                                        CARD_FILE: card})


def run_scene_digests(cfg, run, report: dict) -> list:
    """Return the scene_digest of the first test scenes of the run's own dataset: as many as its report measured
    (at least SAMPLE_SCENES), at most the split's."""
    scenes = open_split(cfg, names.TEST, str(run))
    measured = max((r.get(names.SCENES_CHECKED, r.get(names.SCENES, 0)) for r in report_results(report)),
                   default=0)
    return [scene_digest(scenes, i) for i in range(min(len(scenes), max(measured, SAMPLE_SCENES)))]
