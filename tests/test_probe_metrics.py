"""The probe metrics of `jumpdata eval` (digit-agreement, story): known answers on hand-built readings, the
readable-view selection, and a story probe whose reading of a model that samples the truth equals its reading of
the truth, while black frames are never a story."""

import numpy as np
import pytest
from PIL import Image

from hand_built_models import Blank, Oracle, PerfectShapeProbe
from jump_model import names
from jump_model.eval.plots import save_story_picture
from jump_model.eval.report import EvalSettings, LoadedRun, measure
from jump_model.eval.hidden_face import HiddenFace
from jump_model.eval.probe_metrics import agreement_per_scene, random_floor, readable_picks, sampled_story, true_story
from jump_model.probes.nets import ProbeConfig, load_probe
from jump_model.probes.training import train_probe
from jump_model.probes.story_checks import CHECKS
from narratives import make_spec
from scene_shards import generate_dataset, open_dataset


def test_agreement_and_accuracy_of_hand_built_readings():
    read = np.array([[[3, 3, 3], [3, 5, 3]],      # scene 0: one set agrees; 5 of 6 views read its digit 3
                     [[1, 1, 1], [1, 1, 1]]])     # scene 1: both sets agree, on a wrong digit (the truth is 7)
    agreement, accuracy = agreement_per_scene(read, np.array([3, 7]))
    np.testing.assert_allclose(agreement, [0.5, 1.0])
    np.testing.assert_allclose(accuracy, [5 / 6, 0.0])


def test_the_random_floor_is_what_random_classes_give():
    agreement, accuracy = random_floor(3)
    assert (agreement, accuracy) == pytest.approx((0.01, 0.1))
    rng = np.random.default_rng(0)
    read = rng.integers(10, size=(2000, 50, 3))
    simulated = agreement_per_scene(read, rng.integers(10, size=2000))
    assert simulated[0].mean() == pytest.approx(agreement, abs=0.002)
    assert simulated[1].mean() == pytest.approx(accuracy, abs=0.002)


class FakeScenes:
    """Labels only: scene i has the visible_faces rows given."""

    def __init__(self, visible):
        self.visible = visible

    def labels(self, i):
        return {names.FACE_LABEL: np.asarray(self.visible[i], np.float32)}


def test_a_scene_is_read_only_when_its_hidden_face_is_the_largest_in_every_target_view():
    face = np.zeros((4, 6))
    face[1:, 2] = [0.30, 0.20, 0.06]     # views 1-3 show face 2 ...
    face[3, 0] = 0.10                    # ... but view 3 shows face 0 larger
    small = face.copy()
    small[3, 0] = 0.0                    # now face 2 is the largest in view 3, and covers 6%
    tiny = small.copy()
    tiny[3, 2] = 0.04                    # the largest, but under the 5% a digit probe reads
    picks = [HiddenFace(s, 2, (0,), (1, 2, 3)) for s in range(3)]
    assert readable_picks(FakeScenes([face, small, tiny]), picks, 0.05) == [picks[1]]


@pytest.fixture(scope="module")
def salesman(tmp_path_factory):
    """Salesman test videos at 32 px (21 frames) and a shape probe that reads their true frames perfectly."""
    folder = tmp_path_factory.mktemp("salesman")
    generate_dataset(make_spec("salesman", size=32, frames=21), folder, n=2, test_n=24, workers=1)
    scenes = open_dataset(folder, "salesman", "test")
    cfg = ProbeConfig(kind=names.SHAPE_PROBE, dataset="salesman", generator="narratives", data_dir=str(folder),
                      manifest="", image_size=32, test_accuracy=1.0)
    return scenes, (cfg, PerfectShapeProbe(scenes))


def test_sampling_the_truth_scores_the_probes_ceiling_and_black_frames_score_nothing(salesman):
    scenes, (_, probe) = salesman
    indices, check = list(range(len(scenes))), CHECKS["salesman"]
    truth, _ = true_story(probe, scenes, indices, check)
    assert truth.mean() >= 0.9          # read perfectly, nearly every true video is the story
    oracle, _ = sampled_story(Oracle(scenes), probe, scenes, indices, 5, 2, check)
    np.testing.assert_array_equal(oracle, truth)
    blank, _ = sampled_story(Blank(scenes), probe, scenes, indices, 5, 2, check)
    assert not blank.any()


def test_story_report_has_a_row_per_model_then_the_truth(salesman, tmp_path):
    scenes, probe = salesman
    runs = [LoadedRun("oracle", None, Oracle(scenes), 0), LoadedRun("blank", None, Blank(scenes, kind="gqn"), 0)]
    results, pictures = measure(runs, scenes, EvalSettings(metrics=[names.STORY], samples=2, probe="probe"), probe)
    result = results[0]
    assert (result[names.METRIC], result[names.STORY_NAME], result[names.SAMPLES]) == (names.STORY, "salesman", 2)
    assert result[names.SCENES] == len(scenes) and result[names.CONTEXT_FRAMES] == 5
    assert result[names.PROBE_ACCURACY] == 1.0
    oracle, blank, truth = result[names.RUNS]
    assert [e[names.MODEL] for e in (oracle, blank, truth)] == ["jump", "gqn", names.TRUTH]
    assert oracle["coherent"] == truth["coherent"] >= 0.9 and blank["coherent"] == 0
    lo, hi = truth["coherent" + names.CI95]
    assert lo <= truth["coherent"] <= hi
    shown = pictures["story"][0]
    assert shown["truth"].shape == (21, 32, 32, 3) and set(shown["samples"]) == {"jump oracle", "gqn blank"}
    save_story_picture(pictures["story"], tmp_path / "story.png")
    assert Image.open(tmp_path / "story.png").size[1] > 2 * 3 * 32 * 3      # two videos, three rows of 3x frames


@pytest.mark.slow
def test_a_trained_shape_probe_reads_most_true_videos_as_their_story(tmp_path):
    generate_dataset(make_spec("salesman", size=32, frames=21), tmp_path, n=300, test_n=24, workers=1)
    cfg = train_probe(tmp_path, "salesman", tmp_path / "probe", steps=2000, batch_size=32)
    assert cfg.test_accuracy > 0.85
    scenes, (_, probe) = open_dataset(tmp_path, "salesman", "test"), load_probe(tmp_path / "probe")
    indices, check = list(range(len(scenes))), CHECKS["salesman"]
    truth, _ = true_story(probe, scenes, indices, check)
    assert truth.mean() >= 0.4
    np.testing.assert_array_equal(sampled_story(Oracle(scenes), probe, scenes, indices, 5, 2, check)[0], truth)
    assert not sampled_story(Blank(scenes), probe, scenes, indices, 5, 2, check)[0].any()
