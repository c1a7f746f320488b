"""`jumpdata eval` and jump_model.metrics: known answers on hand-built models, the dice view selection checked
from the labels, the JSON/plot files, and one-line errors for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from in_process import jumpdata
from jump_model import names
from jump_model.eval.report import EvalSettings, evaluate
from jump_model.eval.dice import MIN_QUALIFIED
from jump_model.nets import make_model
from jump_model.probes.training import train_probe
from jump_model.run_folder import plan_run, save_checkpoint, write_config
from jump_model.training import train
from narratives import make_spec as narrative_spec
from scene_shards import generate_dataset

FAST = dict(batch_size=4, log_every=1, eval_every=2, sample_every=2, checkpoint_every=2, eval_scenes=4, workers=0)


def trained_run(data, out, steps=2, **options):
    """Train a tiny run for `steps` steps into `out`; returns `out`."""
    train(plan_run(data, preset="tiny", steps=steps, **dict(FAST, **options)), out)
    return out


def untrained_run(data, out, **options):
    """Write a run folder holding an untrained model (step 0) of the tiny preset; returns `out`."""
    cfg = plan_run(data, preset="tiny", **dict(FAST, **options))
    model = make_model(cfg.model)
    out.mkdir()
    write_config(out, cfg)
    save_checkpoint(out, model, torch.optim.Adam(model.parameters()), 0, cfg)
    return out


@pytest.fixture(scope="module")
def video_runs(squares, tmp_path_factory):
    """A jump run (2 steps) and an untrained ar run on the squares."""
    base = tmp_path_factory.mktemp("video_runs")
    return (trained_run(squares, base / "jump", context=2, targets=2),
            untrained_run(squares, base / "ar", model="ar", context=2, targets=2))


@pytest.fixture(scope="module")
def probes(dice, tmp_path_factory):
    """A digit probe of the tiny dice set and a shape probe of a tiny color_reaction set (2 steps each)."""
    base = tmp_path_factory.mktemp("probes")
    generate_dataset(narrative_spec("color_reaction", size=32), base / "stories", n=4, test_n=2, workers=1)
    train_probe(dice, "dice", base / "digit", steps=2, batch_size=8)
    train_probe(base / "stories", "color_reaction", base / "shapes", steps=2, batch_size=2)
    return base / "digit", base / "shapes"


@pytest.fixture(scope="module")
def dice_runs(dice, tmp_path_factory):
    """A jump and a gqn run on the tiny dice set."""
    base = tmp_path_factory.mktemp("dice_runs")
    return trained_run(dice, base / "jump"), trained_run(dice, base / "gqn", model="gqn")


# --------------------------------------------------------------------------- the command

def test_eval_on_videos_writes_json_plot_and_table(video_runs, tmp_path, capsys):
    jump, ar = video_runs
    out = tmp_path / "report.json"
    code, text, err = jumpdata(capsys, "eval", jump, ar, "--samples", "3", "--frames", "8", "--context-frames", "3",
                               "--out", out)
    assert code == 0, err
    report = json.loads(out.read_text())
    results = {r[names.METRIC]: r for r in report[names.REPORT]}
    assert set(results) == {names.MIN_MSE, names.SPEED}
    mse = results[names.MIN_MSE]
    assert (mse[names.DATASET], mse[names.SPLIT], mse[names.SCENES]) == ("squares", "test", 6)
    assert [(e[names.RUN], e[names.MODEL]) for e in mse[names.RUNS]] == [(str(jump), "jump"), (str(ar), "ar")]
    for e in mse[names.RUNS]:
        lo, hi = e["min_mse" + names.CI95]
        assert 0 <= lo <= e["min_mse"] <= hi <= 1
    speed = results[names.SPEED]
    jumpy = [e for e in speed[names.RUNS] if e[names.MODEL] == "jump"]
    assert [e[names.BATCH] for e in jumpy] == [1, 16]
    for e in jumpy:
        assert e["speedup"] == pytest.approx(e["autoregressive_ms"] / e["jumpy_ms"], rel=1e-6)
        assert e[names.REFERENCE] == str(ar)
    assert (tmp_path / "report.png").stat().st_size > 1000
    assert "min-mse on squares" in text and "speedup" in text
    # both runs trained on at most 2 context views; jump sums its context, so 3 are more than it learnt from
    notes = [line for line in err.splitlines() if "more context views than these runs trained on" in line]
    assert len(notes) == 1 and notes[0].startswith("jumpdata: note: --context-frames 3")
    assert f"{jump} (2)" in notes[0] and str(ar) not in notes[0]


def test_consistency_and_nelbo_on_dice(dice_runs, tmp_path, capsys):
    jump, gqn = dice_runs
    out = tmp_path / "consistency.json"
    code, text, err = jumpdata(capsys, "eval", jump, gqn, "--metric", "consistency", "--metric", "nelbo",
                               "--samples", "2", "--out", out)
    assert code == 0, err
    results = {r[names.METRIC]: r for r in json.loads(out.read_text())[names.REPORT]}
    kls = results[names.CONSISTENCY]
    assert kls[names.SCENES] >= 12 and kls[names.SCENES_CHECKED] == 16 and kls[names.CONTEXT_FRAMES] == 3
    for e in kls[names.RUNS]:
        assert e["ratio"] == pytest.approx(e["kl3"] / e["kl1"])
        assert e["kl1"] > 0 and e["kl3_minus_kl1_sd"] >= 0
    nelbo = results[names.NELBO]
    assert nelbo[names.PIXEL_VARIANCE] == 0.1 and all(np.isfinite(e["nelbo"]) for e in nelbo[names.RUNS])
    assert (tmp_path / "consistency.png").is_file() and (tmp_path / "consistency_hidden_face.png").is_file()


def test_eval_of_seeds_reports_each_run_then_each_model_and_their_paired_difference(dice, dice_runs, tmp_path,
                                                                                    capsys):
    jump, gqn = dice_runs
    jump_s1 = trained_run(dice, tmp_path / "jump-s1", seed=1)
    out = tmp_path / "seeds.json"
    code, text, err = jumpdata(capsys, "eval", jump, jump_s1, gqn, "--metric", "consistency", "--metric", "nelbo",
                               "--samples", "2", "--out", out)
    assert code == 0, err
    for result in json.loads(out.read_text())[names.REPORT]:
        runs = result[names.RUNS]
        assert [(e[names.RUN], e[names.MODEL], e[names.SEED]) for e in runs] == \
            [(str(jump), "jump", 0), (str(jump_s1), "jump", 1), (str(gqn), "gqn", 0)]
        jumps, gqns = result[names.MODELS]
        assert (jumps[names.MODEL], jumps[names.RUNS], jumps[names.SEEDS]) == ("jump", [str(jump), str(jump_s1)],
                                                                                [0, 1])
        figure = "kl1" if result[names.METRIC] == names.CONSISTENCY else "nelbo"
        assert jumps[figure] == pytest.approx((runs[0][figure] + runs[1][figure]) / 2)
        assert jumps[figure + names.COUNT] == 2 and gqns[figure + names.COUNT] == 1
        assert figure + names.CI95 in jumps and figure + names.CI95 not in gqns     # one seed: no interval
        (difference,) = result[names.DIFFERENCES]
        assert difference[names.MODELS] == ["jump", "gqn"]
        assert difference[figure] == pytest.approx(jumps[figure] - gqns[figure])
        assert difference[figure + names.COUNT] == result[names.SCENES]
    assert "per model: mean over its runs" in text and "differences A - B, paired by scene" in text


def test_digit_agreement_on_dice_has_a_row_per_run_then_truth_and_random(dice_runs, probes, tmp_path, capsys):
    jump, gqn = dice_runs
    out = tmp_path / "agree.json"
    code, text, err = jumpdata(capsys, "eval", jump, gqn, "--metric", "digit-agreement", "--probe", probes[0],
                               "--samples", "3", "--out", out)
    assert code == 0, err
    result = json.loads(out.read_text())
    assert result[names.METRIC] == names.DIGIT_AGREEMENT and result[names.SAMPLES] == 3
    assert MIN_QUALIFIED <= result[names.SCENES] <= result[names.SCENES_CHECKED] == 16
    assert result[names.PROBE] == str(probes[0]) and 0 <= result[names.PROBE_ACCURACY] <= 1
    rows = result[names.RUNS]
    assert [e[names.MODEL] for e in rows] == ["jump", "gqn", names.TRUTH, names.RANDOM]
    assert (rows[-1]["agreement"], rows[-1]["cross_agreement"], rows[-1]["accuracy"]) == (0.01, 0.01, 0.1)
    assert rows[-1]["diversity"] == pytest.approx((10 * (1 - 0.9 ** 3) - 1) / 2)
    for e in rows[:-1]:
        figures = ("agreement", "accuracy") + (() if e[names.MODEL] == names.TRUTH else
                                               ("cross_agreement", "diversity"))
        for figure in figures + (("seen_accuracy",) if "seen_accuracy" in e else ()):
            lo, hi = e[figure + names.CI95]
            assert 0 <= lo <= e[figure] <= hi <= 1 and e[figure + names.COUNT] <= result[names.SCENES]
    for e in rows[:2]:
        assert e["consistency_gain"] == pytest.approx(e["agreement"] - e["cross_agreement"])
        assert e[names.SEED] == 0
    assert (tmp_path / "agree.png").is_file() and (tmp_path / "agree_digits.png").is_file()
    assert "digit-agreement on dice" in text and "random classes" in text


def test_with_a_probe_and_no_metric_eval_adds_the_probe_metric_that_fits(dice_runs, probes, tmp_path, capsys):
    out = tmp_path / "all.json"
    code, _, err = jumpdata(capsys, "eval", dice_runs[0], "--probe", probes[0], "--samples", "3", "--out", out)
    assert code == 0, err
    metrics = [r[names.METRIC] for r in json.loads(out.read_text())[names.REPORT]]
    assert metrics == [names.NELBO, names.CONSISTENCY, names.DIGIT_AGREEMENT]
    assert (tmp_path / "all_digits.png").is_file() and (tmp_path / "all_hidden_face.png").is_file()


def test_bad_probe_input_gets_one_line(dice_runs, video_runs, probes, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for runs, args, message in [
            (dice_runs, ["--probe", probes[1]], "reads 'color_reaction' (shapes, 32x32); the runs' test scenes are "
                                                "'dice' (16x16) and need a digit probe"),
            (dice_runs, ["--probe", tmp_path], "is not a probe folder"),
            (dice_runs, [], "give --probe FOLDER"),
            (dice_runs, ["--probe", probes[0], "--samples", "2"], "give --samples 3 or more (got 2)"),
            (video_runs, ["--probe", probes[1]], "metric story does not apply to dataset 'squares'")]:
        metric = names.STORY if runs is video_runs else names.DIGIT_AGREEMENT
        code, _, err = jumpdata(capsys, "eval", *runs, "--metric", metric, "--out", "r.json", *args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("args, message", [
    (["--metric", "min-mse"], "metric min-mse does not apply to dataset 'dice'"),
    (["--samples", "0"], "'--samples': 0 is not in the range 1<=x<="),
    (["--scenes", "2"], "of 2 test scenes of 'dice' have context views hiding a side face"),
    (["--scenes", "17"], "--scenes 17: the test split of 'dice' holds 16 scenes"),
    (["--context-frames", "100"], "--context-frames 100: the scenes of 'dice' have 20 views, and the dice metrics "
                                  "need 3 target views beside the context (at most 17)"),
    (["--out", "report.txt"], "the report is a .json file"),
])
def test_bad_dice_input_gets_one_line(dice_runs, tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = jumpdata(capsys, "eval", dice_runs[0], *(["--out", "r.json"] if "--out" not in args else []),
                            *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())


def test_bad_runs_get_one_line(video_runs, dice_runs, tmp_path, capsys):
    out = tmp_path / "r.json"
    for runs, message in [([tmp_path], "is not a training run folder"),
                          ([video_runs[0], dice_runs[1]], "runs on different datasets"),
                          ([dice_runs[0], dice_runs[1], video_runs[0]], "runs on different datasets"),
                          ([*dice_runs, "--metric", "min-mse"], "metric min-mse does not apply to dataset 'dice'"),
                          ([video_runs[0], "--frames", "9"], "--frames 9: the videos of 'squares' have 8 frames")]:
        code, _, err = jumpdata(capsys, "eval", *runs, "--out", out)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_eval_settings_refuse_unknown_metrics(video_runs, tmp_path):
    with pytest.raises(Exception, match="unknown metric 'fid'"):
        evaluate([video_runs[0]], tmp_path / "r.json", EvalSettings(metrics=["fid"]))


IMPORTS_OF = ("import pkgutil, sys\n{code}\n"
              "print(sorted(m for m in sys.modules if m == 'pybullet' or m.startswith('jump_model.training')"
              " or m == 'jump_model.probes.training'))")


@pytest.mark.parametrize("code", [
    # the eval package and every module in it
    "import jump_model.eval\nfor m in pkgutil.iter_modules(jump_model.eval.__path__):\n"
    "    __import__(f'jump_model.eval.{m.name}')",
    # the command line's help of eval
    "import cli\ntry:\n    cli.main.main(['eval', '--help'], standalone_mode=False)\nexcept SystemExit:\n    pass",
])
def test_evaluation_loads_neither_pybullet_nor_the_trainers(code):
    r = subprocess.run([sys.executable, "-c", IMPORTS_OF.format(code=code)], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_every_registered_metric_is_a_plugin_under_its_own_name():
    from jump_model.eval.metric import Metric
    from jump_model.eval.registry import METRICS, metric_class
    assert set(METRICS) == {names.MIN_MSE, names.NELBO, names.CONSISTENCY, names.SPEED, names.DIGIT_AGREEMENT,
                            names.STORY}
    for name in METRICS:
        cls = metric_class(name)
        assert issubclass(cls, Metric) and cls.name == name and cls.figures
        assert cls.viewpoint_kind in ("time", "camera") and cls.needs
