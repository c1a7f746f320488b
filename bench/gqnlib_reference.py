"""A plain re-statement of the public gqnlib `ConsistentGQN` (rnagumo/gqnlib), the speed reference for bench/train.py.

Used only when gqnlib itself is not installed. It keeps gqnlib's structure and
costs: a 4-layer representation net (8, 16, 32, 32 channels, viewpoint
concatenated to the image) shared by context and queries and summed; prior and
posterior DRAW chains (run, as gqnlib's published `inference` does, once per
query: r_c and r_q are `repeat_interleave`d n times, so every query view has its
own z) whose LSTM input is a k2s2 conv (e_channel 128) of r
(posterior: of [r_c, r_q]) recomputed every step, 5x5 ConvLSTM cells with four
separate gate convolutions plus a 5x5 `transform` of h; a renderer reading a
128-channel canvas with a k2s2 conv, writing it with a k2s2 transposed conv,
and a final k4s4 transposed conv to the 64x64 image; Gaussian NLL + KL.
"""

import math

import torch
from torch import nn


class GqnlibConv2dLSTMCell(nn.Module):
    """gqnlib's Conv2dLSTMCell: x + transform(h), then four separate 5x5 gate convs."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        kw = dict(kernel_size=5, stride=1, padding=2)
        self.forget = nn.Conv2d(in_channels, out_channels, **kw)
        self.input = nn.Conv2d(in_channels, out_channels, **kw)
        self.output = nn.Conv2d(in_channels, out_channels, **kw)
        self.state = nn.Conv2d(in_channels, out_channels, **kw)
        self.transform = nn.Conv2d(out_channels, in_channels, **kw)

    def forward(self, x, h, c):
        """Return the new (h, c)."""
        x = x + self.transform(h)
        c = torch.sigmoid(self.forget(x)) * c + torch.sigmoid(self.input(x)) * torch.tanh(self.state(x))
        return torch.sigmoid(self.output(x)) * torch.tanh(c), c


class GqnlibLatent(nn.Module):
    """gqnlib's LatentDistribution: conv k2s2 of r to e_channel, ConvLSTM over [e, z], 5x5 head."""

    def __init__(self, r_channel, e_channel=128, h_channel=64, z_channel=3, stride=2):
        super().__init__()
        self.conv1 = nn.Conv2d(r_channel, e_channel, stride, stride=stride)
        self.cell = GqnlibConv2dLSTMCell(e_channel + z_channel, h_channel)
        self.conv2 = nn.Conv2d(h_channel, 2 * z_channel, 5, padding=2)

    def forward(self, r, z, h, c):
        """Return (mu, logvar, h, c)."""
        h, c = self.cell(torch.cat([self.conv1(r), z], dim=1), h, c)
        mu, logvar = self.conv2(h).chunk(2, dim=1)
        return mu, logvar, h, c


class GqnlibConsistentGQN(nn.Module):
    """ConsistentGQN with gqnlib's defaults (u 128, r 32, e 128, d 128, h 64, z 3, stride 2, scale 4)."""

    def __init__(self, n_layer=4, v_dim=7):
        super().__init__()
        self.n_layer = n_layer
        self.representation = nn.Sequential(
            nn.Conv2d(3 + v_dim, 8, 2, stride=2), nn.ReLU(), nn.Conv2d(8, 16, 2, stride=2), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1))
        self.prior = GqnlibLatent(32)
        self.posterior = GqnlibLatent(64)
        self.read = nn.Conv2d(128, 128, 2, stride=2)
        self.render_cell = GqnlibConv2dLSTMCell(3 + v_dim + 128, 64)
        self.write = nn.ConvTranspose2d(64, 128, 2, stride=2)
        self.translation = nn.ConvTranspose2d(128, 3, 4, stride=4)

    def represent(self, x, v):
        """x [b, m, 3, 64, 64], v [b, m, 7] -> r summed over m: [b, 32, 16, 16]."""
        b, m = x.shape[:2]
        vb = v.flatten(0, 1)[:, :, None, None].expand(-1, -1, 64, 64)
        return self.representation(torch.cat([x.flatten(0, 1), vb], dim=1)).unflatten(0, (b, m)).sum(1)

    def loss(self, x_c, v_c, x_q, v_q, var=1.0):
        """Negative ELBO per scene (mean over the batch), gqnlib's `loss_func`."""
        b, n = x_q.shape[:2]
        r_c = self.represent(x_c, v_c).repeat_interleave(n, dim=0)
        r_q = self.represent(x_q, v_q).repeat_interleave(n, dim=0)
        zeros = lambda ch, s: x_q.new_zeros((b * n, ch, s, s))
        hp, cp, hq, cq, hr, cr = (zeros(64, 8) for _ in range(6))
        u, z, kl = zeros(128, 16), zeros(3, 8), 0.0
        vb = v_q.flatten(0, 1)[:, :, None, None].expand(-1, -1, 8, 8)
        for _ in range(self.n_layer):
            pm, plv, hp, cp = self.prior(r_c, z, hp, cp)
            qm, qlv, hq, cq = self.posterior(torch.cat([r_c, r_q], dim=1), z, hq, cq)
            z = qm + (0.5 * qlv).exp() * torch.randn_like(qlv)
            hr, cr = self.render_cell(torch.cat([z, vb, self.read(u)], dim=1), hr, cr)
            u = u + self.write(hr)
            kl = kl + 0.5 * (plv - qlv + (qlv.exp() + (qm - pm) ** 2) / plv.exp() - 1).sum((1, 2, 3))
        canvas = self.translation(u).unflatten(0, (b, n))
        nll = 0.5 * (((x_q - canvas) ** 2) / var + math.log(2 * math.pi * var)).sum((2, 3, 4))
        return (nll.flatten() + kl).mean()
