"""The convolutional-DRAW latent chain every model draws its latents with (appendix B of the JUMP paper), read top
to bottom.

    Draw                one latent chain (prior or posterior): nt ConvLSTM steps emitting N(mean, std) per step
    latent_head         the conv from an LSTM state to a latent's mean and raw std
    head_gaussian       a latent head applied in float32, outside any autocast
    latent_step         ONE DRAW step's latent: the reparameterised draw and its KL(q || p), used by every model
    draw_latents        nt DRAW steps of a prior chain with, given targets, its posterior beside it
    gaussian_kl         the closed-form KL of two diagonal Gaussians
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from .blocks import ConvLSTMCell, ConvLSTMRollout

STD_FLOOR = 1e-4      # added to every latent std


class Draw(nn.Module):
    """One convolutional-DRAW latent chain (prior or posterior): nt ConvLSTM steps, each emitting N(mu, sigma).

    `reads_prior` (a posterior): each step's gates also read the prior chain's state of the same step through
    `read_prior`, a convolution that starts at zero (so the chain starts as one that does not read it)."""

    def __init__(self, cfg: ModelConfig, in_channels: int, reads_prior: bool = False):
        super().__init__()
        k = cfg.lstm_kernel
        self.to_hidden = nn.Conv2d(in_channels, cfg.nf_enc, cfg.stride_to_hidden, stride=cfg.stride_to_hidden)
        self.cell = ConvLSTMCell(cfg.nf_enc + cfg.ni_z, cfg.nf_to_hidden, k)
        self.head = latent_head(cfg)
        self.read_prior = None
        if reads_prior:
            self.read_prior = nn.Conv2d(cfg.nf_to_hidden, 4 * cfg.nf_to_hidden, k, padding=k // 2, bias=False)
            nn.init.zeros_(self.read_prior.weight)

    def start(self, features):
        """Map the conditioning features [B, C, H/4, W/4] to the LSTM input and zero state.

        Returns (input [B, nf_enc, S, S], h, c) with h, c zeros [B, nf_to_hidden, S, S].
        """
        x = self.to_hidden(features)
        h = x.new_zeros((x.shape[0], self.cell.gates.out_channels // 4) + x.shape[2:])
        return x, h, h.clone()

    def step(self, x, z_prev, h, c):
        """One DRAW step: returns (mean, std, h, c); mean and std are float32 [B, ni_z, S, S]."""
        h, c = self.cell(torch.cat([x, z_prev], dim=1), h, c)
        return (*head_gaussian(self.head, h), h, c)

    def rollout(self, features) -> ConvLSTMRollout:
        """Start a chain conditioned on features [B, C, H/4, W/4]: its LSTM input at every step is
        [to_hidden(features), z_prev], the first part fixed. Step it with `next`."""
        return self.cell.rollout(self.to_hidden(features))

    def next(self, run: ConvLSTMRollout, z_prev=None, prior_state=None) -> tuple:
        """One DRAW step of a roll-out given the previous z (None: zeros, the first step) and, for a chain that
        reads the prior, the prior's state h of this step [B, nf_to_hidden, S, S]: returns (mean, std), float32
        [B, ni_z, S, S] each."""
        extra = None if self.read_prior is None else self.read_prior(prior_state)
        return head_gaussian(self.head, run.step(z_prev, extra))


def latent_head(cfg: ModelConfig) -> nn.Conv2d:
    """The conv from an LSTM state to a latent's mean and raw std (2 * ni_z channels), the std starting at
    latent_std_init (the softplus's inverse as the std half's bias)."""
    head = nn.Conv2d(cfg.nf_to_hidden, 2 * cfg.ni_z, cfg.lstm_kernel, padding=cfg.lstm_kernel // 2)
    with torch.no_grad():
        head.bias[cfg.ni_z:].fill_(math.log(math.expm1(cfg.latent_std_init - STD_FLOOR)))
    return head


def head_gaussian(head: nn.Conv2d, h) -> tuple:
    """Apply a latent head to a state h in the head's own precision (float32; float64 in exact checks), outside
    any autocast (a bf16 mean is off by about 2^-8 of its size, which a small std turns into nats of KL):
    returns (mean, std) [N, ni_z, S, S] in that precision."""
    with torch.autocast(h.device.type, enabled=False):
        mean, std_raw = head(h.to(head.weight.dtype)).chunk(2, dim=1)
        return mean, F.softplus(std_raw) + STD_FLOOR


def latent_step(prior: tuple, posterior: tuple = None, noise: bool = True, dtype=None) -> tuple:
    """One DRAW step's latent, the same in every model: z from the posterior's (mean, std) when given, else from
    the prior's, reparameterised (noise=False: its mean), cast to `dtype`. Means and stds float32 [N, ni_z, S, S]
(head_gaussian's).

    Returns (z [N, ni_z, S, S], kl): kl float32 [N], KL(q || p) of this step summed over its elements in nats,
    or None without a posterior."""
    mean, std = prior if posterior is None else posterior
    with torch.autocast(mean.device.type, enabled=False):   # the KL in float32, whatever the caller's autocast
        kl = None if posterior is None else gaussian_kl(*posterior, *prior).flatten(1).sum(1)
    return (mean + std * torch.randn_like(std) if noise else mean).to(dtype), kl


def add_kl(total, step_kl):
    """Return the running KL `total` (None before the first step) plus a step's KL (None: nothing to add)."""
    return step_kl if total is None else total if step_kl is None else total + step_kl


def draw_latents(prior: Draw, posterior: Draw, nt: int, prior_input, posterior_input=None, noise: bool = True):
    """The DRAW roll-out: nt steps of the prior chain, and given `posterior_input` the posterior chain beside it.

    Both chains read the previous step's z; a posterior built with reads_prior also reads the prior's state of
    the same step. Without `posterior_input`: z ~ p (sampling), kl is None. With it:
    z ~ q (reparameterised) and kl float32 [N], the sum over steps and elements of KL(q || p) in nats.
    noise=False follows the chosen chain's means instead of drawing (a deterministic path, for exact checks).
    prior_input [N, C, H/4, W/4], posterior_input [N, C', H/4, W/4]. Returns (z [N, nt*ni_z, S, S], kl).
    """
    p_run = prior.rollout(prior_input)
    q_run = posterior.rollout(posterior_input) if posterior_input is not None else None
    z, zs, kl = None, [], None
    for _ in range(nt):
        p = prior.next(p_run, z)
        z, step_kl = latent_step(p, None if q_run is None else posterior.next(q_run, z, p_run.h), noise,
                                 p_run.fixed_gates.dtype)
        kl = add_kl(kl, step_kl)
        zs.append(z)
    return torch.cat(zs, dim=1), kl


def gaussian_kl(qm, qs, pm, ps):
    """Elementwise KL(N(qm, qs^2) || N(pm, ps^2)) in nats, same shape as the inputs (>= 0)."""
    return torch.log(ps / qs) + (qs.square() + (qm - pm).square()) / (2 * ps.square()) - 0.5
