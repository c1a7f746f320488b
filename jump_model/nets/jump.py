"""JUMP (Kumar et al., "Consistent Jumpy Predictions for Videos and Scenes"), read top to bottom.

    r   = sum_j Tower(f_j, v_j)                 context representation, [B, 32, H/4, W/4]
    z   ~ DRAW prior P(z | r), nt steps          latents at the LSTM resolution S = H/4/stride_to_hidden
    f_i = Renderer(z, v_i)                       one deterministic ConvLSTM roll-out per query view
    loss = KL(q(z | r, targets) || p(z | r)) - sum_i log N(f_i; f_hat_i, pixel_variance)

A batch may mix scenes with 1..K context views and 1..T target views: `context_mask` [B, K] and
`target_mask` [B, T] mark the real ones. The slots are packed (the batch's "context_count" and "target_count"
of them, else all; blocks.Packing), the padded ones weighing 0, and each packed target is rendered from its
scene's z. The blocks are in blocks.py, the DRAW chain in draw.py,
the interface in interface.py.
"""

import torch

from ..config import ModelConfig
from .blocks import TOWER_CHANNELS, Renderer, encode_viewpoints, full_precision, reconstruction, state_size
from .draw import Draw, draw_latents
from .interface import TowerModel


class JUMP(TowerModel):
    """The whole model: `forward(batch, pixel_variance)` the training losses, `kl(batch)` the KL alone,
    `sample(...)` consistent frames."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.prior = Draw(cfg, TOWER_CHANNELS)
        self.posterior = Draw(cfg, 2 * TOWER_CHANNELS, reads_prior=cfg.posterior_reads_prior)
        self.renderer = Renderer(cfg, self.vdim, state_size(cfg))

    def latents(self, r, e=None, noise: bool = True):
        """z ~ p(z | r) (e None; kl None) or z ~ q(z | r, e) with kl float32 [B]: see draw_latents.
        Returns (z [B, nt*ni_z, S, S], kl)."""
        return draw_latents(self.prior, self.posterior, self.cfg.nt, r,
                            None if e is None else torch.cat([r, e], dim=1), noise)

    def render(self, z, query_viewpoints):
        """Render raw query viewpoints [B, Q, D] from latents z -> image means float [B, Q, 3, H, W] in [0, 1]."""
        return self.renderer(z, encode_viewpoints(query_viewpoints, self.cfg, self.dtype))

    def posterior_kl(self, batch: dict, targets: tuple, noise: bool = True) -> tuple:
        """Run the posterior on a batch whose target_slots are `targets`: returns (z [B, nt*ni_z, S, S] drawn from
        q, kl float32 [B]). The target encoding is summed over the real targets, like r over the context: a scene
        with more targets gives the posterior a larger sum, as in the paper."""
        r = self.batch_context(batch)
        images, v, packing = targets
        return self.latents(r, packing.per_scene(self.target_tower(images, v)), noise)

    def terms(self, batch: dict, pixel_variance) -> dict:
        """Per-scene loss terms (SceneModel): z from the posterior, each packed target slot rendered from its
        scene's z (the padded ones weighing 0)."""
        truth, v, packing = targets = self.target_slots(batch)
        z, kl = self.posterior_kl(batch, targets)
        images = self.renderer(z.index_select(0, packing.scene), v[:, None])[:, 0]
        return {"kl": kl, **reconstruction(images, truth, packing, pixel_variance)}

    def kl(self, batch: dict, noise: bool = True):
        """KL(q(z | context, targets) || p(z | context)) float32 [B] in nats, in float32 whatever the autocast: one
        posterior sample's estimate (call repeatedly and average); noise=False follows the posterior means."""
        with full_precision(self):
            return self.posterior_kl(batch, self.target_slots(batch), noise)[1]

    @torch.no_grad()
    def sample(self, context_frames, context_viewpoints, query_viewpoints, context_mask=None):
        """Sample consistent frames: ONE z per scene from the prior, every query rendered from that z.

        context_frames uint8 [B, K, H, W, 3], context_viewpoints [B, K, D], query_viewpoints [B, Q, D],
        context_mask bool [B, K] (default all True). Returns float [B, Q, 3, H, W] in [0, 1].
        """
        z, _ = self.latents(self.context_of(context_frames, context_viewpoints, context_mask))
        return self.render(z, query_viewpoints)
