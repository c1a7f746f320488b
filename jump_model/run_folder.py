"""A training run's folder on disk: config.json and checkpoint.pt, read and written in one place.

    RUN/config.json     every setting of the run (RunConfig.to_dict(): the model's settings under "model"),
                        rewritten when a resume changes one, and under "precision" how the last training call
                        computed (runtime.Precision.record: autocast, grad_scaler, tf32; a record, not a setting)
    RUN/checkpoint.pt   {"model", "optimizer", "step", "config", "scaler"}; tensors and plain types only, so
                        torch.load(..., weights_only=True) reads it; written to a temporary name and renamed.
                        "scaler": the fp16 GradScaler's state ({} without one; older checkpoints lack it)

`plan_run` is where a run's RunConfig is made (new or resumed) from the command's options and the
dataset. A config.json written before the model/run split (flat, every setting at the top) still loads
for sampling and evaluation as a JUMP run; `--resume` refuses it with one line. Every problem with these
files (missing, truncated, not JSON, not a checkpoint) is raised as a one-line UserError.
"""

import io
import json
import math
import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from scene_shards import open_dataset
from scene_shards.common import Note, UserError, one_line
from scene_shards.files import atomic_open, write_json_atomic

from .config import KIND_NAMES, ModelConfig, RunConfig, legacy_run_config, new_run_config, resumed_run_config
from .data import check_run_data, dataset_facts
from .names import CHECKPOINT_FILE as CHECKPOINT
from .names import CONFIG_FILE as CONFIG
from .nets import make_model

CHECKPOINT_KEYS = ("model", "optimizer", "step", "config")
WEIGHTS_KEYS = ("model", "step", "config")   # what sampling and evaluation read; a shipped model's checkpoint
                                             # holds only these (jump_model/pretrained/package.py)
PRECISION_KEY = "precision"   # config.json's record of how the run computed (not a setting: reading skips it)
LOAD_ERRORS = (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, OSError, KeyError, ValueError,
               TypeError, AttributeError, IndexError)   # what torch.load raises on a damaged or foreign file


def require_run_folder(run) -> Path:
    """Return `run` as a Path; raises UserError unless it holds config.json and checkpoint.pt."""
    run = Path(run)
    if not (run / CONFIG).is_file() or not (run / CHECKPOINT).is_file():
        raise UserError(f"{run} is not a training run folder (no {CONFIG} and {CHECKPOINT}); "
                        f"make one with `jumpdata train`")
    return run


def has_checkpoint(run) -> bool:
    """Return True if `run` holds a checkpoint.pt (a run that has saved at least once)."""
    return (Path(run) / CHECKPOINT).exists()


def read_config_values(run) -> dict:
    """Return the JSON object stored in RUN/config.json; UserError when it is unreadable or not an object."""
    path = Path(run) / CONFIG
    try:
        values = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read {path}: {one_line(e)}") from None
    if not isinstance(values, dict):
        raise UserError(f"{path} does not hold a run config (a JSON object)")
    return values


def is_legacy(values: dict) -> bool:
    """Return True for a config.json written before the model/run split (flat: no "model" object)."""
    return "model" not in values


def read_config(run) -> RunConfig:
    """Return the validated RunConfig stored in RUN/config.json (a legacy flat one read as a JUMP run; one made
    before `gqn` meant Eslami et al.'s GQN read with today's names, see renamed_kinds; one without
    "view_counts" as "scene", the draws it was made with); UserError when it is unreadable or invalid."""
    values = renamed_kinds({k: v for k, v in read_config_values(run).items() if k != PRECISION_KEY}, run)
    values = {"view_counts": "scene", **values}   # a run made before the key drew each scene's counts alone
    try:
        return (legacy_run_config(values) if is_legacy(values) else RunConfig.from_dict(values)).validate()
    except UserError as e:
        raise UserError(f"{Path(run) / CONFIG}: {e}") from None


def renamed_kinds(values: dict, run, note: bool = True) -> dict:
    """Return config.json's `values` (or a checkpoint's config) with today's kind names: a config without
    model.kind_names was written when `gqn` named the factored model (config.KIND_NAMES), so its kind "gqn"
    becomes "factored", said in one scene_shards.common.Note when `note`. Other configs (and flat legacy ones,
    all JUMP) are returned as they are."""
    model = values.get("model")
    if not isinstance(model, dict) or "kind_names" in model:
        return values
    if model.get("kind") == "gqn":
        if note:
            warnings.warn(f"{run} was trained when --model gqn meant the factored model (one latent per view): "
                          f"it loads as --model factored", Note)
        model = {**model, "kind": "factored"}
    return {**values, "model": {**model, "kind_names": KIND_NAMES}}


def write_config(run, cfg: RunConfig, precision: dict = None) -> None:
    """Write cfg to RUN/config.json atomically, with the `precision` record (runtime.Precision.record) if given."""
    write_json_atomic(Path(run) / CONFIG, {**cfg.to_dict(), **({PRECISION_KEY: precision} if precision else {})})


def save_torch(path: Path, contents: dict, what: str) -> None:
    """torch.save `contents` to `path`: serialised in memory, then written through a temporary file and a rename
    (so a full disk is an OSError of one plain write, not a torch writer's own message). A failed write leaves
    the previous file and no temporary, and raises UserError (one line: "cannot save {what} {path} ...")."""
    buffer = io.BytesIO()
    torch.save(contents, buffer)
    try:
        with atomic_open(path, "wb") as f:
            f.write(buffer.getbuffer())
    except OSError as e:
        kept = " (the previous one is kept)" if path.exists() else ""
        raise UserError(f"cannot save {what} {path}{kept}: {one_line(e)[:300]}") from None


def save_checkpoint(run, model: torch.nn.Module, optimizer, step: int, cfg: RunConfig, scaler=None) -> None:
    """Write model, optimizer, step, config and the GradScaler's state (`scaler`, a torch.amp.GradScaler or None;
    a disabled one's is {}) to RUN/checkpoint.pt (save_torch: atomic, one line on failure)."""
    save_torch(Path(run) / CHECKPOINT, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                        "step": step, "config": cfg.to_dict(),
                                        "scaler": {} if scaler is None else scaler.state_dict()}, "checkpoint")


def load_checkpoint(run, device: torch.device = torch.device("cpu"), keys: tuple = CHECKPOINT_KEYS) -> dict:
    """Read RUN/checkpoint.pt with weights_only=True onto `device`; returns its dict, which holds at least `keys`
    (CHECKPOINT_KEYS to continue training, WEIGHTS_KEYS to sample and evaluate).

    Raises UserError (one line) when the file is missing, damaged or not a jumpdata checkpoint.
    """
    path = Path(run) / CHECKPOINT
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except LOAD_ERRORS as e:
        raise UserError(f"cannot load checkpoint {path} (damaged or not a jumpdata checkpoint: "
                        f"{one_line(e)[:120]})") from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in keys):
        weights_only = isinstance(ckpt, dict) and all(k in ckpt for k in WEIGHTS_KEYS)
        raise UserError(f"{path} holds the weights only (a shipped model): sample and eval read it, training cannot "
                        f"continue it" if weights_only else
                        f"{path} is not a jumpdata checkpoint (it needs the keys {', '.join(keys)})")
    step = ckpt["step"]
    if not (isinstance(step, int) and not isinstance(step, bool) and step >= 0):
        raise UserError(f"{path} is damaged: its step {step!r} is not a whole number of steps (0 or more)")
    for key in ("model", "optimizer", "config"):
        if key in keys and not isinstance(ckpt[key], dict):
            raise UserError(f"{path} is damaged: its {key} is a {type(ckpt[key]).__name__}, not a dict")
    return ckpt


def weights_mismatch(model: torch.nn.Module, weights: dict):
    """Return one line saying how `weights` (a state dict) differ from `model`'s: missing, unexpected and
    differently shaped tensors, each counted with its first name; None when they fit."""
    have = model.state_dict()
    missing = [k for k in have if k not in weights]
    unexpected = [k for k in weights if k not in have]
    shaped = [k for k in have if k in weights and (not isinstance(weights[k], torch.Tensor)
                                                   or weights[k].shape != have[k].shape)]
    parts = [f"{len(missing)} missing (first {missing[0]})"] if missing else []
    parts += [f"{len(unexpected)} unexpected (first {unexpected[0]})"] if unexpected else []
    if shaped:
        k = shaped[0]
        found = tuple(weights[k].shape) if isinstance(weights[k], torch.Tensor) else type(weights[k]).__name__
        parts.append(f"{len(shaped)} of another shape (first {k}: {found}, the config needs {tuple(have[k].shape)})")
    return "; ".join(parts) or None


def load_optimizer(optimizer: torch.optim.Optimizer, ckpt: dict) -> None:
    """Load the checkpoint's optimizer state into `optimizer`; UserError (one line) when it does not fit."""
    try:
        optimizer.load_state_dict(ckpt["optimizer"])
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        raise UserError(f"the checkpoint's optimizer state does not fit the run's model: {one_line(e)[:200]}") \
            from None


def load_scaler(scaler, ckpt: dict):
    """Load the checkpoint's GradScaler state (its loss scale and growth count) into `scaler` when it is enabled
    (an fp16 run). Returns a line to say when an fp16 run resumes from a checkpoint without that state (made by
    an older jumpdata or at another precision: the loss scale starts afresh, so the steps after it are not
    exactly the uninterrupted run's), else None. UserError (one line) when the stored state is damaged."""
    state = ckpt.get("scaler", {})
    if not scaler.is_enabled():
        return None
    if isinstance(state, dict) and not state:
        return ("note: the checkpoint holds no fp16 loss scale (an older jumpdata or another precision made it): "
                "the GradScaler starts afresh, so this resume does not continue the run exactly")
    try:
        if not isinstance(state, dict):
            raise TypeError(f"a {type(state).__name__}, not a dict")
        bad = next((k for k, v in state.items() if type(v) not in (int, float) or not math.isfinite(v)), None)
        if bad is not None:
            raise ValueError(f"its {bad} is {state[bad]!r}, not a finite number")
        scaler.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(f"the checkpoint's GradScaler state is damaged: {one_line(e)[:200]}") from None
    return None


def check_config_fits_checkpoint(run, cfg: ModelConfig, ckpt: dict) -> None:
    """Raise UserError naming the model settings on which `cfg` (RUN/config.json's) and the checkpoint's own
    config differ ("NAME VALUE vs VALUE"), both read with today's names and defaults; nothing when they agree or
    the checkpoint holds no model config (as those of older runs)."""
    saved = renamed_kinds(ckpt["config"], run, note=False).get("model")
    if not isinstance(saved, dict):
        return
    try:   # settings added since the run was made take their defaults on both sides
        saved = ModelConfig.from_dict(saved).to_dict()
    except UserError as e:
        raise UserError(f"{Path(run) / CHECKPOINT} holds a config this jumpdata cannot read: {e}") from None
    have = cfg.to_dict()
    differ = [f"{k} {have.get(k)} vs {saved.get(k)}" for k in sorted(set(have) | set(saved))
              if have.get(k) != saved.get(k)]
    if differ:
        raise UserError(f"{Path(run) / CONFIG} does not match its checkpoint: {', '.join(differ)} (config.json vs "
                        f"checkpoint; was config.json edited?)")


def non_finite_weight(weights: dict):
    """Return the name of the first tensor of a state dict holding NaN or an infinity, or None."""
    return next((k for k, v in weights.items() if isinstance(v, torch.Tensor) and v.is_floating_point()
                 and not torch.isfinite(v).all()), None)


def build_model(cfg: ModelConfig, ckpt: dict, device: torch.device, run) -> torch.nn.Module:
    """Return the model of `cfg` (its kind) on `device` with the checkpoint's weights. UserError (naming the run
    folder `run`) when cfg is not the config the checkpoint was trained with, the weights do not fit cfg or hold
    NaN or infinite values."""
    check_config_fits_checkpoint(run, cfg, ckpt)
    bad = non_finite_weight(ckpt["model"])
    if bad is not None:
        raise UserError(f"{Path(run) / CHECKPOINT} holds NaN or infinite weights (first {bad}): the run diverged "
                        f"or the file was altered")
    model = make_model(cfg).to(device)
    problem = weights_mismatch(model, ckpt["model"])
    try:
        if problem is None:
            model.load_state_dict(ckpt["model"])
    except (RuntimeError, TypeError, AttributeError) as e:
        problem = one_line(e)[:300]
    if problem is not None:
        raise UserError(f"the checkpoint's weights do not fit the run's config.json: {problem}")
    return model


def load_run(run, device: torch.device = torch.device("cpu")) -> tuple:
    """Load a run folder for sampling or evaluation: returns (RunConfig, its model in eval mode on `device`, step
    reached); the model's settings are model.cfg (a ModelConfig). UserError when `run` is not a run folder or its
    files are damaged."""
    run = require_run_folder(run)
    cfg = read_config(run)
    ckpt = load_checkpoint(run, device, WEIGHTS_KEYS)
    return cfg, build_model(cfg.model, ckpt, device, run).eval(), int(ckpt["step"])


def with_data_folder(cfg: RunConfig, folder, run) -> RunConfig:
    """Return cfg reading its dataset from `folder` (the data moved); UserError unless `folder` holds the data
    the run in folder `run` trained on (its fingerprint; name, frame size, views, viewpoint kind, position
    scale)."""
    scenes = open_dataset(folder, cfg.dataset, "train")
    check_run_data(str(run), cfg, scenes.manifest, scenes.folder)
    return resumed_run_config(cfg, dataset_facts(scenes))


def plan_run(folder, out=None, resume: bool = False, dataset: str = None, preset: str = None, **options) -> RunConfig:
    """Return the RunConfig of `jumpdata train FOLDER`: a new run (config.new_run_config from `preset`, `options`
    and the facts of `dataset` in `folder`) or, resume=True, the run in `out` continued on the data in `folder`
    (config.resumed_run_config; `dataset`, `preset` and `options` may only repeat the run's values, apart from
    the ones a resume may change). options: settings by name, None = not given ("model": the kind).

    Raises UserError on a bad value, a dataset that is not the run's, or a resume of a run folder written
    before the model/run split (its trajectory cannot be continued exactly).
    """
    if not resume:
        return new_run_config(dataset_facts(open_dataset(folder, dataset, "train")), preset, **options)
    if out is None:
        raise UserError("--resume needs --out RUN_FOLDER")
    run = require_run_folder(out)
    if is_legacy(read_config_values(run)):
        raise UserError(f"{run} was made by an older jumpdata (a flat config.json): sample and eval read it, but "
                        f"--resume cannot continue it exactly (training now draws 1..targets target views per "
                        f"scene); start a new run")
    stored = read_config(run)
    check_config_fits_checkpoint(run, stored.model, load_checkpoint(run))
    scenes = open_dataset(folder, stored.dataset, "train")
    check_run_data(str(run), stored, scenes.manifest, scenes.folder)
    return resumed_run_config(stored, dataset_facts(scenes), dataset=dataset, preset=preset, **options)
