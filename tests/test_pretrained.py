"""Shipped models (jump_model/pretrained/, docs/pretrained.md): the listing, `sample --pretrained` and `eval
--pretrained` end to end on a tiny model packaged into a temporary shipped folder, the remade test scenes equal to
the full dataset's, packaging checks, one-line errors, and every real shipped folder small and weights-only."""

import fnmatch
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
import torch

from in_process import jumpdata
from jump_model import names
from jump_model.eval.report import EvalSettings, evaluate
from jump_model.pretrained import recipes, scenes as remade
from jump_model.pretrained.catalog import (CARD_FILE, MAX_SHIPPED_BYTES, MODEL, NAME_PATTERN, PACKAGE_SHIPPED, PROBE,
                                           SHIPPED_ENV, read_card, shipped_names)
from jump_model.pretrained.package import package
from jump_model.probes.training import train_probe
from jump_model.run_folder import plan_run
from jump_model.training import train
from narratives import make_spec
from scene_shards import generate_dataset, open_dataset
from scene_shards.common import UserError
from scene_shards.fingerprint import facts_of

ROOT = Path(__file__).resolve().parents[1]
# The tiny recipe the tests package: its commands are built from the same values the test trains with.
DATA_ARGS = ("narratives", "--story", "salesman", "--size", "32", "--seed", "5", "--n", "12", "--test-n", "6")
TRAIN = dict(preset="tiny", steps=3, batch_size=4, workers=0, log_every=1, eval_every=3, sample_every=3,
             checkpoint_every=3)
PROBE_TRAIN = dict(steps=2, batch_size=2)
EVAL = dict(scenes=4, samples=2)


def options(values: dict) -> tuple:
    """{"batch_size": 4} -> ("--batch-size", "4")."""
    return tuple(t for k, v in values.items() for t in (f"--{k.replace('_', '-')}", str(v)))


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny salesman model and its probe, trained here (a few steps) and packaged into a temporary shipped
    folder, with a fresh scene cache. Yields (the shipped root, the full dataset's folder, the run folder)."""
    base = tmp_path_factory.mktemp("pretrained")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SHIPPED_ENV, str(base / "shipped"))
        mp.setenv(remade.CACHE_ENV, str(base / "cache"))
        mp.setitem(recipes.DATASETS, "tiny-salesman", DATA_ARGS)
        for r in (recipes.Recipe("probe-tiny", PROBE, "shape probe, tiny", "tiny-salesman", train=options(PROBE_TRAIN)),
                  recipes.Recipe("tiny", MODEL, "JUMP, tiny salesman", "tiny-salesman",
                                 train=options(TRAIN), eval=("--metric", "story", *options(EVAL)), probe="probe-tiny")):
            mp.setitem(recipes.RECIPES, r.name, r)
        data = base / "data"   # the "full" dataset: more scenes, and shards of 2 (the remade one has one shard)
        generate_dataset(make_spec("salesman", size=32), data, n=12, test_n=6, seed=5, workers=1, shard_size=2)
        train_probe(data, "salesman", base / "probe", **PROBE_TRAIN)
        train(plan_run(data, **TRAIN), base / "run")
        evaluate([base / "run"], base / "story.json", EvalSettings(metrics=[names.STORY], probe=str(base / "probe"),
                                                                     **EVAL))
        package("probe-tiny", base / "probe", base / "shipped", {"probe": 1.5})
        package("tiny", base / "run", base / "shipped", {"train": 2.5, "eval": 1.0}, report=base / "story.json")
        yield base / "shipped", data, base / "run"


def test_with_nothing_shipped_the_listing_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(SHIPPED_ENV, str(tmp_path))
    code, out, _ = jumpdata(capsys, "pretrained")
    assert code == 0 and len(out.splitlines()) == 1 and out.startswith("no pretrained model is shipped")


def test_the_listing_has_a_line_per_shipped_folder_name_first(shipped, capsys):
    code, out, _ = jumpdata(capsys, "pretrained")
    assert code == 0
    probe_line, model_line = out.splitlines()
    assert probe_line.startswith("probe-tiny ") and "2 steps" in probe_line and "held-out accuracy" in probe_line
    card = read_card(shipped[0] / "tiny")
    entry = card["eval"]["runs"][0]
    assert model_line.startswith("tiny ") and "3 steps" in model_line and "story (4 scenes)" in model_line
    assert f"coherent {entry['coherent']:.3g} [{entry['coherent_ci95'][0]:.3g}" in model_line


def test_a_card_says_how_the_model_was_made_and_how_well_it_does(shipped):
    card = read_card(shipped[0] / "tiny")
    assert card["commands"]["data"] == ["jumpdata", *DATA_ARGS, "--out", "DATA"]
    assert card["commands"]["train"][:3] == ["jumpdata", "train", "DATA"] and "--steps" in card["commands"]["train"]
    assert (card["data_seed"], card["seed"], card["steps"], card["probe"]) == (5, 0, 3, "probe-tiny")
    assert card["wall_time_s"] == {"train": 2.5, "eval": 1.0} and "cores" in card["machine"]
    assert card["eval"] == json.loads((shipped[0].parent / "story.json").read_text())
    assert len(card["test_scenes_sha256"]) == 6           # the test split's 6 scenes (at least 8 when it has them)
    probe = read_card(shipped[0] / "probe-tiny")
    assert 0 <= probe["held_out"]["accuracy"] <= 1 and probe["held_out"]["examples"] > 0


def test_a_shipped_checkpoint_holds_weights_only(shipped):
    ckpt = torch.load(shipped[0] / "tiny" / "checkpoint.pt", weights_only=True)
    assert sorted(ckpt) == ["config", "model", "step"] and ckpt["step"] == 3
    full = torch.load(shipped[2] / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(ckpt["model"][k], full["model"][k]) for k in full["model"])


def test_sample_pretrained_draws_what_the_run_folder_draws(shipped, tmp_path, capsys):
    code, out, err = jumpdata(capsys, "sample", "--pretrained", "tiny", "--scene", "2", "--out", tmp_path / "p.png")
    assert code == 0, err
    code, _, err = jumpdata(capsys, "sample", shipped[2], "--scene", "2", "--out", tmp_path / "r.png")
    assert code == 0, err
    assert (tmp_path / "p.png").read_bytes() == (tmp_path / "r.png").read_bytes()   # same scene, model and seed


def test_eval_pretrained_story_gives_the_cards_figures(shipped, tmp_path, capsys):
    code, out, err = jumpdata(capsys, "eval", "--pretrained", "tiny", "--metric", "story", "--out", tmp_path / "s.json")
    assert code == 0, err
    assert "story on salesman (test: 4 scenes)" in out
    report = json.loads((tmp_path / "s.json").read_text())
    card = read_card(shipped[0] / "tiny")["eval"]
    assert report["probe"] == str(shipped[0] / "probe-tiny")        # its shipped probe, with no --probe
    assert (report["scenes"], report["samples"]) == (card["scenes"], card["samples"])   # the card's settings
    assert [{k: v for k, v in e.items() if k != "run"} for e in report["runs"]] == \
        [{k: v for k, v in e.items() if k != "run"} for e in card["runs"]]
    assert report["runs"][0]["run"] == "tiny" and (tmp_path / "s.png").is_file() and (tmp_path / "s_story.png").is_file()


def test_remade_test_scenes_are_the_full_datasets_first_test_scenes(shipped, tmp_path, monkeypatch):
    monkeypatch.setenv(remade.CACHE_ENV, str(tmp_path / "cache"))
    fingerprint = json.loads((shipped[0] / "tiny" / "config.json").read_text())["data_fingerprint"]
    folder = remade.test_scenes("tiny", ["jumpdata", *DATA_ARGS], "salesman", facts_of(fingerprint), 3)
    small, full = open_dataset(folder, "salesman", "test"), open_dataset(shipped[1], "salesman", "test")
    assert len(small) == 3 and len(open_dataset(folder, "salesman", "train")) == 1 and len(full) == 6
    for i in range(3):
        assert small.frames(i).tobytes() == full.frames(i).tobytes()
        np.testing.assert_array_equal(small.viewpoints(i), full.viewpoints(i))
        for name, value in full.labels(i).items():
            np.testing.assert_array_equal(small.labels(i)[name], value)


def test_an_intact_cache_is_reused_and_a_damaged_shard_remade(shipped, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(remade.CACHE_ENV, str(tmp_path / "cache"))
    assert jumpdata(capsys, "sample", "--pretrained", "tiny", "--out", tmp_path / "a.png")[0] == 0
    (shard,) = (tmp_path / "cache").glob("scenes/*/test-1/salesman-test-*.h5")
    with patch.object(remade, "make_scenes", side_effect=AssertionError("remade")):   # intact: reused as it is
        assert jumpdata(capsys, "sample", "--pretrained", "tiny", "--out", tmp_path / "b.png")[0] == 0
    shard.write_bytes(shard.read_bytes()[:-100])
    code, _, err = jumpdata(capsys, "sample", "--pretrained", "tiny", "--out", tmp_path / "c.png")
    assert code == 0, err
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "c.png").read_bytes()


@pytest.mark.parametrize("argv, message", [
    (("sample", "--pretrained", "nope"), "no pretrained model called 'nope' (shipped: probe-tiny, tiny)"),
    (("sample", "--pretrained", "probe-tiny"), "no pretrained model called 'probe-tiny'"),
    (("sample", "RUN", "--pretrained", "tiny"), "give RUN or --pretrained NAME, not both"),
    (("sample",), "give RUN (a training run folder) or --pretrained NAME"),
    (("sample", "--pretrained", "tiny", "--data", "DATA"), "--data does not go with --pretrained"),
    (("sample", "--pretrained", "tiny", "--scene", "6"), "test scenes (0..5); asked for 7"),
    (("eval", "RUN", "--pretrained", "tiny", "--out", "r.json"), "give RUNS or --pretrained NAME, not both"),
    (("eval", "--out", "r.json"), "give RUNS (a training run folder) or --pretrained NAME"),
    (("eval", "--pretrained", "tiny", "--metric", "nelbo", "--out", "r.json"), "metric nelbo does not apply"),
    (("eval", "--pretrained", "tiny", "--out", "r.txt"), "the report is a .json file"),
])
def test_bad_pretrained_input_gets_one_line(shipped, tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    places = {"RUN": str(shipped[2]), "DATA": str(shipped[1])}
    code, out, err = jumpdata(capsys, *(places.get(a, a) for a in argv))
    assert code != 0 and len(err.splitlines()) == 1 and message in err, err
    assert "Traceback" not in err and not list(tmp_path.iterdir())


def test_a_damaged_shipped_folder_gets_one_line(shipped, tmp_path, capsys, monkeypatch):
    root = tmp_path / "shipped"
    shutil.copytree(shipped[0], root)
    monkeypatch.setenv(SHIPPED_ENV, str(root))
    ckpt = root / "tiny" / "checkpoint.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    code, _, err = jumpdata(capsys, "sample", "--pretrained", "tiny", "--out", tmp_path / "s.png")
    assert code == 2 and len(err.splitlines()) == 1 and f"cannot load checkpoint {ckpt}" in err
    code, _, err = jumpdata(capsys, "eval", "--pretrained", "tiny", "--out", tmp_path / "s.json")
    assert code == 2 and f"cannot load checkpoint {ckpt}" in err and not (tmp_path / "s.json").exists()
    (root / "probe-tiny" / CARD_FILE).write_text("{not json")
    code, out, err = jumpdata(capsys, "pretrained")
    assert code == 2 and out.splitlines()[0].startswith("probe-tiny  damaged: cannot read the card")
    assert err.strip() == "jumpdata: 1 shipped folder(s) damaged (see above): reinstall jumpdata"


def test_a_shipped_model_cannot_be_resumed(shipped, capsys):
    code, _, err = jumpdata(capsys, "train", shipped[1], "--resume", "--out", shipped[0] / "tiny", "--steps", "5")
    assert code == 2 and "holds the weights only (a shipped model)" in err


def test_packaging_refuses_a_run_its_recipe_did_not_make_and_a_folder_too_big(shipped, tmp_path, monkeypatch):
    base = shipped[0].parent
    other = recipes.Recipe("other", MODEL, "?", "tiny-salesman", train=("--steps", "30"), eval=(), probe="probe-tiny")
    monkeypatch.setitem(recipes.RECIPES, "other", other)
    with pytest.raises(UserError, match=r"was not made by recipe other's command: --steps 30 \(recorded: 3\)"):
        package("other", base / "run", tmp_path, {"train": 1.0}, report=base / "story.json")
    monkeypatch.setattr("jump_model.pretrained.package.MAX_SHIPPED_BYTES", 1000)
    with pytest.raises(UserError, match=r"would take 0\.\d MB, more than the 0 MB a shipped folder may hold"):
        package("probe-tiny", base / "probe", tmp_path, {"probe": 1.0})
    assert not list(tmp_path.iterdir())      # nothing left behind
    with pytest.raises(UserError, match="needs the measured wall time of its train command"):
        package("tiny", base / "run", tmp_path, {"eval": 1.0}, report=base / "story.json")
    monkeypatch.undo()
    for seconds in (1.0, 2.0):                 # packaged again: the folder replaced whole, nothing else left
        package("probe-tiny", base / "probe", tmp_path, {"probe": seconds})
    assert [p.name for p in tmp_path.iterdir()] == ["probe-tiny"]
    assert read_card(tmp_path / "probe-tiny")["wall_time_s"] == {"probe": 2.0}


def test_the_listing_loads_neither_torch_nor_numpy(shipped):
    code = ("import sys, cli\ncli.main.main(['pretrained'], standalone_mode=False)\n"
            "print('torch' in sys.modules, 'numpy' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, SHIPPED_ENV: str(shipped[0])})
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("probe-tiny") and r.stdout.splitlines()[-1] == "False False"


def test_every_recipe_names_its_dataset_and_a_probe_of_the_same_data():
    for r in recipes.RECIPES.values():
        assert NAME_PATTERN.fullmatch(r.name) and r.dataset in recipes.DATASETS and r.kind in (MODEL, PROBE)
        if r.kind == MODEL and r.probe:
            assert recipes.RECIPES[r.probe].kind == PROBE and recipes.RECIPES[r.probe].dataset == r.dataset
        made = recipes.commands(r)
        assert made["data"][-2:] == ["--out", "DATA"] and all(argv[0] == "jumpdata" for argv in made.values())


def test_every_real_shipped_folder_is_small_weights_only_and_in_the_wheel(monkeypatch, capsys):
    monkeypatch.delenv(SHIPPED_ENV, raising=False)
    folders = [PACKAGE_SHIPPED / name for name in shipped_names()]
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    globs = data["jump_model.pretrained"]
    for folder in folders:
        files = list(folder.iterdir())
        assert sum(p.stat().st_size for p in files) <= MAX_SHIPPED_BYTES, folder
        for p in files:
            assert any(fnmatch.fnmatch(str(p.relative_to(PACKAGE_SHIPPED.parent)), g) for g in globs), p
        torch.load(folder / "checkpoint.pt", weights_only=True)
        assert read_card(folder)["name"] == folder.name
    code, out, _ = jumpdata(capsys, "pretrained")
    assert code == 0 and len(out.splitlines()) == max(1, len(folders))
    if not folders:
        assert out.startswith("no pretrained model is shipped")
