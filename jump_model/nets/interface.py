"""The interface every model implements (JUMP and the baselines; eval and the trainer use nothing else).

    forward(batch, pixel_variance)      training losses averaged over the scenes (made from `terms`)
    scene_losses(batch, pixel_variance) per-scene nelbo, kl, nll, mse in float32 (made from `terms`)
    terms(batch, pixel_variance)        per-scene kl, nll, sq, pixels: what each model computes
    kl(batch, noise=True)               KL(q(z | context, targets) || p(z | context)) per scene (one sample)
    sample(context_frames, context_viewpoints, query_viewpoints, context_mask=None)   predicted frames

A batch holds the keys of data.SceneViews, batched: context_frames uint8 [B, K, H, W, 3],
context_viewpoints [B, K, D], context_mask bool [B, K], and the same for the targets ([B, T]).
"""

from abc import ABC, abstractmethod

import torch
from torch import nn

from ..config import ModelConfig
from .blocks import Tower, all_true, encode_viewpoints, encoded_viewpoint_dim, full_precision, real_views


class SceneModel(nn.Module, ABC):
    """The model interface. A subclass gives `terms`, `kl` and `sample`; `forward` (training, under the caller's
    autocast) and `scene_losses` (float32) are made from `terms`. A model without one latent of the whole scene
    (ar: one per frame) raises UserError from `kl`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg

    @abstractmethod
    def terms(self, batch: dict, pixel_variance) -> dict:
        """Per-scene loss terms of a batch: {"kl": nats, "nll": -log-likelihood of the real targets summed over
        their pixels and channels (nats), "sq": squared error summed likewise, "pixels": values summed}, each
        float32 [B]. pixel_variance: float or 0-dim tensor."""

    @abstractmethod
    def kl(self, batch: dict, noise: bool = True) -> torch.Tensor:
        """KL(q(z | context, targets) || p(z | context)) float32 [B] in nats, in float32 whatever the autocast: one
        posterior sample's estimate; noise=False follows the posterior means."""

    @abstractmethod
    def sample(self, context_frames, context_viewpoints, query_viewpoints, context_mask=None) -> torch.Tensor:
        """Predicted frames of the query viewpoints [B, Q, D] given context_frames uint8 [B, K, H, W, 3] at
        context_viewpoints [B, K, D] (context_mask bool [B, K], default all True): float [B, Q, 3, H, W] in
        [0, 1]. A jumpy model draws one latent per scene, so the Q frames of a scene are one consistent set."""

    def forward(self, batch: dict, pixel_variance) -> dict:
        """Training losses of a batch (keys as data.SceneViews, batched), each averaged over the B scenes.

        pixel_variance: float or 0-dim tensor (a tensor keeps torch.compile from recompiling as it changes).
        Returns {"loss": negative ELBO per scene, "kl": KL per scene, "nll": -log-likelihood per scene
        (summed over the real targets' pixels and channels), "mse": mean squared error per real target pixel};
        all scalars.
        """
        t = self.terms(batch, pixel_variance)
        return {"loss": (t["kl"] + t["nll"]).mean(), "kl": t["kl"].mean(), "nll": t["nll"].mean(),
                "mse": t["sq"].sum() / t["pixels"].sum()}

    def scene_losses(self, batch: dict, pixel_variance) -> dict:
        """Per-scene losses in float32 (autocast off): {"nelbo": kl + nll (nats), "kl", "nll", "mse" (per pixel of
        the posterior reconstruction, images in [0, 1])}, each float32 [B]."""
        with full_precision(self):
            t = self.terms(batch, pixel_variance)
        return {"nelbo": t["kl"] + t["nll"], "kl": t["kl"], "nll": t["nll"], "mse": t["sq"] / t["pixels"]}


class TowerModel(SceneModel):
    """A model reading its context (and, for the posterior, its targets) through appendix B's two towers: the
    context representation r is the sum of the context views' features, a scene's targets summed likewise."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.vdim = encoded_viewpoint_dim(cfg.viewpoint_kind)
        self.context_tower = Tower(self.vdim)
        self.target_tower = Tower(self.vdim)

    def represent(self, frames, viewpoints, mask):
        """Context representation r: float [B, 32, H/4, W/4] summed over the views where mask [B, K] is True."""
        images, v, scene_of = real_views(frames, viewpoints, mask)
        return self.context_tower.pooled(images, encode_viewpoints(v, self.cfg), scene_of, frames.shape[0])

    def real_targets(self, batch: dict) -> tuple:
        """The real target views of a batch (mask [B, T]): (images float [N, 3, H, W] in [0, 1], encoded viewpoints
        [N, vdim], scene_of long [N]), gathered once for both the posterior and the reconstruction."""
        images, v, scene_of = real_views(batch["target_frames"], batch["target_viewpoints"], batch["target_mask"])
        return images, encode_viewpoints(v, self.cfg), scene_of

    def context_of(self, context_frames, context_viewpoints, context_mask=None):
        """r of a sample call's context (context_mask None: every view is real)."""
        return self.represent(context_frames, context_viewpoints, all_true(context_frames, context_mask))
