"""The blocks every model is built from (appendix B of the JUMP paper), read top to bottom; the DRAW latent chain
is in draw.py.

    encode_viewpoints   raw viewpoints -> model features (time: t / (V-1); camera: GQN's 7-vector)
    frames_to_images    uint8 frames [..., H, W, 3] -> float images [..., 3, H, W] in [0, 1] (the one conversion)
    view_slots          view slots as model input (images and encoded viewpoints)
    masked_sum          a sum over view slots weighted by their mask: the real views alone count
    Packing             N of a batch's view slots, the real ones first, with the scene of each: N fixed by the
                        batch ("context_count", "target_count": the same in every training batch), else all
    ConvLSTMCell        a convolutional LSTM cell (and ConvLSTMRollout, its faster roll-out from the zero state)
    Tower               the representation net: a view and its viewpoint -> features [32, H/4, W/4]
    Renderer            the deterministic ConvLSTM renderer M_gamma(z, v)
    reconstruction      per-scene Gaussian negative log-likelihood and squared error of rendered target slots

Frames enter as uint8 [B, N, H, W, 3] and are scaled to [0, 1]; viewpoints enter raw (time: frame index;
camera: x, y, z, yaw, pitch) and are encoded here, so a checkpoint needs no data statistics beyond its config.
A batch's scenes have 1..K context and 1..T target views in fixed slots, masks marking the real ones. The
views are packed into N slots (Packing): the batch's number of real views where every batch holds the same
(training), else all B x K or B x T, the padded ones weighing 0. So no tensor's size depends on the data and
a compiled step is one graph whatever the view counts (docs/model.md, "The static step"). Inputs are made in
the model's float type (float32; float64 for exact checks); outputs of a 16-bit autocast are widened to
float32.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from scene_shards.manifest import VIEWPOINT_NAMES

from ..config import ModelConfig

CAMERA_POSITION = [VIEWPOINT_NAMES["camera"].index(n) for n in ("x", "y", "z")]
CAMERA_YAW, CAMERA_PITCH = (VIEWPOINT_NAMES["camera"].index(n) for n in ("yaw", "pitch"))
TOWER_CHANNELS = 32   # output channels of the appendix-B representation tower


def encoded_viewpoint_dim(kind: str) -> int:
    """Return the number of features encode_viewpoints makes for a viewpoint kind ("time": 1, "camera": 7)."""
    return {"time": 1, "camera": 7}[kind]


def encode_viewpoints(v: torch.Tensor, cfg: ModelConfig, dtype=torch.float32) -> torch.Tensor:
    """Encode raw viewpoints [..., D] as model features of `dtype` [..., 1 or 7].

    time: the normalised frame index t / (V - 1) in [0, 1].
    camera: names.CAMERA_ENCODING, gqn_records.layout.PYTORCH_PORTS_CAMERA (x, y, z, cos yaw, sin yaw, cos pitch,
    sin pitch), positions / position_scale.
    """
    v = v.to(dtype)
    if cfg.viewpoint_kind == "time":
        return v[..., :1] / max(cfg.views_per_scene - 1, 1)
    pos = v[..., CAMERA_POSITION] / cfg.position_scale
    yaw, pitch = v[..., CAMERA_YAW:CAMERA_YAW + 1], v[..., CAMERA_PITCH:CAMERA_PITCH + 1]
    return torch.cat([pos, yaw.cos(), yaw.sin(), pitch.cos(), pitch.sin()], dim=-1)


def frames_to_images(frames: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """uint8 [..., H, W, 3] -> `dtype` (default float32) [..., 3, H, W] in [0, 1]."""
    return frames.movedim(-1, -3).to(dtype) / 255.0


def view_slots(frames, viewpoints, cfg: ModelConfig, dtype=torch.float32) -> tuple:
    """Every view slot of a batch as model input: (images [B, M, 3, H, W] in [0, 1], encoded viewpoints
    [B, M, vdim]), both of `dtype`, from frames uint8 [B, M, H, W, 3] and raw viewpoints [B, M, D]."""
    return frames_to_images(frames, dtype), encode_viewpoints(viewpoints, cfg, dtype)


def masked_sum(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum x [B, M, ...] over its M slots where mask bool [B, M] is True -> [B, ...]. A padded slot adds an exact
    zero whatever finite values it holds, so the sum is that of the real slots alone."""
    return torch.where(mask.view(mask.shape + (1,) * (x.dim() - 2)), x, 0).sum(1)


class Packing:
    """N of a batch's B x M view slots (mask bool [B, M], the real ones True), the real ones first in the order of
    the slots: `n` (a Python int, at least the number of real slots: a batch's "target_count") or, None, all
    B x M. Holds slot [N] (the flat index of each into B x M), scene [N] (its scene) and real bool [N]; its
    shapes follow n and the mask's shape alone, so the step stays one graph. `take` packs a slot tensor,
    `per_scene` sums packed values into their scenes (the padded ones adding an exact zero)."""

    def __init__(self, mask: torch.Tensor, n: int = None):
        self.scenes, per_scene = mask.shape
        flat = mask.flatten()
        self.slot = torch.argsort((~flat).to(torch.uint8), stable=True)[:n]
        self.scene, self.real = self.slot // per_scene, flat[self.slot]

    def take(self, x: torch.Tensor) -> torch.Tensor:
        """The packed slots of x [B, M, ...]: [N, ...]."""
        return x.flatten(0, 1).index_select(0, self.slot)

    def per_scene(self, x: torch.Tensor) -> torch.Tensor:
        """Sum x [N, ...] (packed slots) over each scene's real slots -> [B, ...] of x's dtype."""
        real = self.real.view(self.real.shape + (1,) * (x.dim() - 1))
        return x.new_zeros((self.scenes,) + x.shape[1:]).index_add(0, self.scene, torch.where(real, x, 0))


def widened(x: torch.Tensor) -> torch.Tensor:
    """Return x in float32 when it is of a 16-bit float type (an autocast's output), else x as it is."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


def broadcast(v: torch.Tensor, size: int) -> torch.Tensor:
    """Tile feature vectors [N, D] over a square grid: [N, D, size, size]."""
    return v[:, :, None, None].expand(-1, -1, size, size)


def state_size(cfg: ModelConfig) -> int:
    """Return S, the side of the latent and LSTM grids: H / 4 / stride_to_hidden (ValueError if it does not divide)."""
    rep_size = cfg.image_size // 4
    if rep_size * 4 != cfg.image_size or rep_size % cfg.stride_to_hidden:
        raise ValueError(f"image size {cfg.image_size} must be a multiple of 4 x stride_to_hidden")
    return rep_size // cfg.stride_to_hidden


def all_true(frames, mask):
    """Return `mask`, or (None) an all-True bool mask [B, K] for frames [B, K, ...]."""
    return torch.ones(frames.shape[:2], dtype=torch.bool, device=frames.device) if mask is None else mask


class ConvLSTMCell(nn.Module):
    """A convolutional LSTM cell with its four gates fused into one convolution over [input, h].

    `forward` is one step from a given state. `rollout` runs the same cell over several steps faster when
    the input begins with the same channels at every step (see ConvLSTMRollout).
    """

    def __init__(self, in_channels: int, hidden: int, kernel: int):
        super().__init__()
        self.gates = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel, padding=kernel // 2)
        with torch.no_grad():
            self.gates.bias.zero_()
            self.gates.bias[hidden:2 * hidden].fill_(1.0)   # forget gate starts open

    def forward(self, x, h, c):
        """Return the new (h, c), each [N, hidden, S, S]."""
        return lstm_update(self.gates(torch.cat([x, h], dim=1)), c)

    def rollout(self, fixed) -> "ConvLSTMRollout":
        """Start a roll-out from the zero state whose input begins with `fixed` [N, F, S, S] at every step."""
        return ConvLSTMRollout(self.gates, fixed)


def lstm_update(gates, c):
    """LSTM update from gate pre-activations [N, 4*hidden, S, S] (i, f, o, g) and the cell c (None: zero):
    returns (h, c), each [N, hidden, S, S]."""
    i, f, o, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(i) * torch.tanh(g) if c is None else torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class ConvLSTMRollout:
    """A ConvLSTMCell stepped from the zero state, its input at every step being [fixed, x_t] with `fixed` the
    same at each step and x_0 zero. The gate convolution is linear in its input, so it is split by input
    channels: conv(fixed) (with the bias) is computed once, the first step (zero x, h and c) is that alone,
    and each later step convolves only [x_t, h]. Same result as the cell's `forward` at every step.
    """

    def __init__(self, gates: nn.Conv2d, fixed):
        n = fixed.shape[1]
        self.padding = gates.padding
        self.fixed_gates = F.conv2d(fixed, gates.weight[:, :n], gates.bias, padding=self.padding)
        self.weight = gates.weight[:, n:]                        # columns of [x_t, h]
        self.h = self.c = None

    def step(self, x=None, extra=None):
        """Advance one step with x [N, C, S, S], the rest of this step's input (None at the first step, where it
        is zero), and `extra` (None: nothing) added to the gate pre-activations [N, 4*hidden, S, S]. Returns h
        [N, hidden, S, S]."""
        gates = self.fixed_gates
        if self.h is not None:
            gates = gates + F.conv2d(torch.cat([x, self.h], dim=1), self.weight, padding=self.padding)
        if extra is not None:
            gates = gates + extra
        self.h, self.c = lstm_update(gates, self.c)
        return self.h


class Tower(nn.Module):
    """Appendix B's representation net: 8ch k2s2, 16ch k2s2, 32ch k3s1, 32ch k3s1, ReLU between.

    The encoded viewpoint is broadcast over the image and concatenated to its channels.
    """

    def __init__(self, vdim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3 + vdim, 8, 2, stride=2), nn.ReLU(),
            nn.Conv2d(8, 16, 2, stride=2), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, TOWER_CHANNELS, 3, padding=1))

    def forward(self, images, v):
        """images float [N, 3, H, W], v [N, vdim] -> features [N, 32, H/4, W/4]."""
        return self.net(torch.cat([images, broadcast(v, images.shape[-1])], dim=1))


class Renderer(nn.Module):
    """M_gamma(z, v): a deterministic ConvLSTM fed all latents and the query viewpoint at every step.

    Each step reads the canvas (conv k=s=stride_to_obs, nf_dec channels), updates the LSTM
    and adds a transposed conv of h to the canvas (nf_to_obs channels at S*stride_to_obs).
    The image is a transposed conv of the final canvas up to H, through a sigmoid.
    """

    def __init__(self, cfg: ModelConfig, vdim: int, state_size: int, z_channels: int = None):
        super().__init__()
        so, k = cfg.stride_to_obs, cfg.lstm_kernel
        z_channels = cfg.nt * cfg.ni_z if z_channels is None else z_channels   # the channels of its input z
        up = cfg.image_size // (state_size * so)
        if up < 1 or state_size * so * up != cfg.image_size:
            raise ValueError(f"image size {cfg.image_size} is not state size {state_size} x stride_to_obs {so} "
                             f"x an integer")
        self.nt = cfg.nt
        self.read = nn.Conv2d(cfg.nf_to_obs, cfg.nf_dec, so, stride=so)
        self.cell = ConvLSTMCell(z_channels + vdim + cfg.nf_dec, cfg.nf_to_hidden, k)
        self.write = nn.ConvTranspose2d(cfg.nf_to_hidden, cfg.nf_to_obs, so, stride=so)
        self.to_image = nn.ConvTranspose2d(cfg.nf_to_obs, 3, up, stride=up)

    def forward(self, z, v):
        """z [B, z_channels, S, S] (one per scene), v encoded [B, Q, vdim] -> image means float [B, Q, 3, H, W].

        The step is `cell([z, v, read(canvas)], h, c)` then canvas += write(h); it is computed without a
        canvas. read and write have kernel = stride, so read(canvas + write(h)) = read(canvas) + a 1x1 conv
        of h (`read_of_write`), and the gate conv of that read grows each step by a conv of h alone. Each
        step after the first is then one conv of the previous h: its first 4*hidden outputs (weights: h's
        gate columns + the read's through read_of_write) make the gates, the rest (the read's alone) carry
        the read's share to the next step. The image is to_image of write(sum of the h's) + nt x write's
        bias (`image_of_state_sum`). The zero canvas reads as read's bias.
        """
        b, q = v.shape[:2]
        size = z.shape[-1]
        gates, hidden, pad = self.cell.gates, self.cell.gates.out_channels // 4, self.cell.gates.padding
        fixed = torch.cat([z.repeat_interleave(q, dim=0), broadcast(v.flatten(0, 1), size)], dim=1)
        w_fixed, w_read, w_h = gates.weight.split([fixed.shape[1], self.read.out_channels, hidden], dim=1)
        step_w, step_b = self.read_of_write()
        w_via_read = torch.einsum("odkl,di->oikl", w_read, step_w[:, :, 0, 0])
        constant_map = lambda values: values[None, :, None, None].expand(1, -1, size, size)
        shared = F.conv2d(fixed, w_fixed, gates.bias, padding=pad) + \
            F.conv2d(constant_map(self.read.bias), w_read, padding=pad)           # all but h's share, step 0
        step_shared = F.conv2d(constant_map(step_b), w_read, padding=pad)          # the read's bias growth per step
        h, c = lstm_update(shared, None)
        h_sum = h
        for t in range(1, self.nt):
            last = t == self.nt - 1
            weight = w_h + w_via_read if last else torch.cat([w_h + w_via_read, w_via_read])
            out = F.conv2d(h, weight, padding=pad)
            h, c = lstm_update(shared + step_shared + out[:, :4 * hidden], c)
            if not last:
                shared = shared + step_shared + out[:, 4 * hidden:]
            h_sum = h_sum + h
        images = torch.sigmoid(widened(self.image_of_state_sum(h_sum)))
        return images.unflatten(0, (b, q))

    def read_of_write(self) -> tuple:
        """The 1x1 conv equal to read (without its bias) after write: (weight [nf_dec, nf_to_hidden, 1, 1],
        bias [nf_dec])."""
        r, w = self.read.weight, self.write.weight      # [nf_dec, nf_to_obs, k, k], [nf_to_hidden, nf_to_obs, k, k]
        weight = torch.einsum("dckl,ickl->di", r, w)[:, :, None, None]
        return weight, torch.einsum("dckl,c->d", r, self.write.bias)

    def image_of_state_sum(self, h_sum):
        """to_image(write(h_sum) + nt x write's bias) for h_sum [N, nf_to_hidden, S, S] -> [N, 3, H, W], done
        as one matrix product: write and to_image both have kernel = stride, so each state pixel paints its
        own H/S x H/S block of the image through their product; the biases give a fixed picture."""
        n, _, size, _ = h_sum.shape
        w, t = self.write.weight, self.to_image.weight   # [hidden, obs, a, b], [obs, 3, p, q]
        so, up = w.shape[-1], t.shape[-1]
        block = so * up
        kernel = torch.einsum("icab,copq->ioapbq", w, t).reshape(w.shape[0], 3 * block * block)
        bias_canvas = (self.nt * self.write.bias)[None, :, None, None].expand(1, -1, size * so, size * so)
        picture = self.to_image(bias_canvas)                                           # [1, 3, H, W]
        pixels = (h_sum.permute(0, 2, 3, 1).reshape(n * size * size, -1) @ kernel)   # [N*S*S, 3*block*block]
        pixels = pixels.view(n, size, size, 3, block, block).permute(0, 3, 1, 4, 2, 5)
        return pixels.reshape(n, 3, size * block, size * block) + picture


def reconstruction(images, truth, packing: Packing, pixel_variance) -> dict:
    """Per-scene reconstruction terms of rendered target slots: images and truth [N, 3, H, W] in [0, 1], the slots
    of `packing`. Returns {"nll": -log N(truth; images, pixel_variance) summed over each scene's real targets,
    pixels and channels (nats), "sq": squared error summed likewise, "pixels": values summed}, each [B], float32
    (float64 for float64 inputs)."""
    sq = (widened(images) - truth).square().flatten(1).sum(1)                  # [N]
    var = torch.as_tensor(pixel_variance, dtype=sq.dtype, device=sq.device)
    per_view = images[0].numel()
    nll = gaussian_nll(sq, per_view, var)
    return {"nll": packing.per_scene(nll), "sq": packing.per_scene(sq),
            "pixels": packing.per_scene(torch.full_like(sq, per_view))}


def gaussian_nll(sq, values, pixel_variance):
    """Return -log N(truth; mean, pixel_variance) in nats of `values` pixel values whose squared errors sum to
    `sq` (tensors or numpy arrays, elementwise): 0.5 * (sq / variance + values * log(2 pi variance))."""
    log = torch.log if isinstance(pixel_variance, torch.Tensor) else math.log
    return 0.5 * (sq / pixel_variance + values * log(2 * math.pi * pixel_variance))


def full_precision(model: nn.Module):
    """Return a context manager that turns autocast off on the device of `model`'s parameters."""
    return torch.autocast(next(model.parameters()).device.type, enabled=False)
