"""The training loop: plain PyTorch, one process per device, DDP under torchrun.

Run folder (rank 0 writes): config.json and checkpoint.pt (see run_folder.py),
metrics.jsonl, samples_XXXXXX.png, and TensorBoard events when `tensorboard`
is importable. Every random draw of step s comes from
(seed, s, rank) -- the data picks in data.py, the model's noise here -- so
`resume` continues exactly the trajectory of an uninterrupted run. A step
makes no host synchronisation (the models' shapes follow the batch's shapes
alone, the pixel variance is written into a tensor in place); the losses
reach the host, and the ranks agree on a Ctrl-C, once per metrics line.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from scene_shards.common import UserError

from ..config import RunConfig
from ..data import StepSampler, loader_workers, make_loader, open_split, open_test_split, to_device, training_examples
from ..nets import make_model
from ..run_folder import (build_model, has_checkpoint, load_checkpoint, load_optimizer, load_scaler,
                          require_run_folder, save_checkpoint, write_config)
from ..runtime import Precision, apply_precision, capabilities, choose_precision, compiled, derived_seed, resolve_device
from ..sample import render_scene
from ..schedules import parse_schedule, pixel_variance
from .distributed import StopRequest, distributed_setup, leave_process_group, window_over_ranks, wrap_for_processes
from .held_out import HeldOutFigures
from .metrics_log import MetricsLog

NOISE_STREAM = 103   # tag of the model-noise stream of training
LOSS_KEYS = ("loss", "kl", "nll", "mse")


class TrainingDiverged(UserError):
    """The loss or the weights became NaN or infinite; the run folder keeps the last good checkpoint, if any."""


@dataclass
class TrainResult:
    """How a training call ended: steps completed, whether Ctrl-C stopped it, the last logged metrics."""
    step: int
    interrupted: bool
    metrics: dict


class Optimisation:
    """One optimisation step as the trainer takes it: the forward of `step_fn` (the model, maybe wrapped in DDP and
    compiled) under the precision's autocast, the backward (through a GradScaler for fp16), gradient clipping
    and Adam (fused on CUDA). Holds the optimizer and the scaler; bench/ times the same step."""

    def __init__(self, model: torch.nn.Module, step_fn, cfg: RunConfig, precision: Precision, device: torch.device):
        self.model, self.step_fn, self.grad_clip, self.device_type = model, step_fn, cfg.grad_clip, device.type
        self.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True if device.type == "cuda" else None)
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision.grad_scaler)
        self.autocast = precision.autocast_dtype()

    def __call__(self, batch: dict, variance: torch.Tensor) -> dict:
        """Take one step on `batch` at the pixel `variance` (a 0-dim tensor on the device); returns the losses."""
        with torch.autocast(self.device_type, dtype=self.autocast or torch.bfloat16, enabled=self.autocast is not None):
            losses = self.step_fn(batch, variance)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses["loss"]).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return losses


@dataclass
class Session:
    """Everything one training call holds: where it runs, the model and what steps it, the data and the log."""
    cfg: RunConfig
    out: Path
    rank: int
    world: int
    device: torch.device
    start: int                   # the step the run starts (or resumes) from
    saved: int                   # the step of the checkpoint in `out` (None: none yet)
    model: torch.nn.Module
    optimisation: Optimisation   # steps the model, wrapped in DDP and compiled as asked
    variance: torch.Tensor       # the step's pixel variance, 0-dim on the device, written in place
    test_scenes: object
    loader: object
    held_out: HeldOutFigures     # None on ranks other than 0
    log: MetricsLog


def prepare_run(out: Path, resume: bool):
    """Check the run folder; returns the checkpoint dict to resume from, or None for a fresh run."""
    if resume:
        return load_checkpoint(require_run_folder(out))
    if has_checkpoint(out):
        raise UserError(f"{out} already holds a run; use --resume to continue it or pick another --out")
    return None


def open_session(cfg: RunConfig, out: Path, resume: bool, on_note=None) -> Session:
    """Set up a training call: the device and process group, the precision, the run folder (config.json written by
    rank 0, with the precision's record), the data, the model and its optimisation (from the checkpoint when
    resuming, the fp16 loss scale included), the loader and the log; then rank 0 says the precision (how ranks
    share GPUs, if they must, and when an fp16 resume finds no loss scale to continue) through on_note(line).
    UserError on bad input, before anything is written or said."""
    rank, world, device, sharing = distributed_setup(resolve_device(cfg.device))
    ckpt = prepare_run(out, resume)
    cfg.validate()
    train_scenes, test_scenes = open_split(cfg, "train", str(out)), open_test_split(cfg, str(out))
    examples = training_examples(cfg, train_scenes, shuffle=True)
    start = 0 if ckpt is None else int(ckpt["step"])
    if start >= cfg.steps:
        raise UserError(f"the run in {out} has already done {start} steps; give --steps more than {start} to extend it")
    precision = choose_precision(capabilities(device), cfg.amp)
    apply_precision(precision, device)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, cfg, precision.record())
    torch.manual_seed(cfg.seed)
    model = make_model(cfg.model).to(device) if ckpt is None else build_model(cfg.model, ckpt, device, out)
    step_fn = wrap_for_processes(model, device)
    if cfg.compile:   # one graph (fullgraph) alone; DDP's optimiser splits its graph at the gradient buckets
        step_fn = compiled(step_fn, device, fullgraph=step_fn is model)
    optimisation = Optimisation(model, step_fn, cfg, precision, device)
    scale_note = None
    if ckpt is not None:
        load_optimizer(optimisation.optimizer, ckpt)
        scale_note = load_scaler(optimisation.scaler, ckpt)
    loader = make_loader(examples, StepSampler(start, cfg.batch_size, rank, world), cfg.batch_size,
                         loader_workers(cfg.workers, device), device)
    log = MetricsLog(out, rank == 0)
    log.drop_after(start)
    for line in (sharing, precision.line, scale_note) if rank == 0 and on_note is not None else ():
        if line:
            on_note(line)
    return Session(cfg, out, rank, world, device, start, None if ckpt is None else start, model, optimisation,
                   torch.zeros((), device=device), test_scenes, loader,
                   HeldOutFigures(cfg, test_scenes, device) if rank == 0 else None, log)


def optimise(s: Session, batch: dict, step: int, variance: float) -> dict:
    """One optimisation step at `step` on `batch` with the schedule's pixel `variance`: returns the losses."""
    torch.manual_seed(derived_seed(s.cfg.seed, NOISE_STREAM, step, s.rank))
    s.variance.fill_(variance)   # in place: no host-to-device copy, and the compiled graph sees the same input
    return s.optimisation(batch, s.variance)


def diverged(what: str, step: int, s: Session) -> TrainingDiverged:
    """Return the TrainingDiverged error for `what` became non-finite near `step`."""
    where = (f"the last good checkpoint (step {s.saved}) is in {s.out}" if s.saved is not None
             else "no checkpoint was written yet")
    return TrainingDiverged(f"{what} became non-finite near step {step}; stopped, {where}. Start a new run with a "
                            f"lower --lr")


def metrics_line(s: Session, step: int, means: list, variance: float, window: "Window", evaluate: bool) -> dict:
    """Return the metrics line of `step`: the window's mean losses, the variance, the speed, and (evaluate, rank
    0) the held-out figures. TrainingDiverged when a loss is not finite."""
    if not all(np.isfinite(means)):
        raise diverged(f"the loss ({means[0]})", step, s)
    elapsed = time.perf_counter() - window.start
    metrics = {"step": step, **dict(zip(LOSS_KEYS, means)), "pixel_variance": variance,
               "scenes_per_s": window.steps * s.cfg.batch_size * s.world / elapsed,
               "data_wait_share": window.wait / elapsed}
    if evaluate and s.rank == 0:
        metrics.update(s.held_out(s.model))
    return metrics


def parameters_finite(model: torch.nn.Module) -> bool:
    """Return True if every parameter of `model` is finite (no NaN or inf); one host synchronisation."""
    return bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all())


class Window:
    """The steps since the last metrics line: their loss sums, count, time waiting for data, and start time."""

    def __init__(self, device: torch.device):
        self.sums = torch.zeros(len(LOSS_KEYS), device=device)
        self.reset()

    def reset(self) -> None:
        """Start a new window."""
        self.sums.zero_()
        self.steps, self.wait, self.start = 0, 0.0, time.perf_counter()


def train(cfg: RunConfig, out, resume: bool = False, on_progress=None, on_note=None) -> TrainResult:
    """Train the model `cfg` describes (cfg.model.kind), writing the run folder `out` (resume=True: continue it);
    cfg comes from run_folder.plan_run (or config.new_run_config / resumed_run_config).

    on_progress(step, total_steps, metrics) is called after every step (metrics: the
    last logged line, averaged over all ranks); on_note(line) once at start with
    the precision chosen (and with how the ranks share GPUs, if they must). With
    several ranks a Ctrl-C stops the run at the next metrics line (every
    --log-every steps), where the ranks agree. Returns a TrainResult; raises
    TrainingDiverged on a NaN/inf loss or weight (the last good checkpoint stays) and
    UserError on bad input (before anything is written).
    """
    s = open_session(cfg, Path(out), resume, on_note)
    schedule = parse_schedule(cfg.pixel_variance)
    window, metrics, step, interrupted = Window(s.device), {}, s.start, False
    batches, finished = iter(s.loader), False
    try:
        with StopRequest() as stop:
            while step < cfg.steps:
                # ---- one optimisation step
                t0 = time.perf_counter()
                batch = to_device(next(batches), s.device)
                window.wait += time.perf_counter() - t0
                variance = pixel_variance(schedule, step)
                losses = optimise(s, batch, step, variance)
                window.sums += torch.stack([losses[k].detach().float() for k in LOSS_KEYS])
                step += 1
                window.steps += 1
                interrupted = stop.requested and s.world == 1   # several ranks agree at the next line
                # ---- log the window's mean losses (and the held-out figures); the ranks agree on a stop
                evaluate = step % cfg.eval_every == 0 or step == cfg.steps   # the same on every rank
                if step % cfg.log_every == 0 or evaluate or step == cfg.steps or interrupted:
                    means, stop_asked = window_over_ranks(window.sums / window.steps, stop.requested, s.world)
                    interrupted = interrupted or stop_asked
                    metrics = metrics_line(s, step, means, variance, window, evaluate)
                    s.log.write(metrics)
                    window.reset()
                # ---- checkpoint
                if s.rank == 0 and (step % cfg.checkpoint_every == 0 or step == cfg.steps or interrupted):
                    if not (torch.isfinite(window.sums).all() and parameters_finite(s.model)):
                        raise diverged("the loss or the weights", step, s)
                    save_checkpoint(s.out, s.model, s.optimisation.optimizer, step, cfg, s.optimisation.scaler)
                    s.saved = step
                # ---- sample pictures
                if s.rank == 0 and step % cfg.sample_every == 0:
                    s.model.eval()
                    render_scene(s.model, cfg, s.test_scenes, s.out / f"samples_{step:06d}.png", seed=cfg.seed)
                    s.model.train()
                if on_progress is not None:
                    on_progress(step, cfg.steps, metrics)
                if interrupted:
                    break
        finished = True
    finally:
        del batches
        s.log.close()
        leave_process_group(s.world, finished)
    return TrainResult(step, interrupted, metrics)
