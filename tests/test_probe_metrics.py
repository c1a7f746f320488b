"""The probe metrics of `jumpdata eval` (digit-agreement, story): known answers on hand-built readings, the
readable-view and seen-view selections, and a story probe whose reading of a model that samples the truth equals
its reading of the truth, while black frames score 0 on every part and a model that samples each frame
independently loses the story."""

import numpy as np
import pytest
from PIL import Image

from hand_built_models import Blank, Oracle, PerfectShapeProbe, PerViewCoin
from jump_model import names
from jump_model.eval.digit_agreement import random_floor, readable_picks, seen_view, set_figures
from jump_model.eval.hidden_face import HiddenFace
from jump_model.eval.plots import save_story_picture
from jump_model.eval.report import EvalSettings, LoadedRun, measure
from jump_model.eval.story import sampled_story, true_story
from jump_model.probes.nets import ProbeConfig, load_probe
from jump_model.probes.story_checks import GRADES
from jump_model.probes.training import train_probe
from narratives import make_spec
from scene_shards import generate_dataset, open_dataset

STORY_PARTS = {"salesman": ("resting_kept", "actor_present", "arrivals", "visited"),
               "color_reaction": ("resting_kept", "actor_present", "reached", "changed_once")}


def test_set_figures_of_hand_built_readings():
    read = np.array([[[3, 3, 3], [5, 5, 5], [7, 7, 7]],     # consistent and diverse: each set one digit, all differ
                     [[1, 1, 1], [1, 1, 1], [1, 1, 1]],     # a blur: always the same digit
                     [[1, 2, 1], [2, 1, 2], [1, 1, 2]]])    # no set agrees, nor any triple across sets
    f = set_figures(read)
    np.testing.assert_allclose(f["agreement"], [1, 1, 0])
    np.testing.assert_allclose(f["cross_agreement"], [0, 1, 0])
    np.testing.assert_allclose(f["consistency_gain"], [1, 0, 0])
    np.testing.assert_allclose(f["diversity"], [1, 0, 0.5])   # (distinct - 1) / (min(sets, 10) - 1) per view


def test_the_random_floor_is_what_random_classes_give():
    floor = random_floor(sets=10)
    assert (floor["agreement"], floor["cross_agreement"], floor["accuracy"]) == pytest.approx((0.01, 0.01, 0.1))
    rng = np.random.default_rng(0)
    simulated = set_figures(rng.integers(10, size=(4000, 10, 3)))
    for name in ("agreement", "cross_agreement", "consistency_gain", "diversity"):
        assert simulated[name].mean() == pytest.approx(floor[name], abs=0.004), name


def test_the_seen_view_shows_a_face_the_context_shows_and_not_the_hidden_one():
    face = np.zeros((5, 6))
    face[0, [0, 2]] = [0.20, 0.10]    # context: +x large, +y small
    face[1, 1] = 0.30                 # the hidden face -x
    face[2, 0] = 0.15                 # +x, the largest face: seen in the context
    face[3, 2] = 0.25                 # +y the largest, but the context shows it at 10% only ... still >= 5%
    face[4, 3] = 0.40                 # -y: never in the context
    labels = {names.FACE_LABEL: face, names.ORIENTATION_LABEL: np.array([0, 0, 0, 1.0])}
    pick = HiddenFace(0, 1, (0,), (1,))
    assert seen_view(labels, pick, 0.05) == (3, 2)
    assert seen_view(labels, pick, 0.12) == (2, 0)    # +y is not shown large enough in the context now
    assert seen_view(labels, HiddenFace(0, 1, (4,), (1,)), 0.05) is None


class FakeScenes:
    """Labels only: scene i has the visible_faces rows given."""

    def __init__(self, visible):
        self.visible = visible

    def labels(self, i):
        return {names.FACE_LABEL: np.asarray(self.visible[i], np.float32)}


def test_a_scene_is_read_through_three_views_in_which_its_hidden_face_is_the_largest():
    face = np.zeros((4, 6))
    face[1:, 2] = [0.30, 0.20, 0.06]     # views 1-3 show face 2 ...
    face[3, 0] = 0.10                    # ... but view 3 shows face 0 larger
    small = face.copy()
    small[3, 0] = 0.0                    # now face 2 is the largest in view 3, and covers 6%
    tiny = small.copy()
    tiny[3, 2] = 0.04                    # the largest, but under the 5% a digit probe reads
    picks = [HiddenFace(s, 2, (0,), (3, 2, 1)) for s in range(3)]
    kept = readable_picks(FakeScenes([face, small, tiny]), picks, 0.05)
    assert [(p.scene, p.context, p.targets) for p in kept] == [(1, (0,), (1, 2, 3))]   # the most of the face first


@pytest.fixture(scope="module", params=["salesman", "color_reaction"])
def story_set(request, tmp_path_factory):
    """Test videos of one story at 32 px (salesman 21 frames, color_reaction 12) and a shape probe that reads
    their true frames perfectly."""
    story = request.param
    folder = tmp_path_factory.mktemp(story)
    generate_dataset(make_spec(story, size=32), folder, n=2, test_n=24, workers=1)
    scenes = open_dataset(folder, story, "test")
    cfg = ProbeConfig(kind=names.SHAPE_PROBE, dataset=story, generator="narratives", data_dir=str(folder),
                      manifest="", image_size=32, test_accuracy=1.0)
    return story, scenes, (cfg, PerfectShapeProbe(scenes))


def test_sampling_the_truth_scores_the_probes_ceiling_and_black_frames_score_nothing(story_set):
    story, scenes, (_, probe) = story_set
    indices = list(range(len(scenes)))
    truth, _ = true_story(probe, scenes, indices, story, 5)
    assert set(truth) == {"coherent", *STORY_PARTS[story]}
    assert truth["coherent"].mean() >= 0.8          # read perfectly, most true videos are the story (docs/probes.md)
    for part in STORY_PARTS[story]:                 # every graded part about 1 on the truth ...
        assert truth[part].mean() >= 0.9 and truth[part].max() <= 1, part
    oracle, _ = sampled_story(Oracle(scenes), probe, scenes, indices, 5, 2, story)
    blank, _ = sampled_story(Blank(scenes), probe, scenes, indices, 5, 2, story)
    for name in truth:
        np.testing.assert_array_equal(oracle[name], truth[name])
        assert not blank[name].any(), name           # ... and 0 on black frames
    coin, _ = sampled_story(PerViewCoin(scenes), probe, scenes, indices, 5, 4, story)
    assert coin["actor_present"].mean() == pytest.approx(0.5 * truth["actor_present"].mean(), abs=0.08)
    assert coin["coherent"].mean() < 0.1            # a story needs every frame


def test_a_graded_part_counts_what_is_right():
    # salesman, 21 frames: arrivals at 5, 10, 15, 20; the actor beside shapes 2, 2, 3, nobody there
    reading = {"next_to": np.full(21, -1), "actor": np.zeros((21, 2)), "present": np.ones((21, 5), bool),
               "colour": np.zeros((21, 5), int), "covered": np.zeros((21, 5), bool)}
    reading["next_to"][[5, 10, 15]] = [2, 2, 3]
    reading["actor"][12:] = np.nan                       # lost from frame 12 on
    reading["colour"][5:, 4] = 7                         # shape 4 turns colour 7 from frame 5 on
    first = {"kinds": np.zeros(5, int), "colors": np.zeros((1, 5), int)}
    grades = GRADES["salesman"](reading, first, 5)
    assert grades["arrivals"] == 0.5                     # 2 then 3 are new, the second 2 and nobody are not
    assert grades["visited"] == 0.5                      # shapes 2 and 3 of the four
    assert grades["actor_present"] == pytest.approx(7 / 16)   # frames 5..11 of 5..20
    assert grades["resting_kept"] == pytest.approx(3 / 4)     # shape 4 is in the wrong colour in every frame


def test_story_report_has_a_row_per_model_then_the_truth(story_set, tmp_path):
    story, scenes, probe = story_set
    runs = [LoadedRun("oracle", None, Oracle(scenes), 0), LoadedRun("blank", None, Blank(scenes, kind="gqn"), 0)]
    results, pictures = measure(runs, scenes, EvalSettings(metrics=[names.STORY], samples=2, probe="probe"), probe)
    result = results[0]
    assert (result[names.METRIC], result[names.STORY_NAME], result[names.SAMPLES]) == (names.STORY, story, 2)
    assert result[names.SCENES] == len(scenes) and result[names.CONTEXT_FRAMES] == 5
    assert result[names.PROBE_ACCURACY] == 1.0
    oracle, blank, truth = result[names.RUNS]
    assert [e[names.MODEL] for e in (oracle, blank, truth)] == ["jump", "gqn", names.TRUTH]
    for name in ("coherent",) + STORY_PARTS[story]:
        assert oracle[name] == truth[name] >= 0.8 and blank[name] == 0
        lo, hi = truth[name + names.CI95]
        assert lo <= truth[name] <= hi and truth[name + names.COUNT] == len(scenes)
    shown = pictures["story"][0]
    assert shown["truth"].shape[1:] == (32, 32, 3) and set(shown["samples"]) == {"jump oracle", "gqn blank"}
    save_story_picture(pictures["story"], tmp_path / "story.png")
    assert Image.open(tmp_path / "story.png").size[1] > 2 * 3 * 32 * 3      # two videos, three rows of 3x frames


@pytest.mark.slow
def test_a_trained_shape_probe_reads_most_true_videos_as_their_story(tmp_path):
    generate_dataset(make_spec("salesman", size=32, frames=21), tmp_path, n=300, test_n=24, workers=1)
    cfg = train_probe(tmp_path, "salesman", tmp_path / "probe", steps=2000, batch_size=32)
    assert cfg.test_accuracy > 0.85
    scenes, (_, probe) = open_dataset(tmp_path, "salesman", "test"), load_probe(tmp_path / "probe")
    indices = list(range(len(scenes)))
    truth, _ = true_story(probe, scenes, indices, "salesman", 5)
    assert truth["coherent"].mean() >= 0.4 and truth["actor_present"].mean() >= 0.9
    oracle = sampled_story(Oracle(scenes), probe, scenes, indices, 5, 2, "salesman")[0]
    for name, values in truth.items():
        np.testing.assert_array_equal(oracle[name], values)
    assert not any(v.any() for v in sampled_story(Blank(scenes), probe, scenes, indices, 5, 2, "salesman")[0].values())
