"""The baselines (gqn, factored, badj, ar) beside JUMP: each learns, shapes and precision, the factored KL, sampling
rules, the ar model's refusal of camera data, and run folders of every kind (train, checkpoint, load, sample). What
makes gqn Eslami et al.'s and ar the fair video baseline is in test_baseline_designs.py."""

import json

import pytest
import torch

from jump_model.config import MODEL_KINDS, new_run_config
from jump_model.nets import MODEL_CLASSES, make_model
from jump_model.run_folder import load_checkpoint, load_run, plan_run
from jump_model.training import train
from model_scenes import facts, make_square_dataset, model_config
from scene_shards.common import UserError
from model_scenes import FAST
from test_model_training import jumpdata, one_line_error

B, K, T, SIZE = 3, 3, 2, 8
SMALL = dict(nt=2, nf_to_hidden=16, nf_enc=16, nf_to_obs=16, nf_dec=16)   # the tiny preset, narrower


pytestmark = pytest.mark.usefixtures("one_thread")   # conftest.py


def small_model(kind, viewpoint_kind="time"):
    torch.manual_seed(0)
    return make_model(model_config(viewpoint_kind, model=kind, size=SIZE, **SMALL,
                                   **({"targets": 1} if kind == "badj" else {})))


def scene_batch(viewpoint_kind="time"):
    """Scenes of one colour with an inverted quadrant; views at times (or camera x) 0..K+T-1, context first;
    scene 0 has one context and one target view, scene 1 two and two, scene 2 three and two."""
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (B, 1, 1, 1, 3), generator=g, dtype=torch.uint8).expand(B, K + T, SIZE, SIZE, 3)
    frames = frames.clone()
    frames[:, :, :SIZE // 2, :SIZE // 2] = 255 - frames[:, :, :SIZE // 2, :SIZE // 2]
    t = torch.arange(K + T, dtype=torch.float32)[None, :, None].expand(B, K + T, 1)
    v = t if viewpoint_kind == "time" else torch.cat([t, torch.zeros(B, K + T, 4)], dim=-1)
    return {"context_frames": frames[:, :K], "context_viewpoints": v[:, :K].clone(),
            "context_mask": torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]]).bool(),
            "target_frames": frames[:, K:].clone(), "target_viewpoints": v[:, K:].clone(),
            "target_mask": torch.tensor([[1, 0], [1, 1], [1, 1]]).bool()}


def test_every_kind_has_a_class():
    assert tuple(MODEL_CLASSES) == MODEL_KINDS == ("jump", "gqn", "factored", "badj", "ar")


def test_every_kind_implements_the_model_interface_and_is_no_jump_subclass():
    from jump_model.nets import JUMP, SceneModel
    for kind, cls in MODEL_CLASSES.items():
        assert issubclass(cls, SceneModel) and not cls.__abstractmethods__
        assert kind == "jump" or not issubclass(cls, JUMP)   # baselines are built from blocks, not from JUMP


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_each_model_overfits_a_tiny_batch(kind):
    model, batch = small_model(kind), scene_batch()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    mse = []
    for _ in range(300):
        out = model(batch, 0.1)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        mse.append(out["mse"].item())
    assert mse[-1] < 0.2 * mse[0], (mse[0], mse[-1])


@pytest.mark.parametrize("kind, viewpoint_kind", [(k, v) for k in MODEL_KINDS for v in ("time", "camera")
                                                  if not (k == "ar" and v == "camera")])
def test_losses_kl_and_samples_have_the_documented_shapes_and_precision(kind, viewpoint_kind):
    model, batch = small_model(kind, viewpoint_kind), scene_batch(viewpoint_kind)
    out = model(batch, 0.5)
    assert set(out) == {"loss", "kl", "nll", "mse"} and all(v.shape == () for v in out.values())
    assert torch.isclose(out["loss"], out["kl"] + out["nll"]) and out["kl"] >= 0
    with torch.autocast("cpu", dtype=torch.bfloat16):   # per-scene figures stay float32 under any autocast
        scenes = model.scene_losses(batch, 0.5)
        kl = None if kind == "ar" else model.kl(batch)
    assert set(scenes) == {"nelbo", "kl", "nll", "mse"}
    assert all(v.shape == (B,) and v.dtype == torch.float32 for v in scenes.values())
    assert torch.allclose(scenes["nelbo"], scenes["kl"] + scenes["nll"])
    garbage = dict(batch, target_frames=batch["target_frames"].clone())
    garbage["target_frames"][0, 1] = 255                # scene 0's padded target slot: ignored
    torch.manual_seed(3)
    before = model.scene_losses(batch, 0.5)
    torch.manual_seed(3)
    after = model.scene_losses(garbage, 0.5)
    assert all(torch.equal(before[k], after[k]) for k in before)
    if kind == "ar":
        with pytest.raises(UserError, match="no latent of the whole scene"):
            model.kl(batch)
    else:
        assert kl.shape == (B,) and kl.dtype == torch.float32 and (kl >= 0).all()
    query = batch["target_viewpoints"]
    frames = model.sample(batch["context_frames"], batch["context_viewpoints"], query, batch["context_mask"])
    assert frames.shape == (B, T, 3, SIZE, SIZE) and frames.dtype == torch.float32
    assert 0 <= frames.min() and frames.max() <= 1


@pytest.mark.parametrize("kind", ["factored", "gqn"])
def test_a_per_query_models_kl_with_three_identical_targets_is_three_times_its_kl_with_one(kind):
    model, batch = small_model(kind), scene_batch()
    three = dict(batch, target_frames=batch["context_frames"][:, :1].expand(B, 3, SIZE, SIZE, 3),
                 target_viewpoints=batch["context_viewpoints"][:, :1].expand(B, 3, 1) + 4,
                 target_mask=torch.ones(B, 3, dtype=torch.bool))
    one = dict(three, target_mask=torch.tensor([[True, False, False]] * B))
    kl1, kl3 = model.kl(one, noise=False), model.kl(three, noise=False)
    assert (kl1 > 0).all()
    assert torch.allclose(kl3, 3 * kl1, rtol=1e-5)
    torch.manual_seed(1)
    assert not torch.equal(model.kl(one), model.kl(one))   # with noise: one posterior sample's estimate


def test_gqn_factored_and_badj_sample_each_query_its_own_latent_jump_one_per_scene():
    batch = scene_batch()
    twice = batch["target_viewpoints"][:, :1].expand(B, 2, 1)   # the same query asked twice in one call
    args = (batch["context_frames"], batch["context_viewpoints"], twice, batch["context_mask"])
    for kind in ("gqn", "factored", "badj"):
        frames = small_model(kind).sample(*args)
        assert not torch.equal(frames[:, 0], frames[:, 1]), kind
    frames = small_model("jump").sample(*args)
    assert torch.equal(frames[:, 0], frames[:, 1])


def test_ar_rolls_frames_out_from_the_context_up_to_the_last_query():
    model, batch = small_model("ar"), scene_batch()
    context = (batch["context_frames"], batch["context_viewpoints"])
    query = torch.tensor([[4.0], [6.0]])[None].expand(B, 2, 1)
    torch.manual_seed(5)
    both = model.sample(*context, query)
    torch.manual_seed(5)
    last = model.sample(*context, query[:, 1:])
    assert torch.equal(both[:, 1], last[:, 0])   # frame 6 needs the same roll-out through frames 3, 4, 5
    shuffled = [c[:, [2, 0, 1]] for c in context]  # the context is read in time order whatever its order
    torch.manual_seed(5)
    assert torch.equal(model.sample(*shuffled, query[:, 1:]), last)
    with pytest.raises(UserError, match="forward only"):
        model.sample(*context, torch.ones(B, 1, 1))


def test_ar_refuses_camera_data_and_badj_trains_on_one_target(tmp_path, capsys):
    with pytest.raises(UserError, match="needs time viewpoints"):
        new_run_config(facts("camera"), "tiny", model="ar")
    make_square_dataset(tmp_path / "cams", kind="camera", n=4, test_n=2)
    one_line_error(*jumpdata(capsys, "train", tmp_path / "cams", "--model", "ar", "--out", tmp_path / "run"),
                   "--model ar predicts a video frame after frame and needs time viewpoints")
    assert not (tmp_path / "run").exists()
    assert new_run_config(facts(), "tiny", model="badj").targets == 1
    with pytest.raises(UserError, match="--targets must be 1"):
        new_run_config(facts(), "tiny", model="badj", targets=3)
    assert new_run_config(facts(), "tiny", model="ar").targets == 6 - 3   # every frame after the preset's context


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    folder = tmp_path_factory.mktemp("squares")
    make_square_dataset(folder, kind="time")
    return folder


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_run_folders_of_every_kind_round_trip_and_sample(kind, squares, tmp_path, capsys):
    run = tmp_path / "run"
    train(plan_run(squares, preset="tiny", model=kind, steps=2, **FAST), run)
    stored = json.loads((run / "config.json").read_text())
    assert stored["model"]["kind"] == kind
    cfg, model, step = load_run(run)
    assert step == 2 and type(model) is MODEL_CLASSES[kind] and model.cfg == cfg.model and cfg.model.kind == kind
    weights = load_checkpoint(run)["model"]
    assert weights.keys() == model.state_dict().keys()
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    code, err = jumpdata(capsys, "sample", run, "--samples", 2, "--out", tmp_path / "s.png")
    assert code == 0 and (tmp_path / "s.png").is_file(), err
    if kind == "ar":
        one_line_error(*jumpdata(capsys, "sample", run, "--context", "3,4", "--query", "1", "--out",
                                 tmp_path / "b.png"), "forward only")
