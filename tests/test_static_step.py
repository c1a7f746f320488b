"""The static training step: every view slot computed, masks weighting the sums and losses. In float64 it gives
the numbers of the gather form it replaced (kept here, and only here, as the reference) on random masks, for
JUMP and every baseline; a 50-step float32 run logs the same metrics.jsonl as with the gather form, within
rounding."""

import json
import math

import pytest
import torch

from jump_model.config import MODEL_KINDS
from jump_model.nets import make_model
from jump_model.nets.blocks import view_slots
from jump_model.nets.jump import JUMP
from jump_model.run_folder import plan_run
from jump_model.training import train
from model_scenes import make_square_dataset, model_config

B, K, T, SIZE = 6, 3, 3, 8
SMALL = dict(nt=2, nf_to_hidden=8, nf_enc=8, nf_to_obs=8, nf_dec=8)


# --------------------------------------------------------------------------- the gather form (the reference)

def gathered(model, frames, viewpoints, mask):
    """The real views of a batch, gathered: (images [N, 3, H, W], encoded viewpoints [N, vdim], scene_of [N])."""
    scene_of = torch.arange(frames.shape[0]).repeat_interleave(mask.sum(1))
    images, v = view_slots(frames[mask], viewpoints[mask], model.cfg, model.dtype)
    return images, v, scene_of


def into_scenes(x, scene_of, scenes):
    return x.new_zeros((scenes,) + x.shape[1:]).index_add_(0, scene_of, x)


def gathered_reconstruction(images, truth, scene_of, scenes, pixel_variance):
    sq = (images - truth).square().flatten(1).sum(1)
    per_view = images[0].numel()
    nll = 0.5 * (sq / pixel_variance + per_view * math.log(2 * math.pi * pixel_variance))
    return {"nll": into_scenes(nll, scene_of, scenes), "sq": into_scenes(sq, scene_of, scenes),
            "pixels": into_scenes(torch.full_like(sq, per_view), scene_of, scenes)}


def gathered_represent(model, batch):
    images, v, scene_of = gathered(model, batch["context_frames"], batch["context_viewpoints"],
                                   batch["context_mask"])
    return into_scenes(model.context_tower(images, v), scene_of, len(batch["context_mask"]))


def gathered_jump_terms(model, batch, pixel_variance):
    r = gathered_represent(model, batch)
    truth, v, scene_of = gathered(model, batch["target_frames"], batch["target_viewpoints"], batch["target_mask"])
    z, kl = model.latents(r, into_scenes(model.target_tower(truth, v), scene_of, len(r)))
    images = model.renderer(z[scene_of], v[:, None])[:, 0]
    return {"kl": kl, **gathered_reconstruction(images, truth, scene_of, len(r), pixel_variance)}


def gathered_gqn_terms(model, batch, pixel_variance):
    r = gathered_represent(model, batch)
    truth, v, scene_of = gathered(model, batch["target_frames"], batch["target_viewpoints"], batch["target_mask"])
    images, kl = model.query_frames(r[scene_of], v, model.target_tower(truth, v))
    return {"kl": into_scenes(kl, scene_of, len(r)),
            **gathered_reconstruction(images, truth, scene_of, len(r), pixel_variance)}


def gathered_ar_terms(model, batch, pixel_variance):
    predicted, images, kls, is_predicted = model.teacher_forced(batch)   # the roll-out; the losses gathered here
    scenes = len(is_predicted)
    scene_of = torch.arange(scenes)[:, None].expand_as(is_predicted)[is_predicted]
    return {"kl": (kls * is_predicted).sum(1), "kl_loss": (kls.clamp(min=model.cfg.free_bits) * is_predicted).sum(1),
            **gathered_reconstruction(predicted[is_predicted], images[is_predicted], scene_of, scenes,
                                      pixel_variance)}


GATHERED = {"jump": gathered_jump_terms, "gqn": gathered_gqn_terms, "factored": gathered_gqn_terms,
            "badj": gathered_gqn_terms, "ar": gathered_ar_terms}


# --------------------------------------------------------------------------- the comparison

def random_masked_batch(seed, targets):
    """B scenes with random view counts (1..K context, 1..targets target views, the real ones first) and random
    bytes in the padded slots too (the static form computes them; their weight must make them count for nothing)."""
    g = torch.Generator().manual_seed(seed)
    count = lambda most: torch.randint(1, most + 1, (B,), generator=g)
    frames = lambda m: torch.randint(0, 256, (B, m, SIZE, SIZE, 3), generator=g, dtype=torch.uint8)
    times = lambda m: torch.randint(0, 6, (B, m, 1), generator=g).float()
    return {"context_frames": frames(K), "context_viewpoints": times(K),
            "context_mask": torch.arange(K) < count(K)[:, None],
            "target_frames": frames(targets), "target_viewpoints": times(targets),
            "target_mask": torch.arange(targets) < count(targets)[:, None]}


def float64_model(kind):
    torch.manual_seed(0)
    targets = 1 if kind == "badj" else T
    cfg = model_config("time", model=kind, size=SIZE, context=K, targets=targets, **SMALL)
    return make_model(cfg).double(), targets


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_static_step_gives_the_gather_forms_numbers_in_float64(kind, seed, monkeypatch):
    model, targets = float64_model(kind)
    batch = random_masked_batch(seed, targets)
    if kind in ("gqn", "factored", "badj"):
        # one latent per target: the static form draws noise for every slot, the gather form for the real ones
        # only, so the draws land differently; with zero noise both follow the means
        monkeypatch.setattr(torch, "randn_like", torch.zeros_like)
    torch.manual_seed(seed)
    static = model.terms(batch, 0.7)
    torch.manual_seed(seed)
    reference = GATHERED[kind](model, batch, 0.7)
    assert set(static) == set(reference) == {"kl", "nll", "sq", "pixels"} | ({"kl_loss"} if kind == "ar" else set())
    for key in reference:
        assert static[key].dtype == torch.float64 and static[key].shape == (B,)
        torch.testing.assert_close(static[key], reference[key], rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("kind", ["jump", "gqn", "factored"])
def test_the_kl_and_samples_of_the_static_form_follow_the_gather_form(kind):
    model, targets = float64_model(kind)
    batch = random_masked_batch(3, targets)
    static = model.kl(batch, noise=False)
    r = gathered_represent(model, batch)
    truth, v, scene_of = gathered(model, batch["target_frames"], batch["target_viewpoints"], batch["target_mask"])
    if kind == "jump":
        _, reference = model.latents(r, into_scenes(model.target_tower(truth, v), scene_of, B), noise=False)
    else:
        reference = into_scenes(model.query_frames(r[scene_of], v, model.target_tower(truth, v), noise=False)[1],
                                scene_of, B)
    torch.testing.assert_close(static, reference, rtol=1e-12, atol=1e-9)


def test_a_50_step_float32_run_logs_the_gather_forms_metrics(tmp_path, monkeypatch):
    make_square_dataset(tmp_path / "squares")
    cfg = plan_run(tmp_path / "squares", preset="tiny", steps=50, batch_size=4, context=3, targets=3, amp=False,
                   workers=0, log_every=5, eval_every=25, sample_every=10**6, checkpoint_every=50, eval_scenes=8)
    torch.set_num_threads(1)
    train(cfg, tmp_path / "static")
    monkeypatch.setattr(JUMP, "terms", gathered_jump_terms)
    train(cfg, tmp_path / "gathered")
    lines = [[json.loads(x) for x in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
             for run in ("static", "gathered")]
    assert [m["step"] for m in lines[0]] == [m["step"] for m in lines[1]] == list(range(5, 55, 5))
    for static, gathered in zip(*lines):
        assert set(static) == set(gathered)
        scale = max(abs(gathered["loss"]), abs(gathered.get("eval_nelbo", 0)))   # float32 rounding of the loss
        for key in set(gathered) - {"step", "scenes_per_s", "data_wait_share"}:
            assert static[key] == pytest.approx(gathered[key], rel=1e-5, abs=1e-5 * scale), key
