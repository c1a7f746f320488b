"""The baselines of the paper's experiments, built from the shared blocks (blocks.py), read top to bottom.

    GQN   the factored model: one latent per query view, z_i ~ p(z_i | r, v_i) (DRAW), the same deterministic
          renderer f_i = Renderer(z_i, v_i); KL summed over the targets; every query sampled with its own z
    BADJ  the paper's ablation: JUMP without the deterministic renderer, the query-independent latent and
          multi-target training; GQN's own generator, whose latents are drawn inside the rendering roll-out
          (one per step, prior from the generator's state), trained on one target view per scene
    AR    an autoregressive stochastic video model in the spirit of SV2P / SVG-LP: a latent per frame from a
          learned prior p(z_t | frames < t), a ConvLSTM predictor over the frames one after another, each frame
          drawn by the renderer from the predictor's state; time viewpoints only

Each takes the batches of data.SceneViews and gives what interface.SceneModel asks (per-scene kl, nll, sq, pixels);
docs/model.md ("Baselines") says how each differs from JUMP.
"""

from abc import abstractmethod

import torch
from torch import nn

from scene_shards.common import UserError

from ..config import ModelConfig
from .blocks import (TOWER_CHANNELS, ConvLSTMCell, Draw, Renderer, Tower, add_kl, all_true, broadcast, draw_latents,
                     encode_viewpoints, encoded_viewpoint_dim, frames_to_images, full_precision, head_gaussian,
                     latent_head, latent_step, masked_sum, reconstruction, state_size, view_slots, widened)
from .interface import SceneModel, TowerModel


class PerQueryModel(TowerModel):
    """A model with one latent per query view, conditioned on r and that view's viewpoint (GQN, BADJ): each target
    slot is reconstructed from its own posterior latent (the padded ones weighing 0), every sampled query drawn
    with its own z."""

    @abstractmethod
    def query_frames(self, r, v, e=None, noise: bool = True) -> tuple:
        """One latent and frame per query: r [N, 32, H/4, W/4] (the query's scene's), v encoded [N, vdim], e the
        target's own encoding [N, 32, H/4, W/4] or None (prior). Returns (images float [N, 3, H, W], kl [N] or None)."""

    def posterior_frames(self, batch: dict, noise: bool = True) -> tuple:
        """Each target slot reconstructed from its own posterior latent. Returns (images [B, T, 3, H, W], kl float32
        [B] summed over each scene's real targets, truth [B, T, 3, H, W], mask bool [B, T] of the real targets)."""
        r = self.represent(batch["context_frames"], batch["context_viewpoints"], batch["context_mask"])
        truth, v, mask = self.target_slots(batch)
        shape, v_all = mask.shape, v.flatten(0, 1)
        images, kl = self.query_frames(r.repeat_interleave(shape[1], dim=0), v_all,
                                       self.target_tower(truth.flatten(0, 1), v_all), noise)
        return images.unflatten(0, shape), masked_sum(kl.unflatten(0, shape), mask), truth, mask

    def terms(self, batch: dict, pixel_variance) -> dict:
        """Per-scene loss terms (SceneModel): KL and reconstruction summed over the real targets."""
        images, kl, truth, mask = self.posterior_frames(batch)
        return {"kl": kl, **reconstruction(images, truth, mask, pixel_variance)}

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


class GQN(PerQueryModel):
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

class BADJ(PerQueryModel):
    """GQN's generator: nt ConvLSTM steps per query, each drawing z_t from a prior on the generator's state (or the
    posterior, which also reads the target) and feeding it to the next state; a canvas summed as in the renderer."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        vdim, size, so = self.vdim, state_size(cfg), cfg.stride_to_obs
        self.posterior = Draw(cfg, 2 * TOWER_CHANNELS + vdim)     # q(z_t | r, v, f, z_<t)
        self.to_hidden = nn.Conv2d(TOWER_CHANNELS + vdim, cfg.nf_enc, cfg.stride_to_hidden, stride=cfg.stride_to_hidden)
        self.cell = ConvLSTMCell(cfg.nf_enc + cfg.ni_z + cfg.nf_dec, cfg.nf_to_hidden, cfg.lstm_kernel)
        self.prior_head = latent_head(cfg)                         # p(z_t | generator state)
        self.read = nn.Conv2d(cfg.nf_to_obs, cfg.nf_dec, so, stride=so)
        self.write = nn.ConvTranspose2d(cfg.nf_to_hidden, cfg.nf_to_obs, so, stride=so)
        up = cfg.image_size // (size * so)
        self.to_image = nn.ConvTranspose2d(cfg.nf_to_obs, 3, up, stride=up)

    def query_frames(self, r, v, e=None, noise: bool = True) -> tuple:
        """As PerQueryModel.query_frames, the latents drawn inside the generator's roll-out."""
        cond = torch.cat([r, broadcast(v, r.shape[-1])], dim=1)
        x = self.to_hidden(cond)
        h = x.new_zeros((x.shape[0], self.cell.gates.out_channels // 4) + x.shape[2:])
        c = h.clone()
        canvas = x.new_zeros((x.shape[0], self.write.out_channels) + tuple(self.write.stride[0] * n
                                                                          for n in x.shape[2:]))
        if e is not None:
            xq, hq, cq = self.posterior.start(torch.cat([cond, e], dim=1))
        z = x.new_zeros((x.shape[0], self.cfg.ni_z) + x.shape[2:])
        kl = None
        for _ in range(self.cfg.nt):
            prior, posterior = head_gaussian(self.prior_head, h), None
            if e is not None:
                *posterior, hq, cq = self.posterior.step(xq, z, hq, cq)
            z, step_kl = latent_step(prior, posterior, noise, x.dtype)
            kl = add_kl(kl, step_kl)
            h, c = self.cell(torch.cat([x, z, self.read(canvas)], dim=1), h, c)
            canvas = canvas + self.write(h)
        return torch.sigmoid(widened(self.to_image(canvas))), kl


class AR(SceneModel):
    """A stochastic video model run frame after frame: latent z_t from the prior (reads frame t-1) or posterior
    (reads frame t), a ConvLSTM predictor over [frame t-1, z_t], frame t rendered from its state at time t."""

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
        self.to_latents = nn.Conv2d(cfg.nf_to_hidden, cfg.nt * cfg.ni_z, 1)   # the renderer's input
        self.renderer = Renderer(cfg, vdim, state_size(cfg))

    def roll(self, images, v, valid, known: int) -> tuple:
        """Run the frames of B sequences of P positions one after another.

        images float [B, P, 3, H, W]: the true frames of positions < `known` (later ones are ignored: each is
        replaced by the frame predicted there); v encoded times [B, P, 1]; valid bool [B, P], one run of True per
        sequence. Position j (valid, after a valid j-1) is predicted from frame j-1 with z_j from the posterior
        (j < known) or the prior. Returns (predicted frames float [B, P, 3, H, W] (zeros where nothing is
        predicted), kl float32 [B, P] of each posterior step (0 elsewhere)).
        """
        b, p = valid.shape
        enc = self.tower(images[:, :known].flatten(0, 1), v[:, :known].flatten(0, 1)).unflatten(0, (b, known))
        enc_prev, size = enc[:, 0], state_size(self.cfg)
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
            frame = self.renderer(self.to_latents(hr_new), v[:, j:j + 1])[:, 0]
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
        """Every position of a batch's context then targets, each predicted from the true frame before it (teacher
        forcing) with its posterior latent. Returns (predicted and true frames [B, K + T, 3, H, W], kl [B, K + T] of
        each step, is_target bool [B, K + T]: the real targets)."""
        ctx, ctx_v, ctx_valid = self.sequences(batch["context_frames"], batch["context_viewpoints"],
                                               batch["context_mask"])
        frames = torch.cat([ctx, batch["target_frames"]], dim=1)
        valid = torch.cat([ctx_valid, batch["target_mask"]], dim=1)
        images, v = view_slots(frames, torch.cat([ctx_v, batch["target_viewpoints"]], dim=1), self.cfg, self.dtype)
        predicted, kls = self.roll(images, v, valid, known=frames.shape[1])
        return predicted, images, kls, torch.cat([torch.zeros_like(ctx_valid), batch["target_mask"]], dim=1)

    def terms(self, batch: dict, pixel_variance) -> dict:
        """Per-scene loss terms (SceneModel): the real targets, teacher-forced; KL of the target steps only."""
        predicted, images, kls, is_target = self.teacher_forced(batch)
        return {"kl": masked_sum(kls, is_target), **reconstruction(predicted, images, is_target, pixel_variance)}

    def kl(self, batch: dict, noise: bool = True):
        """Not defined: the ar model has a latent per frame, no latent of the whole scene."""
        raise UserError("the ar model has no latent of the whole scene (one per frame): the KL metrics need "
                        "jump, gqn or badj")

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
        frames, _ = self.roll(images, v, valid, known=ctx.shape[1])
        return frames[rows, ctx.shape[1] - 1 + ahead]
