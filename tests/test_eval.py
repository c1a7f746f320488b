"""`jumpdata eval` and jump_model.metrics: known answers on hand-built models, the dice view selection checked
from the labels, the JSON/plot files, and one-line errors for bad input."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
import torch
from torch import nn

from cli import run as cli_run
from dice3d import make_spec as dice_spec
from dice3d.geometry import FACE_NORMALS, quat_to_matrix
from jump_model import names
from jump_model.config import ModelConfig, RunConfig
from jump_model.eval.report import EvalSettings, LoadedRun, evaluate, measure
from jump_model.eval.hidden_face import (MAX_CONTEXT_FACES, SHOWN_FRACTION, TARGET_VIEWS, HiddenFace, select_hidden_face,
                                         select_scenes, walls_in_view)
from jump_model.eval.dice import MIN_QUALIFIED, kl_per_scene
from jump_model.eval.digit_agreement import readable_picks
from jump_model.eval.figures import bootstrap_ci95
from jump_model.eval.video import min_mse_per_scene
from jump_model.nets import make_model
from jump_model.probes.nets import ProbeConfig
from jump_model.probes.training import train_probe
from jump_model.run_folder import plan_run, save_checkpoint, write_config
from jump_model.training import train
from hand_built_models import Blank, Oracle, PerfectDigitProbe, PerViewCoin, SetCoin
from model_scenes import make_square_dataset
from narratives import make_spec as narrative_spec
from scene_shards import generate_dataset, open_dataset

FAST = dict(batch_size=4, log_every=1, eval_every=2, sample_every=2, checkpoint_every=2, eval_scenes=4, workers=0)
LEVEL = np.array([0, 0, 0, 1], np.float32)   # identity quaternion, the +z face on top


@pytest.fixture(scope="module")
def dice(tmp_path_factory):
    """A tiny dice dataset: 16x16, 20 views, 4 train and 16 test scenes."""
    folder = tmp_path_factory.mktemp("dice")
    generate_dataset(dice_spec(digits=10, views=20, size=16), folder, n=4, test_n=16, seed=0, workers=1)
    return folder


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    """Moving-square videos of 8 frames at 16x16 (time viewpoints)."""
    folder = tmp_path_factory.mktemp("squares")
    make_square_dataset(folder, kind="time", views=8, n=8, test_n=6)
    return folder


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


# --------------------------------------------------------------------------- hand-built models

class Factored(nn.Module):
    """A factored model: the KL is a sum over the real targets of a per-target term (here 1 + mean pixel)."""

    def __init__(self):
        super().__init__()
        self.cfg = ModelConfig(kind="factored", viewpoint_kind="camera")
        self.anchor = nn.Parameter(torch.zeros(()))

    def kl(self, batch):
        per_target = 1.0 + batch["target_frames"].float().flatten(2).mean(2) / 255.0
        return (per_target * batch["target_mask"]).sum(1)


class DeterministicKL(nn.Module):
    """A real model whose kl follows the posterior means (noise=False), so repeated targets add exactly."""

    def __init__(self, model):
        super().__init__()
        self.model, self.cfg = model, model.cfg

    def kl(self, batch):
        return self.model.kl(batch, noise=False)


def test_a_model_sampling_the_truth_has_min_mse_zero(squares):
    scenes = open_dataset(squares, "squares", "test")
    indices = list(range(len(scenes)))
    assert np.all(min_mse_per_scene(Oracle(scenes), scenes, indices, 3, samples=5) == 0)
    blank = min_mse_per_scene(Blank(scenes), scenes, indices, 3, samples=2)
    truth = [np.mean((scenes.frames(i)[3:] / 255.0) ** 2) for i in indices]
    np.testing.assert_allclose(blank, truth, rtol=1e-5)


def test_a_factored_model_gives_kl3_three_times_kl1_for_identical_targets(dice):
    scenes = open_dataset(dice, "dice", "test")
    picks = [HiddenFace(s, 0, (0, 1), (5, 5, 5)) for s in range(3)]
    kl1, kl3 = kl_per_scene(Factored(), scenes, picks, samples=2)
    np.testing.assert_allclose(kl3, 3 * kl1, rtol=1e-6)
    cfg = ModelConfig(kind="factored", nt=2, nf_to_hidden=8, nf_enc=8, nf_to_obs=8, nf_dec=8, stride_to_hidden=1,
                      lstm_kernel=3, image_size=16, views_per_scene=20, viewpoint_kind="camera")
    torch.manual_seed(0)
    factored = DeterministicKL(make_model(cfg).eval())
    kl1, kl3 = kl_per_scene(factored, scenes, picks, samples=1)
    assert np.all(kl1 > 0)
    np.testing.assert_allclose(kl3, 3 * kl1, rtol=1e-4)


class ContentKL(nn.Module):
    """A consistent model's KL, by hand: the number of cube faces and walls its targets show that its context
    does not (a face from one pixel, a wall in the field of view), read from the labels of the views' scene."""

    def __init__(self, scenes):
        super().__init__()
        self.cfg = ModelConfig(kind="jump", viewpoint_kind="camera")
        self.anchor = nn.Parameter(torch.zeros(()))
        config = scenes.manifest["config"]
        self.views = {f.tobytes(): (i, v) for i in range(len(scenes)) for v, f in enumerate(scenes.frames(i))}
        self.content = [np.concatenate([scenes.labels(i)[names.FACE_LABEL] > 0, walls_in_view(
            scenes.viewpoints(i), config["fov_deg"], config["room_half"]) > 0], axis=1) for i in range(len(scenes))]

    def kl(self, batch):
        out = []
        for ctx, tgt in zip(batch["context_frames"], batch["target_frames"]):
            (scene, _), = {self.views[f.numpy().tobytes()][:1] + (0,) for f in ctx}
            seen = [[self.views[f.numpy().tobytes()][1] for f in frames] for frames in (ctx, tgt)]
            known = self.content[scene][seen[0]].any(axis=0)
            out.append(float((self.content[scene][seen[0] + seen[1]].any(axis=0) & ~known).sum()))
        return torch.tensor(out)


def test_a_consistent_model_gains_nothing_from_targets_whose_other_content_is_known(dice):
    scenes = open_dataset(dice, "dice", "test")
    picks = select_scenes(scenes, range(len(scenes)), 3)
    model = ContentKL(scenes)
    kl1, kl3 = kl_per_scene(model, scenes, picks, samples=1)
    known = np.array([p.new_area == 0 and p.new_walls == 0 for p in picks])
    assert known.mean() >= 0.5 and np.all(kl1 >= 1)                  # the hidden face is new information
    np.testing.assert_array_equal(kl3[known], kl1[known])             # KL3 = KL1 where nothing else is new
    assert np.all(kl3[~known] > kl1[~known])
    # the former choice, the three views showing most of the hidden face, shows the model more that is new
    most = [replace(p, targets=tuple(np.argsort(-scenes.labels(p.scene)[names.FACE_LABEL][:, p.face],
                                                kind="stable")[:TARGET_VIEWS].tolist())) for p in picks]
    old1, old3 = kl_per_scene(model, scenes, most, samples=1)
    assert kl3.mean() / kl1.mean() < old3.mean() / old1.mean()


def test_nelbo_of_hand_built_models_is_the_gaussian_nll_of_their_errors(dice):
    scenes = open_dataset(dice, "dice", "test")
    cfg = RunConfig(eval_pixel_variance=0.1)
    runs = [LoadedRun("oracle", cfg, Oracle(scenes), 0), LoadedRun("blank", cfg, Blank(scenes, kind="gqn"), 0),
            LoadedRun("per view", cfg, PerViewCoin(scenes, kind="factored"), 0)]
    (result,), _ = measure(runs, scenes, EvalSettings(metrics=[names.NELBO], samples=4))
    oracle, blank, per_view = result[names.RUNS]
    picks = select_scenes(scenes, range(len(scenes)), 3)
    values = TARGET_VIEWS * 16 * 16 * 3
    sq = np.array([np.square(scenes.frames(p.scene, list(p.targets)) / 255.0).sum() for p in picks])
    constant = lambda v: 0.5 * values * np.log(2 * np.pi * v)
    variances = [point[names.PIXEL_VARIANCE] for point in oracle[names.NELBO_CURVE]]
    assert 0.1 in variances and 0.9 * 16 ** 2 / 64 ** 2 in variances and variances == sorted(variances)
    for e in result[names.RUNS]:
        assert e["nelbo"] == pytest.approx(e["kl"] + e["nll"]) and e["nelbo_n"] == len(picks)
        assert next(p["nelbo"] for p in e[names.NELBO_CURVE] if p[names.PIXEL_VARIANCE] == 0.1) == \
            pytest.approx(e["nelbo"])
    for point, black in zip(oracle[names.NELBO_CURVE], blank[names.NELBO_CURVE]):
        v = point[names.PIXEL_VARIANCE]
        assert point["nelbo"] == pytest.approx(constant(v), rel=1e-5)                     # no error, no KL
        assert black["nelbo"] == pytest.approx(np.mean(0.5 * sq / v) + constant(v), rel=1e-5)
    assert oracle["kl"] == blank["kl"] == 0 and oracle["nelbo"] < per_view["nelbo"] < blank["nelbo"]
    oracle_minus_blank = next(d for d in result[names.DIFFERENCES] if d[names.MODELS] == ["jump", "gqn"])
    assert [p["nelbo"] for p in oracle_minus_blank[names.NELBO_CURVE]] == \
        pytest.approx([-np.mean(0.5 * sq / v) for v in variances], rel=1e-5)   # paired by scene, at each variance


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_more_scenes():
    rng = np.random.default_rng(0)
    small, large = rng.normal(5, 1, 20), rng.normal(5, 1, 2000)
    lo, hi = bootstrap_ci95(small)
    assert lo < small.mean() < hi
    lo2, hi2 = bootstrap_ci95(large)
    assert hi2 - lo2 < (hi - lo) / 5
    assert bootstrap_ci95(np.full(10, 3.0)) == [3.0, 3.0]


# --------------------------------------------------------------------------- the dice selection

def test_selection_on_hand_built_labels():
    visible = np.zeros((6, 6), np.float32)
    visible[0, [0, 2, 4]] = 0.1        # view 0: +x, +y, top
    visible[1, [0, 4]] = 0.1           # view 1: +x, top
    visible[2, [1, 3, 4]] = 0.1        # views 2-4 show -x (and -y, top)
    visible[3, [1, 4]] = [0.2, 0.1]
    visible[4, [1]] = 0.05
    visible[5, [1, 2, 4]] = [0.005, 0.1, 0.1]   # a sliver of -x: not a target, not a context view for -x
    pick = select_hidden_face(7, visible, LEVEL, max_context=3)
    # target 1 shows most of -x (view 3); view 4 shows nothing else, view 2 also -y, which no view before shows
    assert pick == HiddenFace(7, 1, (0, 1), (3, 4, 2), new_area=pytest.approx(0.05), new_walls=0.0)
    assert select_hidden_face(7, visible, LEVEL, max_context=1).context == (0,)
    visible[4, 1] = SHOWN_FRACTION / 2      # only two views show -x now; -y has one
    assert select_hidden_face(7, visible, LEVEL, max_context=3) is None


def test_the_dice_selection_hides_one_side_face(dice):
    scenes = open_dataset(dice, "dice", "test")
    picks = select_scenes(scenes, range(len(scenes)), max_context=3)
    assert len(picks) >= 12
    for pick in picks:
        labels = scenes.labels(pick.scene)
        visible = labels["visible_faces"]
        up = (quat_to_matrix(labels["cube_orientation"]) @ FACE_NORMALS[pick.face])[2]
        assert abs(up) < 1e-3                                         # a side face, not top or bottom
        ctx, tgt = list(pick.context), list(pick.targets)
        assert 1 <= len(ctx) <= 3 and len(tgt) == TARGET_VIEWS and not set(ctx) & set(tgt)
        assert np.all(visible[ctx, pick.face] == 0)                   # no context pixel of the hidden face
        assert (visible[ctx] > 0).any(axis=0).sum() <= MAX_CONTEXT_FACES
        assert np.all(visible[tgt, pick.face] >= SHOWN_FRACTION)      # every target shows it
        frames = scenes.frames(pick.scene)
        assert len({frames[v].tobytes() for v in tgt}) == TARGET_VIEWS


# --------------------------------------------------------------------------- the command

def jumpdata(capsys, *argv):
    """Run `jumpdata ARGV` in this process; returns (exit status, stdout, stderr)."""
    capsys.readouterr()
    with patch.object(sys, "argv", ["jumpdata", *map(str, argv)]), pytest.raises(SystemExit) as stop:
        cli_run()
    out = capsys.readouterr()
    return stop.value.code, out.out, out.err


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


def digit_agreement_of(scenes, models, samples):
    """The digit-agreement JSON and pictures of hand-built models (name -> model) read by a perfect probe."""
    cfg = ProbeConfig(kind=names.DIGIT_PROBE, dataset="dice", generator="dice", data_dir="", manifest="",
                      image_size=16, test_accuracy=1.0)
    runs = [LoadedRun(name, None, model, 0) for name, model in models.items()]
    settings = EvalSettings(metrics=[names.DIGIT_AGREEMENT], samples=samples, probe="perfect")
    results, pictures = measure(runs, scenes, settings, (cfg, PerfectDigitProbe(scenes)))
    return results[0], pictures


def test_digit_agreement_of_hand_built_models_gives_the_values_its_definitions_imply(dice):
    scenes = open_dataset(dice, "dice", "test")
    result, pictures = digit_agreement_of(scenes, {"oracle": Oracle(scenes), "blank": Blank(scenes, kind="gqn"),
                                                   "per view": PerViewCoin(scenes), "per set": SetCoin(scenes)}, 40)
    oracle, blank, per_view, per_set, truth, _ = result[names.RUNS]
    zero = lambda e, name: e[name] == pytest.approx(0, abs=1e-12)
    # the truth, read perfectly: every figure at its ceiling, the same for a model that samples it
    for e in (truth, oracle):
        assert (e["agreement"], e["accuracy"], e["seen_accuracy"]) == (1.0, 1.0, 1.0) and e["seen_accuracy_n"] > 0
    assert (oracle["cross_agreement"], oracle["diversity"]) == (1.0, 0.0) and zero(oracle, "consistency_gain")
    # a constant image: always read as one class, across sets too: consistent-looking, no gain, no diversity
    assert (blank["agreement"], blank["cross_agreement"], blank["diversity"]) == (1.0, 1.0, 0.0)
    assert zero(blank, "consistency_gain") and blank["accuracy"] < 0.5
    # views of 40 sets as the truth (digit d) or black (read 0) with even odds: the readings of a scene agree
    # when all coins do (2 x 1/8), or always when d = 0 (a share q of the scenes)
    picks = readable_picks(scenes, select_scenes(scenes, range(len(scenes)), 3), 0.05)
    q = np.mean([scenes.labels(p.scene)[names.DIGIT_LABEL][p.face] == 0 for p in picks])
    by_chance = q + (1 - q) / 4
    # each view on its own: agreement = cross_agreement, no gain
    assert per_view["agreement"] == pytest.approx(by_chance, abs=0.05)
    assert per_view["cross_agreement"] == pytest.approx(by_chance, abs=0.05)
    assert abs(per_view["consistency_gain"]) < 0.05 and per_view["accuracy"] == pytest.approx(q + (1 - q) / 2, abs=0.08)
    # each set at once: its views agree always, views of different sets as the per-view model's
    assert per_set["agreement"] == 1.0 and per_set["cross_agreement"] == pytest.approx(by_chance, abs=0.05)
    assert per_set["consistency_gain"] == pytest.approx(1 - by_chance, abs=0.05)
    for e in (per_view, per_set):    # two digits read per view, (2 - 1) / (10 - 1), where d is not 0
        assert e["diversity"] == pytest.approx((1 - q) / 9, abs=1e-9)
        assert e["seen_accuracy"] == pytest.approx(0.5, abs=0.15)
    digits = [scenes.labels(s["scene"])[names.DIGIT_LABEL][s["face"]] for s in pictures["digits"]]
    shown = [s["samples"]["jump oracle"] for s in pictures["digits"]]
    assert all(read.tolist() == [[d] * TARGET_VIEWS] * 4 for d, (_, read) in zip(digits, shown))


def test_several_runs_of_a_model_are_summarised_over_seeds_and_models_compared_scene_by_scene(dice):
    scenes = open_dataset(dice, "dice", "test")
    models = {f"set-s{k}": SetCoin(scenes, seed=k) for k in range(3)}
    models.update({f"view-s{k}": PerViewCoin(scenes, kind="factored", seed=k) for k in range(2)})
    result, _ = digit_agreement_of(scenes, models, 6)
    runs = {e[names.RUN]: e for e in result[names.RUNS]}
    sets, views = result[names.MODELS]
    assert (sets[names.MODEL], sets[names.RUNS], views[names.MODEL]) == ("jump", ["set-s0", "set-s1", "set-s2"],
                                                                         "factored")
    values = [runs[f"set-s{k}"]["cross_agreement"] for k in range(3)]
    assert len(set(values)) > 1                                     # the seeds drew differently
    assert sets["cross_agreement"] == pytest.approx(np.mean(values)) and sets["cross_agreement_n"] == 3
    half = 4.302653 * np.std(values, ddof=1) / np.sqrt(3)          # Student t, 2 degrees of freedom
    assert sets["cross_agreement_ci95"] == pytest.approx([np.mean(values) - half, np.mean(values) + half])
    (difference,) = result[names.DIFFERENCES]
    assert difference[names.MODELS] == ["jump", "factored"]
    for name in ("agreement", "consistency_gain", "accuracy"):
        assert difference[name] == pytest.approx(sets[name] - views[name])
        lo, hi = difference[name + names.CI95]
        assert lo <= difference[name] <= hi and difference[name + names.COUNT] == result[names.SCENES]
    assert difference["consistency_gain"] > 0.3                     # consistent beats factored, scene by scene


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
