"""A training run's folder on disk: config.json and checkpoint.pt, read and written in one place.

    RUN/config.json     every setting of the run (JumpConfig), rewritten when a resume changes one
    RUN/checkpoint.pt   {"model", "optimizer", "step", "config"}; tensors and plain types only, so
                        torch.load(..., weights_only=True) reads it; written to a temporary name and renamed

Every problem with these files (missing, truncated, not JSON, not a checkpoint)
is raised as a one-line UserError.
"""

import json
import pickle
import zipfile
from pathlib import Path

import torch

from scene_shards.common import UserError, one_line
from scene_shards.files import AtomicFile, write_json_atomic

from .config import RESUME_CHANGEABLE, JumpConfig
from .model import JUMP

CONFIG, CHECKPOINT = "config.json", "checkpoint.pt"
CHECKPOINT_KEYS = ("model", "optimizer", "step", "config")
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


def read_config(run) -> JumpConfig:
    """Return the validated JumpConfig stored in RUN/config.json; UserError when it is unreadable or invalid."""
    path = Path(run) / CONFIG
    try:
        values = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if not isinstance(values, dict):
        raise UserError(f"{path} does not hold a run config (a JSON object)")
    try:
        return JumpConfig.from_dict(values).validate()
    except UserError as e:
        raise UserError(f"{path}: {e}") from None


def write_config(run, cfg: JumpConfig) -> None:
    """Write cfg to RUN/config.json atomically."""
    write_json_atomic(Path(run) / CONFIG, cfg.to_dict())


def save_checkpoint(run, model: JUMP, optimizer, step: int, cfg: JumpConfig) -> None:
    """Write model, optimizer, step and config to RUN/checkpoint.pt through a temporary file and a rename.

    A failed write (a full disk: torch reports it as a RuntimeError) leaves the previous checkpoint and no
    temporary file, and raises UserError (one line)."""
    path = Path(run) / CHECKPOINT
    try:
        with AtomicFile(path) as tmp:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                        "config": cfg.to_dict()}, tmp)
    except (OSError, RuntimeError) as e:
        raise UserError(f"cannot save checkpoint {path} (the previous one is kept): {one_line(e)[:300]}") from None


def load_checkpoint(run, device: torch.device = torch.device("cpu")) -> dict:
    """Read RUN/checkpoint.pt with weights_only=True onto `device`; returns its dict (CHECKPOINT_KEYS).

    Raises UserError (one line) when the file is missing, damaged or not a jumpdata checkpoint.
    """
    path = Path(run) / CHECKPOINT
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except LOAD_ERRORS as e:
        reason = str(e).splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot load checkpoint {path} (damaged or not a jumpdata checkpoint: {reason[:120]})") \
            from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in CHECKPOINT_KEYS):
        raise UserError(f"{path} is not a jumpdata checkpoint (it needs the keys {', '.join(CHECKPOINT_KEYS)})")
    step = ckpt["step"]
    if not (isinstance(step, int) and not isinstance(step, bool) and step >= 0):
        raise UserError(f"{path} is damaged: its step {step!r} is not a whole number of steps (0 or more)")
    for key in ("model", "optimizer", "config"):
        if not isinstance(ckpt[key], dict):
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


def build_model(cfg: JumpConfig, ckpt: dict, device: torch.device) -> JUMP:
    """Return the JUMP of `cfg` on `device` with the checkpoint's weights; UserError when they do not fit cfg."""
    model = JUMP(cfg).to(device)
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
    """Load a run folder for sampling: returns (JumpConfig, JUMP in eval mode on `device`, step reached).

    Raises UserError when `run` is not a run folder or its files are damaged.
    """
    run = require_run_folder(run)
    cfg = read_config(run)
    ckpt = load_checkpoint(run, device)
    return cfg, build_model(cfg, ckpt, device).eval(), int(ckpt["step"])


def resume_config(run, data_dir, **changes) -> JumpConfig:
    """Return the config to continue run folder `run` on the dataset in `data_dir`, with `changes` applied.

    `changes` maps JumpConfig field names to new values (None: not given). Fields in
    config.RESUME_CHANGEABLE (steps, device, workers, compile, the logging intervals) may
    change; any other given value that differs from the run's raises UserError, since it
    would change the trajectory being continued. data_dir replaces the stored data folder
    (the data may have moved); train() checks that it holds the same dataset.
    """
    cfg = read_config(require_run_folder(run))
    values = cfg.to_dict()
    given = {k: v for k, v in changes.items() if v is not None}
    fixed = [k for k, v in given.items() if k not in RESUME_CHANGEABLE and k in values and v != values[k]]
    if fixed:
        names = ", ".join(f"--{k.replace('_', '-')} {given[k]} (run: {values[k]})" for k in fixed)
        raise UserError(f"--resume continues {run} exactly and cannot change {names}; only --steps, --device, "
                        f"--workers, --compile and the --*-every intervals may change (start a new run to change more)")
    values.update(given)
    values["data_dir"] = str(Path(data_dir).resolve())
    return JumpConfig.from_dict(values).validate()
