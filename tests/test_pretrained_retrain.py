"""`make weights` end to end (slow): one shipped model retrained from scratch through `jumpdata pretrained retrain`
(the recipe's own commands, with the smoke run's tiny sizes appended), packaged, listed, then evaluated as a user
would, giving its card's figures again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jump_model.pretrained.catalog import SHIPPED_ENV, read_card
from jump_model.pretrained.recipes import commands, recipe
from jump_model.pretrained.retrain import SMOKE
from jump_model.pretrained.scenes import CACHE_ENV

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_make_weights_retrains_a_recipe_whose_card_figures_come_back(tmp_path):
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache"), SHIPPED_ENV: str(tmp_path / "work" / "shipped"),
           "OMP_NUM_THREADS": "1"}
    jumpdata = lambda *argv: subprocess.run([sys.executable, "-m", "cli", *map(str, argv)], cwd=tmp_path, env=env,
                                            capture_output=True, text=True)
    r = jumpdata("pretrained", "retrain", "salesman-32", "--work", tmp_path / "work", "--smoke")
    assert r.returncode == 0, r.stderr
    assert "packaged probe-salesman-32" in r.stdout and "packaged salesman-32" in r.stdout
    card = read_card(tmp_path / "work" / "shipped" / "salesman-32")
    assert card["commands"] == {stage: list(argv) for stage, argv in commands(recipe("salesman-32"), SMOKE).items()}
    assert set(card["wall_time_s"]) == {"data", "train", "eval"} and card["probe"] == "probe-salesman-32"
    listed = jumpdata("pretrained")
    assert listed.returncode == 0 and [line.split()[0] for line in listed.stdout.splitlines()] == \
        ["probe-salesman-32", "salesman-32"]
    r = jumpdata("eval", "--pretrained", "salesman-32", "--metric", "story", "--out", tmp_path / "story.json")
    assert r.returncode == 0, r.stderr
    again = json.loads((tmp_path / "story.json").read_text())["runs"]
    assert [{k: v for k, v in e.items() if k != "run"} for e in again] == \
        [{k: v for k, v in e.items() if k != "run"} for e in card["eval"]["runs"]]
    r = jumpdata("sample", "--pretrained", "salesman-32", "--out", tmp_path / "s.png")
    assert r.returncode == 0 and (tmp_path / "s.png").stat().st_size > 0, r.stderr
