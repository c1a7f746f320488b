"""The autoregressive video baseline (kind `ar`), in the spirit of SV2P and SVG-LP (Denton and Fergus's learned
prior), built from the shared blocks (blocks.py), read top to bottom.

    e_t      = Tower(frame t, t)                          each frame with its time
    z_t      ~ p(z_t | frames < t)   (DRAW step reading e_{t-1}; training: q(z_t | frames <= t) reading e_t)
    h_t      = predictor([e_{t-1}, z_t], h_{t-1})         a ConvLSTM over the frames one after another
    frame t  = Renderer([latents(h_t), skip(e_last)], t)  skip: the features of the last frame seen (the last
                                                         context frame), as SVG-LP's skips from the last true frame

Training is teacher-forced over a window as long as the test's roll-out (by default the whole video after the
context: config.new_run_config), every predicted frame reconstructed; the KL of each predicted frame counts at
least `free_bits` nats in the loss (docs/model.md, "Baselines"), so the latent stays in use.
"""

import torch
from torch import nn

from scene_shards.common import UserError

from ..config import ModelConfig
from .blocks import (TOWER_CHANNELS, ConvLSTMCell, Packing, Renderer, Tower, all_true, encode_viewpoints,
                     encoded_viewpoint_dim, frames_to_images, masked_sum, reconstruction, state_size, view_slots)
from .draw import Draw, latent_step
from .interface import SceneModel


class AR(SceneModel):
    """A stochastic video model run frame after frame: latent z_t from the prior (reads frame t-1) or posterior
    (reads frame t), a ConvLSTM predictor over [frame t-1, z_t], frame t rendered from its state at time t and the
    last seen frame's features."""

    def __init__(self, cfg: ModelConfig):
        if cfg.viewpoint_kind != "time":
            raise UserError("the ar model predicts a video frame after frame and needs time viewpoints")
        super().__init__(cfg)
        vdim = encoded_viewpoint_dim("time")
        self.tower = Tower(vdim)                                   # each frame with its time
        self.prior = Draw(cfg, TOWER_CHANNELS)                     # p(z_t | frames < t)
        self.posterior = Draw(cfg, TOWER_CHANNELS)                 # q(z_t | frames <= t)
        self.to_hidden = nn.Conv2d(TOWER_CHANNELS, cfg.nf_enc, cfg.stride_to_hidden, stride=cfg.stride_to_hidden)
        self.predictor = ConvLSTMCell(cfg.nf_enc + cfg.ni_z, cfg.nf_to_hidden, cfg.lstm_kernel)
        self.to_latents = nn.Conv2d(cfg.nf_to_hidden, cfg.nt * cfg.ni_z, 1)   # the renderer's input from h_t
        self.skip = nn.Conv2d(TOWER_CHANNELS, TOWER_CHANNELS, cfg.stride_to_hidden, stride=cfg.stride_to_hidden)
        self.renderer = Renderer(cfg, vdim, state_size(cfg), z_channels=cfg.nt * cfg.ni_z + TOWER_CHANNELS)

    def roll(self, images, v, valid, known: int, last_seen: int) -> tuple:
        """Run the frames of B sequences of P positions one after another.

        images float [B, P, 3, H, W]: the true frames of positions < `known` (later ones are ignored: each is
        replaced by the frame predicted there); v encoded times [B, P, 1]; valid bool [B, P], one run of True per
        sequence. Position j (valid, after a valid j-1) is predicted from frame j-1 with z_j from the posterior
        (j < known) or the prior; every frame is rendered with the skip from the true frame at position
        `last_seen` (< known: the last context frame). Returns (predicted frames float [B, P, 3, H, W] (zeros where
        nothing is predicted), kl float32 [B, P] of each posterior step (0 elsewhere)).
        """
        b, p = valid.shape
        enc = self.tower(images[:, :known].flatten(0, 1), v[:, :known].flatten(0, 1)).unflatten(0, (b, known))
        enc_prev, size, skip = enc[:, 0], state_size(self.cfg), self.skip(enc[:, last_seen])
        hp = enc_prev.new_zeros((b, self.cfg.nf_to_hidden, size, size))
        cp, hq, cq, hr, cr = (hp.clone() for _ in range(5))
        z = hp.new_zeros((b, self.cfg.ni_z, size, size))
        frames, kls = [torch.zeros_like(images[:, 0])], [hp.new_zeros(b, dtype=self.dtype)]
        for j in range(1, p):
            active = valid[:, j] & valid[:, j - 1]
            *prior, hp_new, cp_new = self.prior.step(self.prior.to_hidden(enc_prev), z, hp, cp)
            posterior, hq_new, cq_new = None, hq, cq
            if j < known:
                *posterior, hq_new, cq_new = self.posterior.step(self.posterior.to_hidden(enc[:, j]), z, hq, cq)
            z_new, step_kl = latent_step(prior, posterior, dtype=hp.dtype)
            kls.append(torch.zeros_like(kls[0]) if step_kl is None else step_kl * active)
            hr_new, cr_new = self.predictor(torch.cat([self.to_hidden(enc_prev), z_new], dim=1), hr, cr)
            frame = self.renderer(torch.cat([self.to_latents(hr_new), skip], dim=1), v[:, j:j + 1])[:, 0]
            enc_j = enc[:, j] if j < known else self.tower(frame, v[:, j])
            keep = active[:, None, None, None]
            hp, cp, hq, cq, hr, cr, z = (torch.where(keep, new, old) for new, old in
                                         ((hp_new, hp), (cp_new, cp), (hq_new, hq), (cq_new, cq), (hr_new, hr),
                                          (cr_new, cr), (z_new, z)))
            enc_prev = torch.where(valid[:, j, None, None, None], enc_j, enc_prev)
            frames.append(frame)
        return torch.stack(frames, dim=1), torch.stack(kls, dim=1)

    def compile_sampling(self, compile_fn) -> None:
        """Route the roll-out through compile_fn: `sample` reads how far to roll from the query's values (and checks
        them), so only `roll`, whose shapes follow its inputs' alone, is compiled."""
        self.roll = compile_fn(self.roll)

    def sequences(self, frames, viewpoints, mask) -> tuple:
        """Right-align each scene's real context views (in their order) so the targets follow the last one.
        frames uint8 [B, K, H, W, 3], viewpoints [B, K, 1], mask bool [B, K] (real ones first).
        Returns (frames, viewpoints, valid) of the same shapes."""
        k = frames.shape[1]
        shift = k - mask.sum(1, keepdim=True)                      # [B, 1]
        source = (torch.arange(k, device=frames.device) - shift).clamp(min=0)
        rows = torch.arange(frames.shape[0], device=frames.device)[:, None]
        return frames[rows, source], viewpoints[rows, source], torch.arange(k, device=frames.device) >= shift

    def teacher_forced(self, batch: dict) -> tuple:
        """The training window rolled out with teacher forcing: each real view after the scene's first (context and
        targets alike) predicted from the true frame before it with its posterior latent. Returns (predicted and
        true images [B, M, 3, H, W], kls [B, M] nats per step, is_predicted bool [B, M]) over the M window slots."""
        ctx, ctx_v, ctx_valid = self.sequences(batch["context_frames"], batch["context_viewpoints"],
                                               batch["context_mask"])
        frames = torch.cat([ctx, batch["target_frames"]], dim=1)
        valid = torch.cat([ctx_valid, batch["target_mask"]], dim=1)
        images, v = view_slots(frames, torch.cat([ctx_v, batch["target_viewpoints"]], dim=1), self.cfg, self.dtype)
        predicted, kls = self.roll(images, v, valid, known=frames.shape[1], last_seen=ctx.shape[1] - 1)
        is_predicted = torch.cat([torch.zeros_like(valid[:, :1]), valid[:, 1:] & valid[:, :-1]], dim=1)
        return predicted, images, kls, is_predicted

    def terms(self, batch: dict, pixel_variance) -> dict:
        """Per-scene loss terms (SceneModel) of the teacher-forced window: the reconstruction of every predicted
        frame and the KL of those steps; "kl_loss", the KL with each frame's term at least cfg.free_bits nats."""
        predicted, images, kls, is_predicted = self.teacher_forced(batch)
        every = Packing(is_predicted)   # the roll-out computes every window slot; the unpredicted ones weigh 0
        return {"kl": masked_sum(kls, is_predicted), "kl_loss": masked_sum(kls.clamp(min=self.cfg.free_bits),
                                                                          is_predicted),
                **reconstruction(every.take(predicted), every.take(images), every, pixel_variance)}

    def kl(self, batch: dict, noise: bool = True):
        """Not defined: the ar model has a latent per frame, no latent of the whole scene."""
        raise UserError("the ar model has no latent of the whole scene (one per frame): the KL metrics need "
                        "jump, gqn, factored or badj")

    @torch.no_grad()
    def sample(self, context_frames, context_viewpoints, query_viewpoints, context_mask=None):
        """Roll frames out one after another from the context (read in time order) up to the last query; return
        the queried ones: float [B, Q, 3, H, W] in [0, 1]. Every query must come after the scene's last context
        frame (UserError otherwise); times are frame indices."""
        mask = all_true(context_frames, context_mask)
        t = context_viewpoints[..., 0].float()
        order = torch.where(mask, t, torch.inf).argsort(dim=1)
        rows = torch.arange(t.shape[0], device=t.device)[:, None]
        ctx, ctx_v, valid = self.sequences(context_frames[rows, order], context_viewpoints[rows, order],
                                           mask[rows, order])
        last = ctx_v[:, -1, 0].float()
        ahead = (query_viewpoints[..., 0].float() - last[:, None]).round().long()    # [B, Q]
        if (ahead < 1).any():
            raise UserError("the ar model predicts forward only: every query frame must come after the last "
                            "context frame")
        steps = int(ahead.max())
        times = last[:, None] + torch.arange(1, steps + 1, device=t.device)         # [B, L]
        v = encode_viewpoints(torch.cat([ctx_v.float(), times[..., None]], dim=1), self.cfg, self.dtype)
        images = torch.cat([frames_to_images(ctx, self.dtype),
                            ctx.new_zeros((ctx.shape[0], steps, 3) + ctx.shape[2:4], dtype=self.dtype)], dim=1)
        valid = torch.cat([valid, valid.new_ones((valid.shape[0], steps))], dim=1)
        frames, _ = self.roll(images, v, valid, known=ctx.shape[1], last_seen=ctx.shape[1] - 1)
        return frames[rows, ctx.shape[1] - 1 + ahead]
