"""How training draws its view counts: 1..K context and 1..T target views per scene, each batch a permutation of
a fixed multiset of them (so every batch has the same totals), and runs made before that drawing per scene."""

import json

import numpy as np
import pytest

from jump_model.training import train
from model_scenes import fast_config as config, logged_losses as losses, make_square_dataset
from model_scenes import resumed_config as resumed


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("squares")
    make_square_dataset(folder, kind="time")
    return folder


def test_training_draws_1_to_targets_target_views_per_scene(data, tmp_path, monkeypatch):
    from jump_model.data import SceneViews
    from jump_model.nets import JUMP
    from scene_shards import open_dataset
    scenes = open_dataset(data, None, "train")
    examples = [SceneViews(scenes, 2, 3, seed=0, shuffle=True)[g] for g in range(40)]
    counts = [int(e["target_mask"].sum()) for e in examples]
    assert set(counts) == {1, 2, 3}
    for e, t in zip(examples, counts):
        assert e["target_mask"].tolist() == [True] * t + [False] * (3 - t)      # the real ones first
        assert not e["target_frames"][t:].any() and not e["target_viewpoints"][t:].any()
        real = set(e["target_viewpoints"][:t, 0]) | set(e["context_viewpoints"][e["context_mask"], 0])
        assert len(real) == t + e["context_mask"].sum()                        # disjoint views
    windows = [SceneViews(scenes, 2, 3, seed=0, shuffle=True, sequential=True)[g] for g in range(20)]
    for w in windows:                                                           # consecutive frames (ar)
        times = np.concatenate([w["context_viewpoints"][w["context_mask"], 0],
                                w["target_viewpoints"][w["target_mask"], 0]])
        assert (np.diff(times) == 1).all()
    seen, forward = [], JUMP.forward

    def recording(self, batch, variance):
        if self.training:
            seen.append([(batch[f"{part}_mask"].sum(1).tolist(), batch[f"{part}_count"])
                         for part in ("context", "target")])
        return forward(self, batch, variance)

    monkeypatch.setattr(JUMP, "forward", recording)
    train(config(data, 4, eval_every=100, sample_every=100), tmp_path / "run")
    assert len(seen) == 4 and {t for _, (counts, _) in seen for t in counts} == {1, 2, 3}   # tiny: --targets 3
    for batch in seen:   # batch 4, --context 3, --targets 3: each a permutation of 1, 2, 3 and the middle value 2
        assert [sorted(counts) for counts, _ in batch] == [[1, 2, 2, 3]] * 2
        assert [total for _, total in batch] == [8, 8]


def test_each_training_batch_permutes_a_fixed_multiset_of_view_counts(data):
    from jump_model.data import SceneViews, count_multiset
    from scene_shards import open_dataset
    assert count_multiset(6, 3).tolist() == [1, 1, 2, 2, 3, 3]                 # 3 divides 6: uniform on 1..3
    assert count_multiset(16, 3).tolist() == [1] * 5 + [2] * 6 + [3] * 5       # the one left over: the middle
    assert count_multiset(2, 4).tolist() == [2, 3]                             # centres of two halves of 1..4
    scenes = open_dataset(data, None, "train")
    views = SceneViews(scenes, 2, 3, seed=0, shuffle=True, batch=6)
    counts = lambda views, part, batches=range(12): [[int(views[6 * b + j][f"{part}_mask"].sum()) for j in range(6)]
                                                     for b in batches]
    targets, contexts = counts(views, "target"), counts(views, "context")
    assert all(sorted(c) == [1, 1, 2, 2, 3, 3] for c in targets) and all(sorted(c) == [1] * 3 + [2] * 3
                                                                          for c in contexts)
    assert views.batch_totals == {"context_count": 9, "target_count": 12}
    assert len({tuple(c) for c in targets}) > 1 and targets != contexts       # fresh permutations per batch
    again = SceneViews(scenes, 2, 3, seed=0, shuffle=True, batch=6)             # a pure function of (seed, g):
    assert [int(again[g]["target_mask"].sum()) for g in (71, 40, 3)] == [targets[11][5], targets[6][4], targets[0][3]]
    assert counts(SceneViews(scenes, 2, 3, seed=1, shuffle=True, batch=6), "target") != targets
    assert SceneViews(scenes, 2, 3, seed=0, shuffle=True).batch_totals == {}   # drawn per scene: no fixed totals
    windows = SceneViews(scenes, 2, 3, seed=0, shuffle=True, sequential=True, batch=6)   # ar: every target real
    assert windows.batch_totals == {"context_count": 9, "target_count": 18}
    assert counts(windows, "target", [0]) == [[3] * 6]
    assert sorted(counts(windows, "context", [0])[0]) == [1] * 3 + [2] * 3


def test_a_run_made_before_view_counts_resumes_drawing_each_scenes_counts(data, tmp_path):
    train(config(data, 8, view_counts="scene"), tmp_path / "whole")
    train(config(data, 5, view_counts="scene", checkpoint_every=5), tmp_path / "half")
    stored = json.loads((tmp_path / "half" / "config.json").read_text())
    del stored["view_counts"]                            # config.json as a jumpdata before the key wrote it
    (tmp_path / "half" / "config.json").write_text(json.dumps(stored))
    cfg = resumed(data, tmp_path / "half", steps=8)
    assert cfg.view_counts == "scene"
    train(cfg, tmp_path / "half", resume=True)
    assert losses(tmp_path / "half") == pytest.approx(losses(tmp_path / "whole"), rel=1e-6, abs=1e-6)
    assert json.loads((tmp_path / "half" / "config.json").read_text())["view_counts"] == "scene"
    assert json.loads((tmp_path / "whole" / "config.json").read_text())["view_counts"] == "scene"
    assert config(data, 1).view_counts == "batch"          # a new run draws them per batch
