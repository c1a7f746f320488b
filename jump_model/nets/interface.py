"""The interface every model implements (JUMP and the baselines; eval and the trainer use nothing else).

    forward(batch, pixel_variance)      training losses averaged over the scenes (made from `terms`)
    scene_losses(batch, pixel_variance) per-scene nelbo, kl, nll, mse in float32 (made from `terms`)
    terms(batch, pixel_variance)        per-scene kl, nll, sq, pixels: what each model computes
    kl(batch, noise=True)               KL(q(z | context, targets) || p(z | context)) per scene (one sample)
    kl_per_view(batch)                  the KL per reconstructed view (made from `terms`; eval's KL floor)
    sample(context_frames, context_viewpoints, query_viewpoints, context_mask=None)   predicted frames
    compile_sampling(compile_fn)        route the sampling through a compiler (torch.compile)

A batch holds the keys of data.SceneViews, batched: context_frames uint8 [B, K, H, W, 3],
context_viewpoints [B, K, D], context_mask bool [B, K], and the same for the targets ([B, T]); and, where
every batch holds the same numbers of real views (training: data.CollateViews), "context_count" and
"target_count", those numbers (ints). A model computes that many packed context and target slots, the real
ones first (blocks.Packing; all B x K and B x T without them), the padded ones weighing 0: its shapes follow
the batch's shapes and counts alone. (ar computes its whole window: see ar.py.)
"""

from abc import ABC, abstractmethod

import torch
from torch import nn

from ..config import ModelConfig
from .blocks import Packing, Tower, all_true, encoded_viewpoint_dim, full_precision, view_slots


class SceneModel(nn.Module, ABC):
    """The model interface. A subclass gives `terms`, `kl` and `sample`; `forward` (training, under the caller's
    autocast) and `scene_losses` (float32) are made from `terms`. A model without one latent of the whole scene
    (ar: one per frame) raises UserError from `kl`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg

    @property
    def dtype(self) -> torch.dtype:
        """The float type of the parameters (float32; float64 for exact checks): inputs are made in it."""
        return next(self.parameters()).dtype

    def compile_sampling(self, compile_fn) -> None:
        """Route this model's sampling through compile_fn (e.g. torch.compile with fullgraph=True): `sample`
        itself, whose shapes follow the shapes of its inputs alone."""
        self.sample = compile_fn(self.sample)

    @abstractmethod
    def terms(self, batch: dict, pixel_variance) -> dict:
        """Per-scene loss terms of a batch: {"kl": nats, "nll": -log-likelihood of the reconstructed views summed over
        their pixels and channels (nats), "sq": squared error summed likewise, "pixels": values summed}, each
        float32 [B], and optionally "kl_loss" [B], the KL term the training loss uses in place of "kl" (ar: with
        free bits). pixel_variance: float or 0-dim tensor."""

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
        Returns {"loss": negative ELBO per scene (its KL terms' "kl_loss" where given), "kl": KL per scene, "nll":
        -log-likelihood per scene (summed over the reconstructed views' pixels and channels), "mse": mean squared
        error per reconstructed pixel}; all scalars.
        """
        t = self.terms(batch, pixel_variance)
        return {"loss": (t.get("kl_loss", t["kl"]) + t["nll"]).mean(), "kl": t["kl"].mean(), "nll": t["nll"].mean(),
                "mse": t["sq"].sum() / t["pixels"].sum()}

    def scene_losses(self, batch: dict, pixel_variance) -> dict:
        """Per-scene losses in float32 (autocast off): {"nelbo": kl + nll (nats), "kl", "nll", "mse" (per pixel of
        the posterior reconstruction, images in [0, 1])}, each float32 [B]."""
        with full_precision(self):
            t = self.terms(batch, pixel_variance)
        return {"nelbo": t["kl"] + t["nll"], "kl": t["kl"], "nll": t["nll"], "mse": t["sq"] / t["pixels"]}

    def kl_per_view(self, batch: dict) -> torch.Tensor:
        """The KL per reconstructed view of each scene, float32 [B] nats (autocast off, one posterior sample): how
        much the latent is used (ar: per predicted frame; eval's KL floor reads it)."""
        with full_precision(self):
            t = self.terms(batch, 1.0)
        return t["kl"] / (t["pixels"] / (3 * self.cfg.image_size ** 2))


class TowerModel(SceneModel):
    """A model reading its context (and, for the posterior, its targets) through appendix B's two towers: the
    context representation r is the sum of the context views' features, a scene's targets summed likewise."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.vdim = encoded_viewpoint_dim(cfg.viewpoint_kind)
        self.context_tower = Tower(self.vdim)
        self.target_tower = Tower(self.vdim)

    def packed_views(self, frames, viewpoints, mask, count: int = None) -> tuple:
        """`count` of a batch's view slots (frames uint8 [B, M, H, W, 3], viewpoints [B, M, D], mask bool [B, M]),
        packed (blocks.Packing: at least the real ones; None: all B x M): (images [N, 3, H, W] in [0, 1],
        encoded viewpoints [N, vdim], the Packing)."""
        packing = Packing(mask, count)
        images, v = view_slots(packing.take(frames), packing.take(viewpoints), self.cfg, self.dtype)
        return images, v, packing

    def represent(self, frames, viewpoints, mask, count: int = None):
        """Context representation r: float [B, 32, H/4, W/4], the tower's features summed over the views where
        mask [B, K] is True, `count` slots computed (packed_views)."""
        images, v, packing = self.packed_views(frames, viewpoints, mask, count)
        return packing.per_scene(self.context_tower(images, v))

    def batch_context(self, batch: dict):
        """r of a batch's context, its "context_count" slots computed (else all B x K)."""
        return self.represent(batch["context_frames"], batch["context_viewpoints"], batch["context_mask"],
                              batch.get("context_count"))

    def target_slots(self, batch: dict) -> tuple:
        """The batch's target slots, packed (packed_views: its "target_count" of them, else all B x T): (images
        [N, 3, H, W] in [0, 1], encoded viewpoints [N, vdim], the Packing), made once for both the posterior and
        the reconstruction."""
        return self.packed_views(batch["target_frames"], batch["target_viewpoints"], batch["target_mask"],
                                 batch.get("target_count"))

    def context_of(self, context_frames, context_viewpoints, context_mask=None):
        """r of a sample call's context (context_mask None: every view is real)."""
        return self.represent(context_frames, context_viewpoints, all_true(context_frames, context_mask))
