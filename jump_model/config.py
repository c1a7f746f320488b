"""Every setting of a JUMP training run in one dataclass, and the named presets.

Model sizes follow the paper's appendix B names (nt, nf_to_hidden, nf_enc,
nf_to_obs, nf_dec, ni_z, stride_to_hidden, stride_to_obs); docs/model.md says
how each one is read. Fields filled from the dataset's manifest
(image_size, views_per_scene, viewpoint_kind, position_scale) are stored too,
so a checkpoint rebuilds its model without the data.
"""

import dataclasses
import math
from dataclasses import dataclass

from scene_shards.common import UserError

from .schedules import parse_schedule


@dataclass
class JumpConfig:
    """All hyperparameters and run settings (plain types only, so it round-trips through JSON)."""
    preset: str = "salesman"
    # model (appendix B)
    nt: int = 4                    # DRAW steps (prior, posterior and renderer)
    nf_to_hidden: int = 64         # channels of every ConvLSTM state
    nf_enc: int = 128              # channels of the conv mapping the representation to the DRAW LSTM input
    nf_to_obs: int = 128           # channels of the renderer's canvas
    nf_dec: int = 64               # channels of the conv reading the canvas back into the renderer LSTM
    ni_z: int = 3                  # latent channels per DRAW step
    stride_to_hidden: int = 2      # kernel = stride of the conv from representation (H/4) to LSTM state
    stride_to_obs: int = 2         # kernel = stride of the transposed conv from LSTM state to canvas
    lstm_kernel: int = 5           # kernel of the ConvLSTM gate convolution and the latent heads
    latent_std_init: float = 0.05  # std of prior and posterior at initialisation (small: z carries r's content early)
    # data-derived (filled from the manifest when training starts)
    image_size: int = 64
    views_per_scene: int = 21
    viewpoint_kind: str = "time"
    position_scale: float = 1.0    # camera positions are divided by this (max |x|,|y|,|z| in the training data)
    # optimisation
    steps: int = 200_000
    batch_size: int = 32
    lr: float = 5e-4
    grad_clip: float = 10.0
    context: int = 5               # most context views per scene (each scene draws 1..context)
    targets: int = 4               # target views per scene
    pixel_variance: str = "2.0:0.5@100000"
    seed: int = 0
    # machinery
    device: str = "auto"           # auto, cpu, cuda
    compile: bool = False          # torch.compile the model (CUDA only)
    amp: bool = True               # bf16 autocast where the device computes bf16 natively (CUDA, avx512_bf16 CPUs)
    workers: int = -1              # DataLoader workers; 0: load in the training process; -1: pick from the machine
    log_every: int = 50
    sample_every: int = 2000
    checkpoint_every: int = 1000
    eval_every: int = 2000
    eval_scenes: int = 64
    # where the data is
    data_dir: str = ""             # absolute path of the data folder (filled when training starts)
    dataset: str = ""
    manifest: str = ""             # absolute path of the dataset's manifest NAME.json (filled when training starts)

    def to_dict(self) -> dict:
        """Return the config as a JSON-able dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "JumpConfig":
        """Build a config from a dict (e.g. config.json); unknown keys or values of the wrong type raise UserError."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(fields)
        if unknown:
            raise UserError(f"unknown config keys: {', '.join(sorted(unknown))}")
        for name, value in values.items():
            kind = type(fields[name].default)
            fits = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else \
                type(value) is kind
            if not fits:
                raise UserError(f"config key {name} must be of type {kind.__name__}, got {value!r}")
        return cls(**values)

    def validate(self) -> "JumpConfig":
        """Check ranges and the schedule; returns self, raises UserError on a bad value."""
        positive = ["nt", "nf_to_hidden", "nf_enc", "nf_to_obs", "nf_dec", "ni_z", "stride_to_hidden",
                    "stride_to_obs", "lstm_kernel", "steps", "batch_size", "context", "targets", "log_every",
                    "sample_every", "checkpoint_every", "eval_every", "eval_scenes"]
        for name in positive + ["lr", "grad_clip", "latent_std_init", "position_scale"]:
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise UserError(f"{name.replace('_', '-')} must be positive, got {value}")
        if not 0 <= self.seed < 2**63:   # the seed goes to torch.manual_seed, which takes < 2**64
            raise UserError(f"seed must be 0 or more and less than 2**63, got {self.seed}")
        if self.workers < -1:
            raise UserError(f"workers must be 0 or more (or -1: pick from the machine), got {self.workers}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise UserError(f"unknown device '{self.device}' (choose auto, cpu or cuda)")
        if self.lstm_kernel % 2 == 0:
            raise UserError(f"lstm-kernel must be odd, got {self.lstm_kernel}")
        parse_schedule(self.pixel_variance)
        return self


# What `train --resume` may change: machinery and logging, nothing that alters the trajectory.
RESUME_CHANGEABLE = frozenset({"steps", "device", "workers", "compile", "log_every", "sample_every",
                               "checkpoint_every", "eval_every"})

# The preset `train` picks when none is given, by the manifest's generator (others: salesman).
GENERATOR_PRESETS = {"narratives": "salesman", "dice": "dice"}

PRESETS = {
    "salesman": {},   # the dataclass defaults are appendix B's traveling-salesman numbers
    # appendix B, MNIST cube: nt 6, nf_to_hidden 128, nf_dec 128, the piecewise schedule
    "dice": dict(nt=6, nf_to_hidden=128, nf_enc=128, nf_to_obs=128, nf_dec=128, ni_z=3, stride_to_hidden=2,
                 stride_to_obs=2, steps=300_000, batch_size=32, context=3, targets=3,
                 pixel_variance="2.0@100000,0.2@50000,0.4@50000,0.9"),
    # small and fast: learns visibly on 32x32 in a few CPU minutes
    "tiny": dict(nt=2, nf_to_hidden=32, nf_enc=32, nf_to_obs=32, nf_dec=32, ni_z=3, stride_to_hidden=1,
                 stride_to_obs=2, lstm_kernel=3, steps=3000, batch_size=16, lr=3e-3, context=3, targets=3,
                 pixel_variance="0.5:0.1@2500", log_every=25, sample_every=500, checkpoint_every=250,
                 eval_every=500, eval_scenes=32),
}


def default_preset(generator: str) -> str:
    """Return the preset name for a dataset made by `generator` (a manifest's "generator"): dice -> dice,
    anything else (narratives) -> salesman."""
    return GENERATOR_PRESETS.get(generator, "salesman")


def preset_config(name: str, **overrides) -> JumpConfig:
    """Return the JumpConfig of preset `name` with `overrides` (None values ignored) applied and validated."""
    if name not in PRESETS:
        raise UserError(f"unknown preset '{name}' (choose {', '.join(PRESETS)})")
    values = dict(PRESETS[name], preset=name)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return JumpConfig.from_dict(values).validate()
