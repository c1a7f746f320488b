"""Using a shipped model: `jumpdata sample --pretrained NAME` and `jumpdata eval --pretrained NAME`, on test
scenes remade from its card (scenes.py), with no data of the user's.

The one rule that differs from a run folder's (pretrained_data): the remade dataset holds fewer scenes than the
one the model trained on, so its fingerprint's scene counts and shard digests differ; the model (and its probe)
are compared with it on what must match, the fingerprint's facts (generator, seed, config, frame shape, views,
viewpoint kind: fingerprint.facts_of), and its scenes on the card's sha256 of each. A run folder's own check
(data.check_run_data, the whole fingerprint) is unchanged.
"""

from dataclasses import asdict, dataclass, replace

import torch

from scene_shards.common import UserError
from scene_shards.fingerprint import facts_of
from scene_shards.manifest import manifest_path

from .. import names
from ..config import RunConfig
from ..data import open_test_split
from ..eval.registry import metric_class
from ..eval.report import EvalSettings, LoadedRun, check_report_path, evaluate_on
from ..probes.nets import load_probe
from ..run_folder import load_run
from ..runtime import compile_sampling, resolve_device
from ..sample import sample_scenes
from .catalog import (CARD_COMMANDS, CARD_PROBE, CARD_TEST_SCENES, DATA, MODEL, PROBE, eval_results, read_card,
                      shipped_folder)
from .scenes import check_scene_digests, test_scenes

DEFAULT_EVAL_SCENES = 100   # eval --pretrained without --scenes, when the card measured none


@dataclass
class Pretrained:
    """A shipped model loaded for use: its name, card, RunConfig (reading the remade scenes), model (eval mode),
    the step it reached, its remade test split (a ShardDataset, which may hold more scenes than asked for) and
    the number of its scenes to use."""
    name: str
    card: dict
    cfg: RunConfig
    model: torch.nn.Module
    step: int
    scenes: object
    count: int


def pretrained_data(cfg: RunConfig, folder) -> RunConfig:
    """Return the config of a shipped model `cfg` reading its remade test scenes in `folder`: the data folder and
    manifest there, and of its data fingerprint the facts only (see the module's docstring)."""
    return replace(cfg, data_dir=str(folder), manifest=str(manifest_path(folder, cfg.dataset)),
                   data_fingerprint=facts_of(cfg.data_fingerprint))


def open_pretrained(name: str, count: int = None, device: torch.device = torch.device("cpu")) -> Pretrained:
    """Load the shipped model `name` on `device` with its first `count` test scenes (remade or cached; None:
    DEFAULT_EVAL_SCENES, at most its test split's). UserError (one line) for an unknown name, a damaged shipped
    folder, more scenes than its dataset's test split holds, or remade scenes that are not those of its card."""
    folder = shipped_folder(name, MODEL)
    card = read_card(folder)
    cfg, model, step = load_run(folder, device)
    if not cfg.data_fingerprint:
        raise UserError(f"{folder} is damaged: its config.json records no data fingerprint")
    most = cfg.data_fingerprint.get("splits", {}).get(names.TEST, {}).get("scenes", count or DEFAULT_EVAL_SCENES)
    count = min(DEFAULT_EVAL_SCENES, most) if count is None else count
    if count > most:
        raise UserError(f"{name} was trained on a dataset of {most} test scenes (0..{most - 1}); asked for {count}")
    facts = facts_of(cfg.data_fingerprint)
    cfg = pretrained_data(cfg, test_scenes(name, card[CARD_COMMANDS][DATA], cfg.dataset, facts, count))
    scenes = open_test_split(cfg, name)
    check_scene_digests(scenes, card.get(CARD_TEST_SCENES, [])[:count], name)
    return Pretrained(name, card, cfg, model, step, scenes, count)


def sample_pretrained(name: str, out, context: str = None, query: str = None, samples: int = 4, scene: int = 0,
                      seed: int = 0, scale: int = 2, compile: bool = False):
    """`jumpdata sample --pretrained NAME`: as sample.sample_run, on the shipped model's remade test scene
    `scene`; returns the path written."""
    p = open_pretrained(name, scene + 1)
    return sample_scenes(p.cfg, p.model, p.scenes, out, context, query, samples, scene, seed, scale, compile)


def card_settings(card: dict, metrics: list) -> dict:
    """Return the eval settings a card's report was measured with, for the `metrics` asked (empty: all it
    measured), as EvalSettings fields: scenes (the most test scenes one of those metrics read), and samples and
    context_frames where they agree on one value; {} when the card measured none of them."""
    results = [r for r in eval_results(card) if not metrics or r.get(names.METRIC) in metrics]
    settings = {"scenes": max((r.get(names.SCENES_CHECKED, r.get(names.SCENES, 0)) for r in results), default=0)}
    for field in ("samples", "context_frames"):
        values = {r[field] for r in results if field in r}
        if len(values) == 1:
            settings[field] = values.pop()
    return {k: v for k, v in settings.items() if v}


def shipped_probe(folder) -> tuple:
    """Load the probe in `folder` (shipped, or the user's --probe) for a shipped model's remade scenes: returns
    (ProbeConfig with the facts of its data fingerprint only, network), as pretrained_data does for the model."""
    cfg, net = load_probe(folder)
    return replace(cfg, data_fingerprint=facts_of(cfg.data_fingerprint)), net


def eval_pretrained(name: str, out, settings: EvalSettings, on_progress=None) -> dict:
    """`jumpdata eval --pretrained NAME`: evaluate.evaluate of the shipped model on its remade test scenes; the
    settings not given are those of its card (card_settings), the probe its shipped one. Returns the JSON
    written (report.evaluate's files)."""
    settings.check()
    if settings.data is not None:
        raise UserError("--data does not go with --pretrained: a shipped model's test scenes are remade from its card")
    check_report_path(out)
    card = read_card(shipped_folder(name, MODEL))
    given = {k: v for k, v in asdict(settings).items() if v is not None}
    settings = replace(settings, **{**card_settings(card, settings.metrics), **given})
    if settings.probe is None and card.get(CARD_PROBE) and \
            (not settings.metrics or any(metric_class(m).probe_kind for m in settings.metrics)):
        settings = replace(settings, probe=str(shipped_folder(card[CARD_PROBE], PROBE)))
    device = resolve_device(settings.device)
    p = open_pretrained(name, settings.scenes, device)
    if settings.compile:
        compile_sampling(p.model, device)
    settings = replace(settings, scenes=p.count)
    runs = [LoadedRun(name, p.cfg, p.model, p.step)]
    return evaluate_on(runs, p.scenes, out, settings, shipped_probe, on_progress)
