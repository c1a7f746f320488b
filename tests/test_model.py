"""The JUMP model: shapes for both viewpoint kinds, KL >= 0, overfitting one batch, one z per sample."""

import pytest
import torch

from jump_model.config import preset_config
from jump_model.model import JUMP, encode_viewpoints
from jump_model.schedules import parse_schedule, pixel_variance
from shards.errors import UserError

B, K, T, SIZE = 3, 3, 2, 16


def tiny_config(kind):
    return preset_config("tiny", image_size=SIZE, views_per_scene=6, viewpoint_kind=kind,
                         viewpoint_dim=1 if kind == "time" else 7)


def random_batch(kind, seed=0):
    g = torch.Generator().manual_seed(seed)
    d = 1 if kind == "time" else 5
    mask = torch.tensor([[True, False, False], [True, True, False], [True, True, True]])
    return {"context_frames": torch.randint(0, 256, (B, K, SIZE, SIZE, 3), generator=g, dtype=torch.uint8),
            "context_viewpoints": torch.rand(B, K, d, generator=g) * 5,
            "context_mask": mask,
            "target_frames": torch.randint(0, 256, (B, T, SIZE, SIZE, 3), generator=g, dtype=torch.uint8),
            "target_viewpoints": torch.rand(B, T, d, generator=g) * 5}


@pytest.mark.parametrize("kind", ["time", "camera"])
def test_losses_and_samples_have_the_documented_shapes(kind):
    torch.manual_seed(0)
    model = JUMP(tiny_config(kind))
    batch = random_batch(kind)
    out = model(batch, 0.5)
    assert set(out) == {"loss", "kl", "nll", "mse"} and all(v.shape == () for v in out.values())
    assert torch.isclose(out["loss"], out["kl"] + out["nll"])
    frames = model.sample(batch["context_frames"], batch["context_viewpoints"], batch["target_viewpoints"][:, :1],
                          batch["context_mask"])
    assert frames.shape == (B, 1, 3, SIZE, SIZE) and 0 <= frames.min() and frames.max() <= 1


def test_viewpoint_encodings():
    cfg = tiny_config("time")
    assert torch.allclose(encode_viewpoints(torch.tensor([[0.0], [5.0]]), cfg), torch.tensor([[0.0], [1.0]]))
    cam = tiny_config("camera")
    cam.position_scale = 2.0
    v = encode_viewpoints(torch.tensor([[2.0, 0.0, 1.0, 0.0, torch.pi / 2]]), cam)
    assert torch.allclose(v, torch.tensor([[1.0, 0.0, 0.5, 1.0, 0.0, 0.0, 1.0]]), atol=1e-6)


def test_padded_context_views_are_ignored():
    torch.manual_seed(0)
    model = JUMP(tiny_config("time"))
    batch = random_batch("time")
    r1 = model.represent(batch["context_frames"], batch["context_viewpoints"], batch["context_mask"])
    batch["context_frames"][0, 1:] = 255       # garbage in the padded slots of scene 0
    r2 = model.represent(batch["context_frames"], batch["context_viewpoints"], batch["context_mask"])
    assert torch.equal(r1, r2)


def test_kl_is_non_negative():
    torch.manual_seed(1)
    model = JUMP(tiny_config("time"))
    for seed in range(3):
        r = model.represent(*(random_batch("time", seed)[k] for k in ("context_frames", "context_viewpoints",
                                                                      "context_mask")))
        _, kl = model.infer_latents(r, torch.randn_like(r))
        assert (kl >= 0).all()


def test_overfits_one_batch():
    torch.manual_seed(0)
    model = JUMP(tiny_config("time"))
    batch = random_batch("time")
    batch["target_frames"] = batch["target_frames"] // 64 * 64   # a learnable, fixed picture
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(300):
        loss = model(batch, 0.1)
        opt.zero_grad()
        loss["loss"].backward()
        opt.step()
        first = first if first is not None else loss["mse"].item()
    assert loss["mse"].item() < 0.4 * first


def test_same_z_renders_the_same_image_and_samples_differ():
    torch.manual_seed(0)
    model = JUMP(tiny_config("time"))
    batch = random_batch("time")
    z = model.prior_latents(model.represent(batch["context_frames"], batch["context_viewpoints"],
                                            batch["context_mask"]))
    q = batch["target_viewpoints"]
    twice = torch.cat([q[:, :1], q[:, 1:], q[:, :1]], dim=1)   # query 0 asked twice in one call
    frames = model.render(z, twice)
    assert torch.equal(frames[:, 0], frames[:, 2])
    assert torch.equal(model.render(z, q[:, :1])[:, 0], frames[:, 0])
    other = model.prior_latents(model.represent(batch["context_frames"], batch["context_viewpoints"],
                                                batch["context_mask"]))
    assert not torch.equal(z, other)


def test_schedules():
    salesman = parse_schedule("2.0:0.5@100000")
    assert pixel_variance(salesman, 0) == 2.0 and pixel_variance(salesman, 50_000) == pytest.approx(1.25)
    assert pixel_variance(salesman, 100_000) == 0.5 and pixel_variance(salesman, 10**6) == 0.5
    dice = parse_schedule("2.0@100000,0.2@50000,0.4@50000,0.9")
    assert [pixel_variance(dice, s) for s in (0, 99_999, 100_000, 150_000, 200_000, 10**6)] == \
        [2.0, 2.0, 0.2, 0.4, 0.9, 0.9]
    for bad in ("", "a", "2.0@x", "2.0,0.5@10", "-1", "1@0"):
        with pytest.raises(UserError):
            parse_schedule(bad)


def test_presets_follow_appendix_b():
    s, d = preset_config("salesman"), preset_config("dice")
    assert (s.nt, s.nf_to_hidden, s.nf_enc, s.nf_to_obs, s.nf_dec, s.ni_z) == (4, 64, 128, 128, 64, 3)
    assert (d.nt, d.nf_to_hidden, d.nf_dec) == (6, 128, 128)
    with pytest.raises(UserError):
        preset_config("huge")
