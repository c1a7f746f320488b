"""Ground-truth probes, what evaluation needs of them: the networks, their folder, reading frames.

A probe answers, from ONE frame, what the dataset's labels say about that frame:

    dice        DigitProbe: the digit class (0-9) on the cube face that covers most of the image. Views where
                no face covers at least FACE_MIN of the image are left out (of training and of its accuracy).
    narratives  ShapeProbe: for every pixel, the kind of shape drawn there (or none) and its palette colour
                (or none). From these maps and the known layout of a scene, the story checks read the
                actor's position, which shape it is next to, and each shape's colour (see story_checks.py).

A probe folder is saved like a run: `config.json` (ProbeConfig, with the held-out accuracy) and
`checkpoint.pt` (weights only, read with torch.load(weights_only=True)). training.py trains one.
"""

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from narratives import vocabulary as vocab
from scene_shards.common import Note, UserError, one_line
from scene_shards.fingerprint import check_same_data

from ..names import CHECKPOINT_FILE as CHECKPOINT
from ..names import CONFIG_FILE as CONFIG
from ..names import DIGIT_PROBE, SHAPE_PROBE
from ..nets.blocks import frames_to_images
from ..run_folder import LOAD_ERRORS

FACE_MIN = 0.05        # a dice view is read when its largest face covers at least 5% of the image
READ_BATCH = 256       # most frames a probe reads in one forward pass


@dataclass
class ProbeConfig:
    """Everything a probe folder records: what it reads, where it learned, how, and how well."""
    kind: str                  # "digit" or "shapes"
    dataset: str
    generator: str
    data_dir: str
    manifest: str
    image_size: int
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    face_min: float = FACE_MIN
    test_accuracy: float = float("nan")   # digit: share of kept test views read right; shapes: see docs/probes.md
    test_examples: int = 0
    chance: float = float("nan")          # digit: always answering the most common training class; shapes: a
                                          # uniform guess of kind and colour
    data_fingerprint: dict = field(default_factory=dict)   # of the data it learned from ({}: an older probe)


class DigitProbe(nn.Module):
    """uint8 frames [N, H, W, 3] -> logits float [N, 10] of the digit on the face covering most of the image."""

    def __init__(self):
        super().__init__()
        layers, c = [], 3
        for width in (32, 64, 128, 128):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            c = width
        self.features = nn.Sequential(*layers[:-1])   # no pooling after the last block: max over space below
        self.classify = nn.Linear(c, 10)

    def forward(self, frames):
        x = frames_to_images(frames)
        return self.classify(self.features(x).amax(dim=(-2, -1)))


class ShapeProbe(nn.Module):
    """uint8 frames [N, H, W, 3] -> (kind logits [N, K+1, H, W], colour logits [N, C+1, H, W]); class 0 is
    "none", class k+1 is vocabulary KINDS[k] / COLORS[k].

    A full-resolution stem (colour and edges), a half-resolution trunk of dilated convolutions (a receptive
    field of about 30 px: the whole of the largest shape at 64 px), upsampled and joined to the stem."""

    def __init__(self, stem: int = 24, width: int = 48):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, padding=1), nn.ReLU())
        layers = [nn.Conv2d(stem, width, 3, stride=2, padding=1), nn.ReLU()]
        for dilation in (1, 2, 4):
            layers += [nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation), nn.ReLU()]
        self.trunk = nn.Sequential(*layers)
        self.join = nn.Sequential(nn.Conv2d(stem + width, width, 3, padding=1), nn.ReLU())
        self.kinds = nn.Conv2d(width, len(vocab.KINDS) + 1, 1)
        self.colors = nn.Conv2d(width, len(vocab.COLORS) + 1, 1)

    def forward(self, frames):
        x = self.stem(frames_to_images(frames))
        deep = F.interpolate(self.trunk(x), size=x.shape[-2:], mode="nearest")
        h = self.join(torch.cat([x, deep], dim=1))
        return self.kinds(h), self.colors(h)


NETWORKS = {DIGIT_PROBE: DigitProbe, SHAPE_PROBE: ShapeProbe}


def load_probe(folder) -> tuple:
    """Load a probe folder: returns (ProbeConfig, network in eval mode on the CPU). UserError when `folder` is
    not a probe folder or its files are damaged."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file() or not (folder / CHECKPOINT).is_file():
        raise UserError(f"{folder} is not a probe folder (no {CONFIG} and {CHECKPOINT}); make one with "
                        f"`jumpdata probe train`")
    try:
        values = json.loads((folder / CONFIG).read_text())
        cfg = ProbeConfig(**values)
        state = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)["probe"]
        net = NETWORKS[cfg.kind]()
        net.load_state_dict(state)
    except LOAD_ERRORS as e:
        raise UserError(f"{folder} holds a damaged probe ({one_line(e)[:120]})") from None
    return cfg, net.eval()


@torch.no_grad()
def read_frames(net: nn.Module, frames) -> tuple:
    """Read uint8 frames [..., H, W, 3] (numpy or tensor) with a probe on its device, READ_BATCH at a time.

    Returns numpy int64: a DigitProbe's classes [...]; a ShapeProbe's (kinds, colours) maps [..., H, W] of
    class + 1, 0 = none (the form story_checks.read_video takes)."""
    frames = torch.as_tensor(frames)
    lead, flat = frames.shape[:-3], frames.reshape(-1, *frames.shape[-3:])
    device = next(net.parameters()).device
    parts = []
    for start in range(0, len(flat), READ_BATCH):
        out = net(flat[start:start + READ_BATCH].to(device))
        parts.append([o.argmax(1).cpu() for o in (out if isinstance(out, tuple) else (out,))])
    read = [torch.cat(p).reshape(*lead, *p[0].shape[1:]).numpy() for p in zip(*parts)]
    return read[0] if len(read) == 1 else tuple(read)


def check_probe_data(cfg: ProbeConfig, folder, manifest: dict, data_folder) -> None:
    """Raise UserError (one line naming what differs) unless `manifest` (in `data_folder`) describes the data the
    probe in `folder` learned from; an older probe without a fingerprint is compared on its generator and frame
    shape, with a note."""
    recorded = cfg.data_fingerprint
    if not recorded:
        warnings.warn(f"probe {folder} recorded no data fingerprint (made by an older jumpdata): only its generator "
                      f"and frame shape are compared with the data", Note)
        recorded = {"generator": cfg.generator, "frame_shape": [cfg.image_size, cfg.image_size, 3]}
    check_same_data(recorded, manifest, data_folder, f"probe {folder}", "probe")


def check_probe_fits(cfg: ProbeConfig, folder, kind: str, dataset: str, image_size: int) -> None:
    """Raise UserError unless the probe in `folder` (its ProbeConfig) is a `kind` probe trained on `dataset`
    frames of `image_size` pixels."""
    if cfg.kind != kind or cfg.dataset != dataset or cfg.image_size != image_size:
        raise UserError(f"probe {folder} reads '{cfg.dataset}' ({cfg.kind}, {cfg.image_size}x{cfg.image_size}); the "
                        f"runs' test scenes are '{dataset}' ({image_size}x{image_size}) and need a {kind} probe of "
                        f"them: jumpdata probe train DATA --dataset {dataset} --out PROBE")
