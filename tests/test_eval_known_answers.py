"""`jumpdata eval`'s metrics on hand-built models whose answers the definitions imply (the truth, a constant picture,
independent views, a factored KL), and the dice hidden-face selection checked against the labels."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from dice3d.geometry import FACE_NORMALS, quat_to_matrix
from jump_model import names
from jump_model.config import ModelConfig, RunConfig
from jump_model.eval.report import EvalSettings, LoadedRun, measure
from jump_model.eval.hidden_face import (MAX_CONTEXT_FACES, SHOWN_FRACTION, TARGET_VIEWS, HiddenFace, select_hidden_face,
                                         select_scenes, walls_in_view)
from jump_model.eval.dice import kl_per_scene
from jump_model.eval.digit_agreement import readable_picks
from jump_model.eval.figures import bootstrap_ci95
from jump_model.eval.video import min_mse_per_scene
from jump_model.nets import make_model
from jump_model.probes.nets import ProbeConfig
from hand_built_models import Blank, Oracle, PerfectDigitProbe, PerViewCoin, SetCoin
from scene_shards import open_dataset

LEVEL = np.array([0, 0, 0, 1], np.float32)   # identity quaternion, the +z face on top


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
