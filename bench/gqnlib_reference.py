"""A plain re-statement of gqnlib's `ConsistentGQN`, the speed reference for bench/train.py.

It follows rnagumo/gqnlib at commit 96bd8499f90c00b29817f71e6380bc622ce78479
(2020-07-16, the newest; setup.py version 0.1, not on PyPI): gqnlib/consistent_gqn.py,
renderer.py (LatentDistribution, Renderer, DRAWRenderer), generation.py
(Conv2dLSTMCell), representation.py (Simple) and utils.py. bench/train.py uses
it when `import gqnlib` fails. What it computes, as gqnlib does:

- one representation net (`Simple`: 8ch k2s2, 16ch k2s2, 32ch k3, 32ch k3, a
  ReLU after each) for context and query views, its features summed per scene;
- per scene (not per query), n_layer DRAW steps of a prior p(z | r_c) and a
  posterior q(z | r_c, r_q), each a k2s2 conv of r (`conv1`, recomputed every
  step) concatenated with the previous z, a ConvLSTM and a 5x5 conv to
  (mu, log variance);
- its ConvLSTM: x = x + transform(h) (5x5, out -> in channels), then four
  separate 5x5 gate convolutions of that sum (in -> out channels each);
- a renderer per query view fed z_t (sampled from q at step t) and the query
  viewpoint, reading a canvas with a k2s2 conv, adding a k2s2 transposed conv
  of its state to the canvas every step, and a k4s4 transposed conv of the
  final canvas as the image mean;
- loss: mean over the scenes of the Gaussian NLL summed over query pixels plus
  the KL summed over steps.

The parameter names are gqnlib's, so a real ConsistentGQN's state_dict loads
into this module (bench/train.py checks that both give the same loss when
gqnlib is importable). gqnlib's `Simple` tiles the viewpoint as 7 numbers
(`v.view(-1, 7, 1, 1)`), so viewpoints are 7-vectors here too.
"""

import math

import torch
from torch import nn

VIEWPOINT_DIM = 7   # gqnlib's Simple representation reshapes every viewpoint to 7 numbers


class Conv2dLSTMCell(nn.Module):
    """gqnlib.generation.Conv2dLSTMCell: x + transform(h), then four separate 5x5 gate convolutions."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        kw = dict(kernel_size=5, stride=1, padding=2)
        self.forget = nn.Conv2d(in_channels, out_channels, **kw)
        self.input = nn.Conv2d(in_channels, out_channels, **kw)
        self.output = nn.Conv2d(in_channels, out_channels, **kw)
        self.state = nn.Conv2d(in_channels, out_channels, **kw)
        self.transform = nn.Conv2d(out_channels, in_channels, **kw)

    def forward(self, x, states):
        """Return the new (h, c)."""
        h, c = states
        x = x + self.transform(h)
        c = torch.sigmoid(self.forget(x)) * c + torch.sigmoid(self.input(x)) * torch.tanh(self.state(x))
        return torch.sigmoid(self.output(x)) * torch.tanh(c), c


class LatentDistribution(nn.Module):
    """gqnlib.renderer.LatentDistribution: conv1 (k = s = stride) of r, ConvLSTM over [conv1(r), z], 5x5 conv2."""

    def __init__(self, r_channel: int, e_channel: int, h_channel: int, z_channel: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(r_channel, e_channel, stride, stride=stride)
        self.lstm_cell = Conv2dLSTMCell(e_channel + z_channel, h_channel)
        self.conv2 = nn.Conv2d(h_channel, 2 * z_channel, 5, padding=2)

    def forward(self, r, z, h, c):
        """Return (mu, logvar, h, c)."""
        h, c = self.lstm_cell(torch.cat([self.conv1(r), z], dim=1), (h, c))
        mu, logvar = self.conv2(h).chunk(2, dim=1)
        return mu, logvar, h, c


class Renderer(nn.Module):
    """gqnlib.renderer.Renderer: one step u = u + deconv(LSTM([z_t, v, conv(u)]))."""

    def __init__(self, h_channel: int, d_channel: int, z_channel: int, u_channel: int, v_dim: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(u_channel, d_channel, stride, stride=stride)
        self.lstm_cell = Conv2dLSTMCell(z_channel + v_dim + d_channel, h_channel)
        self.deconv = nn.ConvTranspose2d(h_channel, u_channel, stride, stride=stride)

    def forward(self, z, v, u, h, c):
        """z [b, z, s, s] (per scene), v [b, n, v], u [b*n, u, 2s, 2s], h, c [b*n, h, s, s] -> (u, h, c)."""
        b, n, v_dim = v.shape
        size = z.shape[-1]
        z = z.repeat_interleave(n, dim=0)
        v = v.reshape(b * n, v_dim, 1, 1).repeat(1, 1, size, size)
        h, c = self.lstm_cell(torch.cat([z, v, self.conv(u)], dim=1), (h, c))
        return u + self.deconv(h), h, c


class DRAWRenderer(nn.Module):
    """gqnlib.renderer.DRAWRenderer: prior, posterior and renderer stepped together n_layer times."""

    def __init__(self, u_channel=128, r_channel=32, e_channel=128, d_channel=128, h_channel=64, z_channel=3,
                 stride=2, v_dim=VIEWPOINT_DIM, n_layer=8, scale=4):
        super().__init__()
        self.u_channel, self.h_channel, self.z_channel = u_channel, h_channel, z_channel
        self.stride, self.n_layer, self.scale = stride, n_layer, scale
        self.prior = LatentDistribution(r_channel, e_channel, h_channel, z_channel, stride)
        self.posterior = LatentDistribution(2 * r_channel, e_channel, h_channel, z_channel, stride)
        self.renderer = Renderer(h_channel, d_channel, z_channel, u_channel, v_dim, stride)
        self.translation = nn.ConvTranspose2d(u_channel, 3, kernel_size=4, stride=4)

    def forward(self, x, v, r_c, r_q):
        """x [b, n, 3, H, W], v [b, n, v_dim], r_c, r_q [b, r, H/4, W/4] -> (image means [b, n, 3, H, W], kl [b])."""
        b, n, _, height, _ = x.shape
        s = height // (self.scale * self.stride)
        state = lambda count: x.new_zeros((count, self.h_channel, s, s))
        h_phi, c_phi, h_psi, c_psi = state(b), state(b), state(b), state(b)
        h_rnd, c_rnd = state(b * n), state(b * n)
        u = x.new_zeros((b * n, self.u_channel, s * self.stride, s * self.stride))
        z = x.new_zeros((b, self.z_channel, s, s))
        kl = x.new_zeros((b,))
        for _ in range(self.n_layer):
            p_mu, p_logvar, h_phi, c_phi = self.prior(r_c, z, h_phi, c_phi)
            q_mu, q_logvar, h_psi, c_psi = self.posterior(torch.cat([r_c, r_q], dim=1), z, h_psi, c_psi)
            z = q_mu + (0.5 * q_logvar).exp() * torch.randn_like(q_logvar)
            u, h_rnd, c_rnd = self.renderer(z, v, u, h_rnd, c_rnd)
            kl = kl + kl_divergence_normal(q_mu, q_logvar.exp(), p_mu, p_logvar.exp()).sum([1, 2, 3])
        return self.translation(u).unflatten(0, (b, n)), kl


def kl_divergence_normal(mu0, var0, mu1, var1):
    """gqnlib.utils.kl_divergence_normal, elementwise: KL(N(mu0, var0) || N(mu1, var1))."""
    return 0.5 * (var0 / var1 + (mu1 - mu0) ** 2 / var1 - 1 + (var1 / var0).log())


class ConsistentGQN(nn.Module):
    """gqnlib.ConsistentGQN(representation_params, generator_params) with its defaults (u 128, r 32, e 128,
    d 128, h 64, z 3, stride 2, v_dim 7, n_layer 8, scale 4) unless generator_params says otherwise."""

    def __init__(self, representation_params=None, generator_params=None):
        super().__init__()
        if representation_params:
            raise ValueError("the restatement has gqnlib's default representation net only")
        self.representation = Simple()
        self.generator = DRAWRenderer(**(generator_params or {}))

    def represent(self, x, v):
        """x [b, m, 3, H, W], v [b, m, 7] -> representation summed over the m views [b, 32, H/4, W/4]."""
        b, m = x.shape[:2]
        return self.representation(x.flatten(0, 1), v.flatten(0, 1)).unflatten(0, (b, m)).sum(1)

    def loss_func(self, x_c, v_c, x_q, v_q, var=1.0, beta=1.0) -> dict:
        """gqnlib's BaseGQN.loss_func: {"loss", "nll_loss", "kl_loss"}, each the mean over the b scenes."""
        r_c, r_q = self.represent(x_c, v_c), self.represent(x_q, v_q)
        canvas, kl = self.generator(x_q, v_q, r_c, r_q)
        var = x_q.new_ones((1,)) * var
        nll = (0.5 * ((2 * math.pi * var).log() + (x_q - canvas) ** 2 / var)).sum([1, 2, 3, 4])
        kl = kl * beta
        return {"loss": (nll + kl).mean(), "nll_loss": nll.mean(), "kl_loss": kl.mean()}


class Simple(nn.Module):
    """gqnlib.representation.Simple: 8ch k2s2, 16ch k2s2, 32ch k3, 32ch k3, ReLU after each; viewpoint tiled
    over the image and concatenated to its channels."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3 + VIEWPOINT_DIM, 8, 2, stride=2), nn.ReLU(),
            nn.Conv2d(8, 16, 2, stride=2), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU())

    def forward(self, x, v):
        """x [N, 3, H, W], v [N, 7] -> r [N, 32, H/4, W/4]."""
        v = v.reshape(-1, VIEWPOINT_DIM, 1, 1).repeat(1, 1, x.shape[-2], x.shape[-1])
        return self.conv(torch.cat([x, v], dim=1))
