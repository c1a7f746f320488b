"""The JUMP model: shapes for both viewpoint kinds, the KL, overfitting one batch, one z per sample, config checks."""

import dataclasses
import math

import pytest
import torch

from jump_model.config import RunConfig, default_preset, new_run_config
from jump_model.nets import JUMP
from jump_model.nets.blocks import encode_viewpoints
from jump_model.nets.draw import gaussian_kl
from jump_model.schedules import parse_schedule, pixel_variance
from model_scenes import facts, model_config
from scene_shards.common import UserError

B, K, T, SIZE = 3, 3, 2, 16


def tiny_config(kind):
    return model_config(kind)


def random_batch(kind, seed=0):
    g = torch.Generator().manual_seed(seed)
    d = 1 if kind == "time" else 5
    mask = torch.tensor([[True, False, False], [True, True, False], [True, True, True]])
    return {"context_frames": torch.randint(0, 256, (B, K, SIZE, SIZE, 3), generator=g, dtype=torch.uint8),
            "context_viewpoints": torch.rand(B, K, d, generator=g) * 5,
            "context_mask": mask,
            "target_frames": torch.randint(0, 256, (B, T, SIZE, SIZE, 3), generator=g, dtype=torch.uint8),
            "target_viewpoints": torch.rand(B, T, d, generator=g) * 5,
            "target_mask": torch.tensor([[True, False], [True, True], [True, True]])}


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
    cam = dataclasses.replace(tiny_config("camera"), position_scale=2.0)
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


def test_gaussian_kl_matches_torch_distributions_and_is_zero_for_equal_gaussians():
    g = torch.Generator().manual_seed(0)
    qm, pm = torch.randn(4, 3, 5, 5, generator=g), torch.randn(4, 3, 5, 5, generator=g)
    qs, ps = torch.rand(4, 3, 5, 5, generator=g) + 0.05, torch.rand(4, 3, 5, 5, generator=g) + 0.05
    Normal = torch.distributions.Normal
    expected = torch.distributions.kl_divergence(Normal(qm, qs), Normal(pm, ps))
    assert torch.allclose(gaussian_kl(qm, qs, pm, ps), expected, rtol=1e-5, atol=1e-6)
    assert (expected > 0).all()
    assert torch.allclose(gaussian_kl(qm, qs, qm, qs), torch.zeros_like(qm), atol=1e-6)


def test_kl_is_non_negative_and_zero_when_the_posterior_is_the_prior():
    torch.manual_seed(1)
    model = JUMP(tiny_config("time"))
    ctx = [random_batch("time", 0)[k] for k in ("context_frames", "context_viewpoints", "context_mask")]
    r = model.represent(*ctx)
    _, kl = model.latents(r, torch.randn_like(r))
    assert kl.shape == (B,) and (kl > 0).all()
    # a posterior with the prior's weights that ignores the targets: the same distributions at every step
    weights = dict(model.prior.state_dict())
    w = weights["to_hidden.weight"]
    weights["to_hidden.weight"] = torch.cat([w, torch.zeros_like(w)], dim=1)
    model.posterior.load_state_dict(weights)
    _, kl = model.latents(r, torch.randn_like(r))
    assert torch.allclose(kl, torch.zeros(B), atol=1e-4)


@pytest.mark.parametrize("reads_prior", [False, True])
def test_overfits_one_batch(reads_prior):
    torch.manual_seed(0)
    model = JUMP(model_config("time", posterior_reads_prior=reads_prior))
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
    z, kl = model.latents(model.represent(batch["context_frames"], batch["context_viewpoints"],
                                          batch["context_mask"]))
    assert kl is None
    q = batch["target_viewpoints"]
    twice = torch.cat([q[:, :1], q[:, 1:], q[:, :1]], dim=1)   # query 0 asked twice in one call
    frames = model.render(z, twice)
    assert torch.equal(frames[:, 0], frames[:, 2])
    assert torch.equal(model.render(z, q[:, :1])[:, 0], frames[:, 0])
    other, _ = model.latents(model.represent(batch["context_frames"], batch["context_viewpoints"],
                                             batch["context_mask"]))
    assert not torch.equal(z, other)


def test_schedules():
    salesman = parse_schedule("2.0:0.5@100000")
    assert pixel_variance(salesman, 0) == 2.0 and pixel_variance(salesman, 50_000) == pytest.approx(1.25)
    assert pixel_variance(salesman, 100_000) == 0.5 and pixel_variance(salesman, 10**6) == 0.5
    dice = parse_schedule("2.0@100000,0.2@50000,0.4@50000,0.9")
    assert [pixel_variance(dice, s) for s in (0, 99_999, 100_000, 150_000, 200_000, 10**6)] == \
        [2.0, 2.0, 0.2, 0.4, 0.9, 0.9]
    for bad in ("", "a", "2.0@x", "2.0,0.5@10", "-1", "1@0", "inf", "nan", "2.0:inf@10", "1@10,nan"):
        with pytest.raises(UserError):
            parse_schedule(bad)


def test_presets_follow_appendix_b():
    s, d = (new_run_config(facts(size=64), name) for name in ("salesman", "dice"))
    assert (s.model.nt, s.model.nf_to_hidden, s.model.nf_enc, s.model.nf_to_obs, s.model.nf_dec, s.model.ni_z) == \
        (4, 64, 128, 128, 64, 3)
    assert (d.model.nt, d.model.nf_to_hidden, d.model.nf_dec) == (6, 128, 128)
    assert (s.eval_pixel_variance, d.eval_pixel_variance) == (0.5, 0.9)   # the schedules' final values
    with pytest.raises(UserError, match="unknown preset 'huge'"):
        new_run_config(facts(), "huge")


@pytest.mark.parametrize("preset, reaches", [("tiny", False), ("small", True)])
def test_small_renders_every_pixel_from_the_whole_latent_grid(preset, reaches):
    """tiny's renderer cell reads z within 2 cells of it; small's (4 steps of kernel 5) the whole 8x8 grid, so a
    change of z in one corner cell reaches the pixels of the opposite corner."""
    torch.manual_seed(0)
    model = JUMP(model_config(preset=preset, size=32))
    z = torch.randn(1, model.cfg.nt * model.cfg.ni_z, 8, 8)
    nudged = z.clone()
    nudged[..., 0, 0] += 1.0
    v = torch.zeros(1, 1, 1)
    far_corner = (model.render(nudged, v) - model.render(z, v))[..., -4:, -4:]
    assert (far_corner.abs().max() > 0) == reaches


@pytest.mark.parametrize("field, value, message", [
    ("lr", math.nan, "lr must be positive"),
    ("lr", math.inf, "lr must be positive"),
    ("lr", -1.0, "lr must be positive"),
    ("grad_clip", math.nan, "grad-clip must be positive"),
    ("seed", -1, "seed must be 0 or more"),
    ("workers", -5, "workers must be 0 or more"),
    ("pixel_variance", "1.0:inf@100", "finite number"),
])
def test_bad_settings_are_refused(field, value, message):
    with pytest.raises(UserError, match=message):
        new_run_config(facts(), "tiny", **{field: value})


def test_config_from_dict_checks_names_and_types():
    tiny = new_run_config(facts(), "tiny")
    values = tiny.to_dict()
    assert RunConfig.from_dict(values) == tiny and values["model"]["kind"] == "jump"
    with pytest.raises(UserError, match="unknown config keys: colour"):
        RunConfig.from_dict(dict(values, colour=1))
    with pytest.raises(UserError, match="unknown config keys: model.colour"):
        RunConfig.from_dict(dict(values, model=dict(values["model"], colour=1)))
    with pytest.raises(UserError, match="steps must be of type int"):
        RunConfig.from_dict(dict(values, steps="many"))
    with pytest.raises(UserError, match="config key model.nt must be of type int"):
        RunConfig.from_dict(dict(values, model=dict(values["model"], nt=2.5)))
    with pytest.raises(UserError, match="compile must be of type bool"):
        RunConfig.from_dict(dict(values, compile=1))
    assert RunConfig.from_dict(dict(values, lr=1)).lr == 1   # an int is a fine float


def test_the_default_preset_follows_the_generator():
    assert default_preset("dice") == "dice" and default_preset("narratives") == "salesman"
    assert default_preset("anything else") == "salesman"


def test_the_latent_heads_and_the_kl_stay_float32_under_bf16_autocast():
    # the case: posterior and prior means that differ a little, a small std; bf16 heads rounded the
    # means to 2^-8 of their size, which a std of 0.05 turns into nats of KL
    from jump_model.nets.draw import head_gaussian, latent_head, latent_step
    torch.manual_seed(0)
    cfg = tiny_config("camera")
    heads = [latent_head(cfg), latent_head(cfg)]
    h = torch.randn(2, cfg.nf_to_hidden, 4, 4)
    with torch.no_grad():
        heads[1].weight.copy_(heads[0].weight * 1.01)
    exact = [head_gaussian(head, h) for head in heads]
    exact_kl = latent_step(*exact)[1]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under = [head_gaussian(head, h) for head in heads]
        torch.manual_seed(1)
        z, kl = latent_step(*under)
    for (m, s), (em, es) in zip(under, exact):
        assert m.dtype == s.dtype == torch.float32 and torch.equal(m, em) and torch.equal(s, es)
    assert kl.dtype == torch.float32 and torch.equal(kl, exact_kl) and bool((kl > 0).all())
