"""The static training step: the context and target slots packed (the batch's "context_count" and "target_count" of
them, the real ones first, else all), masks weighting the sums and losses. In float64 it gives the numbers of the
gather form it replaced (bench/gather_form.py, the reference) on random masks, for JUMP and every baseline, whatever
the number of packed slots; a 50-step float32 run (its batches packed: training's per-batch view counts) logs the
same metrics.jsonl as with the gather form, within rounding."""

import json

import pytest
import torch

from bench.gather_form import GATHERED, gathered_jump_terms, gathered_represent, gathered_targets, into_scenes
from jump_model.config import MODEL_KINDS
from jump_model.nets import make_model
from jump_model.nets.blocks import Packing
from jump_model.nets.jump import JUMP
from jump_model.run_folder import plan_run
from jump_model.training import train
from model_scenes import make_square_dataset, model_config

B, K, T, SIZE = 6, 3, 3, 8
SMALL = dict(nt=2, nf_to_hidden=8, nf_enc=8, nf_to_obs=8, nf_dec=8)
# how many slots the step packs: all of them (no counts in the batch), the real ones alone, two more than those
PACKINGS = {"every slot": lambda real: None, "the real ones": lambda real: real, "two more": lambda real: real + 2}


# --------------------------------------------------------------------------- the comparison

def random_masked_batch(seed, targets, packing="every slot"):
    """B scenes with random view counts (1..K context, 1..targets target views, the real ones first) and random
    bytes in the padded slots too (the static form computes them; their weight must make them count for nothing);
    "context_count" and "target_count" as PACKINGS[packing] says."""
    g = torch.Generator().manual_seed(seed)
    count = lambda most: torch.randint(1, most + 1, (B,), generator=g)
    frames = lambda m: torch.randint(0, 256, (B, m, SIZE, SIZE, 3), generator=g, dtype=torch.uint8)
    times = lambda m: torch.randint(0, 6, (B, m, 1), generator=g).float()
    batch = {"context_frames": frames(K), "context_viewpoints": times(K),
             "context_mask": torch.arange(K) < count(K)[:, None],
             "target_frames": frames(targets), "target_viewpoints": times(targets),
             "target_mask": torch.arange(targets) < count(targets)[:, None]}
    for part, slots in (("context", B * K), ("target", B * targets)):
        n = PACKINGS[packing](int(batch[f"{part}_mask"].sum()))
        if n is not None and n <= slots:
            batch[f"{part}_count"] = n
    return batch


def test_packing_puts_the_real_slots_first_in_order_with_their_scenes():
    mask = torch.tensor([[True, False, False], [True, True, True], [False, False, False], [True, True, False]])
    packing = Packing(mask, 7)
    assert packing.slot.tolist() == [0, 3, 4, 5, 9, 10, 1]          # the six real ones, then the first padded one
    assert packing.scene.tolist() == [0, 1, 1, 1, 3, 3, 0]
    assert packing.real.tolist() == [True] * 6 + [False]
    x = torch.arange(12.0).view(4, 3)
    assert packing.take(x).tolist() == [0, 3, 4, 5, 9, 10, 1]
    assert packing.per_scene(packing.take(x)).tolist() == [0, 12, 0, 19]   # each scene's real slots summed
    assert Packing(mask).slot.shape == (12,)                                # no count: every slot


def float64_model(kind):
    torch.manual_seed(0)
    targets = 1 if kind == "badj" else T
    cfg = model_config("time", model=kind, size=SIZE, context=K, targets=targets, **SMALL)
    return make_model(cfg).double(), targets


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("packing", PACKINGS)
def test_the_static_step_gives_the_gather_forms_numbers_in_float64(kind, seed, packing, monkeypatch):
    model, targets = float64_model(kind)
    batch = random_masked_batch(seed, targets, packing)
    if kind in ("gqn", "factored", "badj") and packing != "the real ones":
        # one latent per target: packing padded slots too, the step draws noise for them, the gather form for the
        # real ones only, so the draws land differently; with zero noise both follow the means. Packing the real
        # ones alone, both draw the same noise for the same targets in the same order.
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
@pytest.mark.parametrize("packing", PACKINGS)
def test_the_kl_of_the_static_form_follows_the_gather_form(kind, packing):
    model, targets = float64_model(kind)
    batch = random_masked_batch(3, targets, packing)
    static = model.kl(batch, noise=False)
    r = gathered_represent(model, batch)
    truth, v, scene_of = gathered_targets(model, batch)
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
