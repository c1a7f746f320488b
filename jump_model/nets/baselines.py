"""The jumpy baselines of the paper's experiments, built from the shared blocks (blocks.py), read top to bottom.

    PerQueryModel  one latent per query view from r and that view's viewpoint; a scene's KL summed over its targets
    Factored       the controlled ablation: JUMP's towers, DRAW and renderer with one latent per query view,
                   z_i ~ p(z_i | r, v_i), f_i = Renderer(z_i, v_i); so its KL of three views is three times one's
    GQN            Eslami et al. 2018's generative query network: per query a generator ConvLSTM fed r and v at
                   every step, a latent drawn inside the roll-out at each step (prior from the generator's state,
                   posterior from an inference core that reads the generator's state and the canvas), a canvas at
                   the image's resolution summed over the steps and mapped to the image by a 1x1 conv
    BADJ           the paper's ablation: GQN's network trained as JUMP's baseline on one target view per scene

The autoregressive video baseline is in ar.py. Each takes the batches of data.SceneViews and gives what
interface.SceneModel asks (per-scene kl, nll, sq, pixels); docs/model.md ("Baselines") says how each differs
from JUMP.
"""

from abc import abstractmethod

import torch
from torch import nn

from ..config import ModelConfig
from .blocks import (TOWER_CHANNELS, ConvLSTMCell, Renderer, broadcast, encode_viewpoints, full_precision,
                     reconstruction, state_size, widened)
from .draw import Draw, add_kl, draw_latents, head_gaussian, latent_head, latent_step
from .interface import TowerModel


class PerQueryModel(TowerModel):
    """A model with one latent per query view, conditioned on r and that view's viewpoint (Factored, GQN): each packed
    target slot is reconstructed from its own posterior latent (the padded ones weighing 0), every sampled query
    drawn with its own z."""

    @abstractmethod
    def query_frames(self, r, v, e=None, noise: bool = True) -> tuple:
        """One latent and frame per query: r [N, 32, H/4, W/4] (the query's scene's), v encoded [N, vdim], e the
        target's own encoding [N, 32, H/4, W/4] or None (prior). Returns (images float [N, 3, H, W], kl [N] or None)."""

    def posterior_frames(self, batch: dict, noise: bool = True) -> tuple:
        """Each packed target slot (TowerModel.target_slots) reconstructed from its own posterior latent. Returns
        (images [N, 3, H, W], kl float32 [B] summed over each scene's real targets, truth [N, 3, H, W], the
        blocks.Packing)."""
        r = self.batch_context(batch)
        truth, v, packing = self.target_slots(batch)
        images, kl = self.query_frames(r.index_select(0, packing.scene), v, self.target_tower(truth, v), noise)
        return images, packing.per_scene(kl), truth, packing

    def terms(self, batch: dict, pixel_variance) -> dict:
        """Per-scene loss terms (SceneModel): KL and reconstruction summed over the real targets."""
        images, kl, truth, packing = self.posterior_frames(batch)
        return {"kl": kl, **reconstruction(images, truth, packing, pixel_variance)}

    def kl(self, batch: dict, noise: bool = True):
        """Sum over the real targets of KL(q(z_i | r, v_i, f_i) || p(z_i | r, v_i)): float32 [B] nats, in float32;
        noise=False follows the posterior means (then identical targets give identical terms)."""
        with full_precision(self):
            return self.posterior_frames(batch, noise)[1]

    @torch.no_grad()
    def sample(self, context_frames, context_viewpoints, query_viewpoints, context_mask=None):
        """Every query its own z from p(z | r, v_q): float [B, Q, 3, H, W] in [0, 1] (SceneModel.sample)."""
        r = self.context_of(context_frames, context_viewpoints, context_mask)
        b, q = query_viewpoints.shape[:2]
        images, _ = self.query_frames(r.repeat_interleave(q, dim=0),
                                      encode_viewpoints(query_viewpoints.flatten(0, 1), self.cfg, self.dtype))
        return images.unflatten(0, (b, q))


class Factored(PerQueryModel):
    """The factored model: JUMP's towers, DRAW and renderer, with the latent conditioned on each query viewpoint."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.prior = Draw(cfg, TOWER_CHANNELS + self.vdim)             # p(z_i | r, v_i)
        self.posterior = Draw(cfg, 2 * TOWER_CHANNELS + self.vdim)     # q(z_i | r, v_i, f_i)
        self.renderer = Renderer(cfg, self.vdim, state_size(cfg))

    def query_frames(self, r, v, e=None, noise: bool = True) -> tuple:
        """As PerQueryModel.query_frames: the latent from DRAW conditioned on [r, v], rendered by the renderer."""
        cond = torch.cat([r, broadcast(v, r.shape[-1])], dim=1)
        z, kl = draw_latents(self.prior, self.posterior, self.cfg.nt, cond,
                             None if e is None else torch.cat([cond, e], dim=1), noise)
        return self.renderer(z, v[:, None])[:, 0], kl


class GQN(PerQueryModel):
    """Eslami et al. 2018's GQN, per query: nt steps l of

        prior     p(z_l | h_g)                       a conv of the generator's state before the step
        inference (h_e, c_e) = C_e([x_q(r, v, e), h_g, read(u)], h_e, c_e),  q(z_l | h_e)   (training only)
        generator (h_g, c_g) = C_g([x(r, v), z_l], h_g, c_g)       r and v fed at every step
        canvas    u = u + write(h_g)                 at the image's resolution (write: kernel = stride = H / S)

    and the image sigmoid(to_image(u)), to_image a 1x1 conv. x and x_q are convs (kernel = stride =
    stride_to_hidden) of [r, v] and [r, v, e], e the target tower's encoding of the query's own frame (as GQN's
    inference core reads the target image). Sizes from the preset: both cores nf_to_hidden channels, x nf_enc,
    the canvas nf_to_obs channels, read(u) nf_dec."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        hidden, k, sth, up = cfg.nf_to_hidden, cfg.lstm_kernel, cfg.stride_to_hidden, cfg.image_size // state_size(cfg)
        self.to_hidden = nn.Conv2d(TOWER_CHANNELS + self.vdim, cfg.nf_enc, sth, stride=sth)              # x(r, v)
        self.to_inference = nn.Conv2d(2 * TOWER_CHANNELS + self.vdim, cfg.nf_enc, sth, stride=sth)       # x_q(r, v, e)
        self.generator = ConvLSTMCell(cfg.nf_enc + cfg.ni_z, hidden, k)
        self.inference = ConvLSTMCell(cfg.nf_enc + hidden + cfg.nf_dec, hidden, k)
        self.prior_head, self.posterior_head = latent_head(cfg), latent_head(cfg)
        self.write = nn.ConvTranspose2d(hidden, cfg.nf_to_obs, up, stride=up)
        self.read = nn.Conv2d(cfg.nf_to_obs, cfg.nf_dec, up, stride=up)
        self.to_image = nn.Conv2d(cfg.nf_to_obs, 3, 1)

    def query_frames(self, r, v, e=None, noise: bool = True) -> tuple:
        """As PerQueryModel.query_frames, the latents drawn inside the generator's roll-out."""
        cond = torch.cat([r, broadcast(v, r.shape[-1])], dim=1)
        x = self.to_hidden(cond)
        h = x.new_zeros((x.shape[0], self.cfg.nf_to_hidden) + x.shape[2:])
        c, h_e, c_e = h.clone(), h.clone(), h.clone()
        canvas = x.new_zeros((x.shape[0], self.cfg.nf_to_obs, self.cfg.image_size, self.cfg.image_size))
        x_q = None if e is None else self.to_inference(torch.cat([cond, e], dim=1))
        kl = None
        for _ in range(self.cfg.nt):
            posterior = None
            if x_q is not None:
                h_e, c_e = self.inference(torch.cat([x_q, h, self.read(canvas)], dim=1), h_e, c_e)
                posterior = head_gaussian(self.posterior_head, h_e)
            z, step_kl = latent_step(head_gaussian(self.prior_head, h), posterior, noise, x.dtype)
            kl = add_kl(kl, step_kl)
            h, c = self.generator(torch.cat([x, z], dim=1), h, c)
            canvas = canvas + self.write(h)
        return torch.sigmoid(widened(self.to_image(canvas))), kl


class BADJ(GQN):
    """The paper's ablation, "JUMP without the architectural features used to enforce consistency between the target
    frames" (the deterministic renderer, the query-independent latent, several targets reconstructed together): GQN's
    network, trained on one target view per scene (config.RunConfig.validate refuses other --targets)."""
