"""The gather form of the training step, the reference the packed step is checked and timed against: the real
views of a batch gathered into batches whose sizes depend on the data (boolean-mask indexing and
repeat_interleave of the view counts), as the models computed before the static step. tests/test_static_step.py
checks in float64 that the models give its numbers; bench/train.py times a training run with it (`gathered`).

    GATHERED[kind](model, batch, pixel_variance)   per-scene terms as SceneModel.terms gives them
    use_gather_form(kind)                          route a model class's `terms` through GATHERED[kind]
"""

import math

import torch

from jump_model.nets import MODEL_CLASSES
from jump_model.nets.blocks import view_slots


def gathered(model, frames, viewpoints, mask):
    """The real views of a batch, gathered: (images [N, 3, H, W], encoded viewpoints [N, vdim], scene_of [N])."""
    scene_of = torch.arange(frames.shape[0], device=mask.device).repeat_interleave(mask.sum(1))
    images, v = view_slots(frames[mask], viewpoints[mask], model.cfg, model.dtype)
    return images, v, scene_of


def into_scenes(x, scene_of, scenes):
    """Sum x [N, ...] into its scenes: [scenes, ...]."""
    return x.new_zeros((scenes,) + x.shape[1:]).index_add_(0, scene_of, x)


def gathered_reconstruction(images, truth, scene_of, scenes, pixel_variance):
    """Per-scene nll, sq and pixels of gathered targets (images, truth [N, 3, H, W])."""
    sq = (images.float() if images.dtype in (torch.bfloat16, torch.float16) else images)
    sq = (sq - truth).square().flatten(1).sum(1)
    per_view = images[0].numel()
    var = torch.as_tensor(pixel_variance, dtype=sq.dtype, device=sq.device)
    nll = 0.5 * (sq / var + per_view * torch.log(2 * math.pi * var))
    return {"nll": into_scenes(nll, scene_of, scenes), "sq": into_scenes(sq, scene_of, scenes),
            "pixels": into_scenes(torch.full_like(sq, per_view), scene_of, scenes)}


def gathered_represent(model, batch):
    """r [B, 32, H/4, W/4] from the gathered real context views."""
    images, v, scene_of = gathered(model, batch["context_frames"], batch["context_viewpoints"],
                                   batch["context_mask"])
    return into_scenes(model.context_tower(images, v), scene_of, len(batch["context_mask"]))


def gathered_targets(model, batch):
    """The gathered real target views: (images [N, 3, H, W], encoded viewpoints [N, vdim], scene_of [N])."""
    return gathered(model, batch["target_frames"], batch["target_viewpoints"], batch["target_mask"])


def gathered_jump_terms(model, batch, pixel_variance):
    """JUMP's per-scene terms in the gather form."""
    r = gathered_represent(model, batch)
    truth, v, scene_of = gathered_targets(model, batch)
    z, kl = model.latents(r, into_scenes(model.target_tower(truth, v), scene_of, len(r)))
    images = model.renderer(z[scene_of], v[:, None])[:, 0]
    return {"kl": kl, **gathered_reconstruction(images, truth, scene_of, len(r), pixel_variance)}


def gathered_gqn_terms(model, batch, pixel_variance):
    """The per-scene terms of a model with a latent per query (gqn, factored, badj) in the gather form."""
    r = gathered_represent(model, batch)
    truth, v, scene_of = gathered_targets(model, batch)
    images, kl = model.query_frames(r[scene_of], v, model.target_tower(truth, v))
    return {"kl": into_scenes(kl, scene_of, len(r)),
            **gathered_reconstruction(images, truth, scene_of, len(r), pixel_variance)}


def gathered_ar_terms(model, batch, pixel_variance):
    """ar's per-scene terms: its roll-out (every window slot, as it always was), the losses gathered."""
    predicted, images, kls, is_predicted = model.teacher_forced(batch)
    scenes = len(is_predicted)
    scene_of = torch.arange(scenes, device=kls.device)[:, None].expand_as(is_predicted)[is_predicted]
    return {"kl": (kls * is_predicted).sum(1), "kl_loss": (kls.clamp(min=model.cfg.free_bits) * is_predicted).sum(1),
            **gathered_reconstruction(predicted[is_predicted], images[is_predicted], scene_of, scenes,
                                      pixel_variance)}


GATHERED = {"jump": gathered_jump_terms, "gqn": gathered_gqn_terms, "factored": gathered_gqn_terms,
            "badj": gathered_gqn_terms, "ar": gathered_ar_terms}


def use_gather_form(kind: str):
    """Route the `terms` of model class `kind` (and so its forward, scene_losses, kl_per_view) through the gather
    form; returns a function that undoes it."""
    cls = MODEL_CLASSES[kind]
    own = cls.__dict__.get("terms")
    cls.terms = GATHERED[kind]
    return lambda: setattr(cls, "terms", own) if own is not None else delattr(cls, "terms")
