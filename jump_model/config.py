"""The settings of a training run, built in one place, and the named presets.

Two frozen dataclasses:

    ModelConfig   what a checkpoint needs to rebuild the network: the model kind, the sizes
                  (appendix B names: nt, nf_to_hidden, nf_enc, nf_to_obs, nf_dec, ni_z,
                  stride_to_hidden, stride_to_obs) and the facts read from the data
                  (image_size, views_per_scene, viewpoint_kind, position_scale)
    RunConfig     the run's settings (optimisation, machinery, where the data is), holding its ModelConfig

A RunConfig is made by exactly one of two functions and never changed afterwards:
`new_run_config` (a preset, the command-line options and the dataset's facts) and
`resumed_run_config` (a stored run, the changes a resume may make and the dataset's
facts). docs/model.md says how each size is read.
"""

import dataclasses
import math
from dataclasses import dataclass, field

from scene_shards.common import UserError

from .names import CAMERA_ENCODING, DEVICES, MODEL_KINDS
from .schedules import parse_schedule, schedule_end

# The kinds' names: 2 since `gqn` is Eslami et al. 2018's GQN; a config without "kind_names" is of 1, when `gqn`
# named the model now called `factored` (the stored kind is renamed on reading: run_folder.read_config).
KIND_NAMES = 2
AR_FREE_BITS = 2.0   # the ar model's default free bits, nats per predicted frame (docs/model.md, "Baselines")
# How training draws each scene's context and target view counts (docs/model.md, "The static step"): "batch", per
# batch a seeded permutation of a fixed multiset of 1..context and one of 1..targets (every batch the same numbers
# of real views); "scene", each scene uniform on 1..context and 1..targets on its own (runs made before "batch":
# a config.json without the key, run_folder.read_config)
VIEW_COUNTS = ("batch", "scene")


@dataclass(frozen=True)
class DataFacts:
    """What a run reads from its dataset (jump_model.data.dataset_facts makes one from the train split)."""
    dataset: str
    generator: str                 # the manifest's "generator" (picks the default preset)
    data_dir: str                  # absolute path of the data folder
    manifest: str                  # absolute path of the dataset's manifest NAME.json
    image_size: int
    views_per_scene: int
    viewpoint_kind: str            # "time" or "camera"
    position_scale: float          # max |x|, |y|, |z| of the camera positions (1.0 for time)
    data_fingerprint: dict = field(default_factory=dict)   # scene_shards.data_fingerprint of the manifest


@dataclass(frozen=True)
class ModelConfig:
    """Everything that shapes the network (plain types only, so it round-trips through JSON)."""
    kind: str = "jump"             # jump, gqn, factored, badj or ar (docs/model.md, "Baselines")
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
    free_bits: float = 0.0         # ar: nats of KL per predicted frame the loss counts at least (0 for the others)
    posterior_reads_prior: bool = False   # jump: each posterior DRAW step's gates also read the prior chain's
                                   # state of that step, as convolutional DRAW's encoder reads its decoder's
                                   # (docs/model.md, "The model"); a run made before the key: False
    kind_names: int = KIND_NAMES   # which names the kinds had when the run was made (run_folder.read_config)
    # read from the data (DataFacts)
    image_size: int = 64
    views_per_scene: int = 21
    viewpoint_kind: str = "time"
    position_scale: float = 1.0    # camera positions are divided by this (max |x|,|y|,|z| in the training data)
    camera_encoding: str = ""      # camera data: names.CAMERA_ENCODING, the 7-vector the net sees ("": time data,
                                   # or a run made before it was recorded)

    def to_dict(self) -> dict:
        """Return the settings as a JSON-able dict (camera_encoding only for camera data)."""
        values = dataclasses.asdict(self)
        if not self.camera_encoding:
            del values["camera_encoding"]
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        """Build from a dict (e.g. config.json's "model"); unknown keys or wrong types raise UserError."""
        return cls(**checked_values(cls, values, "model."))

    def validate(self) -> "ModelConfig":
        """Check kinds and ranges; returns self, raises UserError on a bad value."""
        if self.kind not in MODEL_KINDS:
            raise UserError(f"unknown model '{self.kind}' (choose {', '.join(MODEL_KINDS)})")
        if self.viewpoint_kind not in ("time", "camera"):
            raise UserError(f"unknown viewpoint kind '{self.viewpoint_kind}' (time or camera)")
        expected = CAMERA_ENCODING if self.viewpoint_kind == "camera" else ""
        if self.camera_encoding not in ("", expected):
            raise UserError(f"camera-encoding '{self.camera_encoding}' is not what this jumpdata's models use for "
                            f"{self.viewpoint_kind} viewpoints ({expected or 'none'})")
        if self.kind == "ar" and self.viewpoint_kind != "time":
            raise UserError("--model ar predicts a video frame after frame and needs time viewpoints; this dataset "
                            "has camera viewpoints (use --model jump, gqn, factored or badj)")
        if not (0 <= self.free_bits < math.inf) or (self.free_bits and self.kind != "ar"):
            raise UserError(f"free-bits must be 0 or more and is for --model ar only, got {self.free_bits} "
                            f"(model {self.kind})")
        if self.posterior_reads_prior and self.kind != "jump":   # its type: checked_values, as every key's
            raise UserError(f"posterior-reads-prior is for --model jump only (model {self.kind})")
        if self.kind_names != KIND_NAMES:
            raise UserError(f"kind-names must be {KIND_NAMES}, got {self.kind_names}")
        for name in ("nt", "nf_to_hidden", "nf_enc", "nf_to_obs", "nf_dec", "ni_z", "stride_to_hidden",
                     "stride_to_obs", "lstm_kernel", "image_size", "views_per_scene", "latent_std_init",
                     "position_scale"):
            positive(name, getattr(self, name))
        if self.lstm_kernel % 2 == 0:
            raise UserError(f"lstm-kernel must be odd, got {self.lstm_kernel}")
        return self


@dataclass(frozen=True)
class RunConfig:
    """Every setting of a training run: its ModelConfig, optimisation, machinery and where the data is."""
    preset: str = "salesman"
    model: ModelConfig = field(default_factory=ModelConfig)
    # optimisation
    steps: int = 200_000
    batch_size: int = 32
    lr: float = 5e-4
    grad_clip: float = 10.0
    context: int = 5               # most context views per scene (each scene draws 1..context)
    targets: int = 4               # most target views per scene (each scene draws 1..targets)
    view_counts: str = "batch"     # how the context and target counts are drawn: VIEW_COUNTS
    pixel_variance: str = "2.0:0.5@100000"
    eval_pixel_variance: float = 0.5   # the fixed variance of the held-out NELBO (default: the schedule's end)
    seed: int = 0
    # machinery
    device: str = "auto"           # auto, cpu, cuda
    compile: bool = False          # torch.compile the model (CUDA: Triton; CPU: a C++ compiler)
    amp: bool = True               # bf16 autocast where the device computes bf16 natively (CUDA, avx512_bf16 CPUs)
    workers: int = -1              # DataLoader workers; 0: load in the training process; -1: pick from the machine
    log_every: int = 50
    sample_every: int = 2000
    checkpoint_every: int = 1000
    eval_every: int = 2000
    eval_scenes: int = 64
    # where the data is
    data_dir: str = ""             # absolute path of the data folder
    dataset: str = ""
    manifest: str = ""             # absolute path of the dataset's manifest NAME.json
    data_fingerprint: dict = field(default_factory=dict)   # the data's fingerprint (docs/format.md); {}: older run

    def to_dict(self) -> dict:
        """Return the config as a JSON-able dict (the model's settings nested under "model")."""
        return {**dataclasses.asdict(self), "model": self.model.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        """Build from a dict (config.json); unknown keys or wrong types raise UserError."""
        if not isinstance(values.get("model"), dict):
            raise UserError("config key model must be an object holding the model's settings")
        rest = checked_values(cls, {k: v for k, v in values.items() if k != "model"}, "")
        return cls(model=ModelConfig.from_dict(values["model"]), **rest)

    def validate(self) -> "RunConfig":
        """Check ranges, the schedule and the model; returns self, raises UserError on a bad value."""
        self.model.validate()
        for name in ("steps", "batch_size", "context", "targets", "log_every", "sample_every", "checkpoint_every",
                     "eval_every", "eval_scenes", "lr", "grad_clip", "eval_pixel_variance"):
            positive(name, getattr(self, name))
        if not 0 <= self.seed < 2**63:   # the seed goes to torch.manual_seed, which takes < 2**64
            raise UserError(f"seed must be 0 or more and less than 2**63, got {self.seed}")
        if self.workers < -1:
            raise UserError(f"workers must be 0 or more (or -1: pick from the machine), got {self.workers}")
        check_device(self.device)
        if self.view_counts not in VIEW_COUNTS:
            raise UserError(f"view-counts must be one of {', '.join(VIEW_COUNTS)}, got {self.view_counts!r}")
        if self.model.kind == "badj" and self.targets != 1:
            raise UserError(f"--model badj trains on one target view per scene (the paper's ablation); "
                            f"--targets must be 1, got {self.targets}")
        parse_schedule(self.pixel_variance)
        return self


def check_device(name: str) -> None:
    """Raise UserError unless `name` is a device name of names.DEVICES (auto, cpu, cuda)."""
    if name not in DEVICES:
        raise UserError(f"unknown device '{name}' (choose {', '.join(DEVICES)})")


def positive(name: str, value) -> None:
    """Raise UserError unless `value` is a finite number > 0 (named as its command-line flag)."""
    if not (value > 0 and math.isfinite(value)):
        raise UserError(f"{name.replace('_', '-')} must be positive, got {value}")


def checked_values(cls, values: dict, prefix: str) -> dict:
    """Return `values` after checking its keys are fields of dataclass `cls` with values of the fields'
    types (an int is a fine float); raises UserError naming the key (with `prefix`)."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "model"}
    unknown = set(values) - set(fields)
    if unknown:
        raise UserError(f"unknown config keys: {', '.join(prefix + k for k in sorted(unknown))}")
    for name, value in values.items():
        f = fields[name]
        kind = type(f.default) if f.default is not dataclasses.MISSING else type(f.default_factory())
        fits = isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else \
            type(value) is kind
        if not fits:
            raise UserError(f"config key {prefix}{name} must be of type {kind.__name__}, got {value!r}")
    return dict(values)


MODEL_FIELDS = frozenset(f.name for f in dataclasses.fields(ModelConfig))
RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(RunConfig)) - {"model"}
DATA_MODEL_FIELDS = ("image_size", "views_per_scene", "viewpoint_kind", "position_scale")  # ModelConfig <- DataFacts
DATA_RUN_FIELDS = ("data_dir", "dataset", "manifest", "data_fingerprint")                    # RunConfig <- DataFacts

# What `train --resume` may change: machinery and logging, nothing that alters the trajectory.
RESUME_CHANGEABLE = frozenset({"steps", "device", "workers", "compile", "log_every", "sample_every",
                               "checkpoint_every", "eval_every"})

# The preset `train` picks when none is given, by the manifest's generator (others: salesman).
GENERATOR_PRESETS = {"narratives": "salesman", "dice": "dice", "gqn": "dice"}

# small and fast: learns visibly on 32x32 in a few CPU minutes
TINY = dict(nt=2, nf_to_hidden=32, nf_enc=32, nf_to_obs=32, nf_dec=32, ni_z=3, stride_to_hidden=1, stride_to_obs=2,
            lstm_kernel=3, steps=3000, batch_size=16, lr=3e-3, context=3, targets=3, pixel_variance="0.5:0.1@2500",
            log_every=25, sample_every=500, checkpoint_every=250, eval_every=500, eval_scenes=32)

PRESETS = {
    "salesman": {},   # the dataclass defaults are appendix B's traveling-salesman numbers
    # appendix B, MNIST cube: nt 6, nf_to_hidden 128, nf_dec 128, the piecewise schedule
    "dice": dict(nt=6, nf_to_hidden=128, nf_enc=128, nf_to_obs=128, nf_dec=128, ni_z=3, stride_to_hidden=2,
                 stride_to_obs=2, steps=300_000, batch_size=32, context=3, targets=3,
                 pixel_variance="2.0@100000,0.2@50000,0.4@50000,0.9"),
    "tiny": TINY,
    # tiny's widths with appendix B's LSTM geometry: at 32x32 the LSTM grid is 8x8 as appendix B's is at 64x64,
    # and 4 steps of kernel 5 let each renderer and prior cell read the whole grid (tiny's 2 steps of 3: 5x5 cells);
    # lr 1e-3, as at tiny's 3e-3 this chain first sits on the blank frame, then leaves it with a prior worse than
    # blank (docs/model.md, "Presets")
    "small": {**TINY, "nt": 4, "lstm_kernel": 5, "lr": 1e-3},
}


def default_preset(generator: str) -> str:
    """Return the preset name for a dataset made by `generator` (a manifest's "generator"): dice and gqn (an
    import-gqn dataset: cameras) -> dice, anything else (narratives) -> salesman."""
    return GENERATOR_PRESETS.get(generator, "salesman")


def check_frames_fit(model: ModelConfig, preset: str) -> None:
    """Raise UserError unless square frames of model.image_size fit the model's strides."""
    h, sth = model.image_size, model.stride_to_hidden
    if h % (4 * sth) or h % (h // (4 * sth) * model.stride_to_obs):
        raise UserError(f"frames of {h}x{h} do not fit preset '{preset}' (square, a multiple of {4 * sth} pixels)")


def split_settings(values: dict) -> tuple:
    """Split flat settings into (ModelConfig fields, RunConfig fields); unknown names raise UserError."""
    unknown = set(values) - MODEL_FIELDS - RUN_FIELDS
    if unknown:
        raise UserError(f"unknown config keys: {', '.join(sorted(unknown))}")
    return ({k: v for k, v in values.items() if k in MODEL_FIELDS},
            {k: v for k, v in values.items() if k in RUN_FIELDS})


def facts_values(facts: DataFacts) -> tuple:
    """Return (ModelConfig fields, RunConfig fields) read from the dataset's facts."""
    return ({k: getattr(facts, k) for k in DATA_MODEL_FIELDS}, {k: getattr(facts, k) for k in DATA_RUN_FIELDS})


def new_run_config(facts: DataFacts, preset: str = None, **options) -> RunConfig:
    """Return the validated RunConfig of a new run on the dataset `facts` describes.

    preset: a name in PRESETS (None: default_preset of the dataset's generator). options: any
    ModelConfig or RunConfig field by name (None values ignored), e.g. model="gqn", steps=100.
    Without `eval_pixel_variance` the held-out NELBO uses the end value of the schedule. With
    model="badj" and no `targets`, targets is 1 (the ablation trains on one target view). With model="ar": no
    `targets`: every frame after the context (views per scene - context, the test's roll-out), no `free_bits`:
    AR_FREE_BITS.
    Raises UserError on an unknown preset or name, a bad value, or frames the sizes do not fit.
    """
    preset = preset or default_preset(facts.generator)
    if preset not in PRESETS:
        raise UserError(f"unknown preset '{preset}' (choose {', '.join(PRESETS)})")
    given = {("kind" if k == "model" else k): v for k, v in options.items() if v is not None}
    model_values, run_values = split_settings({**PRESETS[preset], **given})
    data_model, data_run = facts_values(facts)
    if "targets" not in given and given.get("kind") == "badj":
        run_values["targets"] = 1
    if given.get("kind") == "ar":
        if "targets" not in given:
            run_values["targets"] = facts.views_per_scene - run_values.get("context", RunConfig.context)
        model_values.setdefault("free_bits", AR_FREE_BITS)
    if "eval_pixel_variance" not in run_values:
        run_values["eval_pixel_variance"] = schedule_end(parse_schedule(run_values.get(
            "pixel_variance", RunConfig.pixel_variance)))
    encoding = {"camera_encoding": CAMERA_ENCODING} if facts.viewpoint_kind == "camera" else {}
    model = ModelConfig.from_dict({**model_values, **data_model, **encoding}).validate()
    check_frames_fit(model, preset)
    return RunConfig.from_dict({**run_values, **data_run, "preset": preset, "model": model.to_dict()}).validate()


def resumed_run_config(stored: RunConfig, facts: DataFacts, **changes) -> RunConfig:
    """Return the RunConfig to continue the run `stored` on the dataset `facts` describes (the data may have moved).

    changes: settings by name (None: not given; "model" is the kind). Those in RESUME_CHANGEABLE
    (steps, device, workers, compile, the logging intervals) may change; any other given value that
    differs from the run's raises UserError, since it would change the trajectory being continued.
    Raises UserError too when the dataset's facts differ from those the run trained on.
    """
    data_model, data_run = facts_values(facts)
    changed = [f"{k} {v} (run: {getattr(stored.model, k)})" for k, v in data_model.items()
               if v != getattr(stored.model, k)]
    if facts.dataset != stored.dataset:
        changed.insert(0, f"dataset {facts.dataset} (run: {stored.dataset})")
    if changed:
        raise UserError(f"{facts.data_dir} does not hold the dataset this run trained on: {', '.join(changed)}")
    given = {k: v for k, v in changes.items() if v is not None}
    current = {**stored.to_dict(), **{("model" if k == "kind" else k): v for k, v in stored.model.to_dict().items()
                                      if k not in DATA_MODEL_FIELDS}}
    fixed = [k for k, v in given.items() if k not in RESUME_CHANGEABLE and k in current and v != current[k]]
    if fixed:
        names = ", ".join(f"--{k.replace('_', '-')} {given[k]} (run: {current[k]})" for k in fixed)
        raise UserError(f"--resume continues the run exactly and cannot change {names}; only --steps, --device, "
                        f"--workers, --compile and the --*-every intervals may change (start a new run to change "
                        f"more)")
    allowed = {k: v for k, v in given.items() if k in RESUME_CHANGEABLE}
    return dataclasses.replace(stored, **allowed, **data_run).validate()


def legacy_run_config(values: dict) -> RunConfig:
    """Return the RunConfig of a flat config.json written before the model/run split (every setting at the
    top level, no "model" and no "eval_pixel_variance"): a JUMP model, the held-out variance the schedule's end."""
    model_values, run_values = split_settings(values)
    run_values.setdefault("eval_pixel_variance", schedule_end(parse_schedule(
        run_values.get("pixel_variance", RunConfig.pixel_variance))))
    return RunConfig.from_dict({**run_values, "model": ModelConfig.from_dict(model_values).to_dict()})
