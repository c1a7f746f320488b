"""The training loop: plain PyTorch, one process per device, DDP under torchrun.

Run folder (rank 0 writes): config.json and checkpoint.pt (see run_folder.py),
metrics.jsonl, samples_XXXXXX.png, and TensorBoard events when `tensorboard`
is importable. Every random draw of step s comes from
(seed, s, rank) -- the data picks in data.py, the model's noise here -- so
`resume` continues exactly the trajectory of an uninterrupted run.
"""

import atexit
import importlib.util
import json
import os
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from scene_shards.common import UserError
from scene_shards.files import atomic_open

from .config import RunConfig
from .data import SceneViews, StepSampler, loader_workers, make_loader, open_split, open_test_split, to_device
from .model import frames_to_images
from .models import make_model
from .run_folder import (build_model, has_checkpoint, load_checkpoint, load_optimizer, require_run_folder,
                         save_checkpoint, write_config)
from .sample import render_scene
from .schedules import parse_schedule, pixel_variance

NOISE_STREAM, EVAL_STREAM = 103, 104   # tags of the model-noise streams of training and evaluation
LOSS_KEYS = ("loss", "kl", "nll", "mse")


class TrainingDiverged(UserError):
    """The loss or the weights became NaN or infinite; the run folder keeps the last good checkpoint, if any."""


@dataclass
class TrainResult:
    """How a training call ended: steps completed, whether Ctrl-C stopped it, the last logged metrics."""
    step: int
    interrupted: bool
    metrics: dict


def resolve_device(name: str) -> torch.device:
    """Return the torch.device for "auto", "cpu" or "cuda" (UserError if CUDA is asked for but missing)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA GPU is available here (use --device cpu or auto)")
    if name not in ("cpu", "cuda"):
        raise UserError(f"unknown device '{name}' (choose auto, cpu or cuda)")
    return torch.device(name)


def derived_seed(*keys: int) -> int:
    """Return a torch seed (a 63-bit int) derived from non-negative ints, e.g. (seed, NOISE_STREAM, step, rank)."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0] >> 1)


def prepare_run(out: Path, resume: bool):
    """Check the run folder; returns the checkpoint dict to resume from, or None for a fresh run."""
    if resume:
        return load_checkpoint(require_run_folder(out))
    if has_checkpoint(out):
        raise UserError(f"{out} already holds a run; use --resume to continue it or pick another --out")
    return None


def training_examples(cfg: RunConfig, scenes, shuffle: bool) -> SceneViews:
    """Return the examples the run's model trains on (or is evaluated on): windows of consecutive frames for the
    autoregressive model, random view sets for the others."""
    return SceneViews(scenes, cfg.context, cfg.targets, cfg.seed, shuffle, sequential=cfg.model.kind == "ar")


class Evaluator:
    """Held-out figures on the first `eval_scenes` test scenes with fixed context/target picks and noise, at the
    run's fixed `eval_pixel_variance` (so they compare across steps and runs of the same preset)."""

    KEYS = ("eval_nelbo", "eval_kl", "eval_nll", "eval_recon_mse", "eval_pred_mse")

    def __init__(self, cfg: RunConfig, scenes, device: torch.device):
        self.cfg, self.device, self.scenes = cfg, device, scenes
        n = min(cfg.eval_scenes, len(self.scenes))
        self.examples = training_examples(cfg, scenes, shuffle=False)
        self.batches = [list(range(i, min(i + cfg.batch_size, n))) for i in range(0, n, cfg.batch_size)]

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module) -> dict:
        """Return the means over the evaluation scenes (all in float32) of: eval_nelbo, eval_kl, eval_nll (nats per
        scene), eval_recon_mse (per pixel, the posterior's reconstruction of the targets) and eval_pred_mse (per
        pixel, the targets sampled from the prior given the context: a prediction error)."""
        model.eval()
        totals, count = dict.fromkeys(self.KEYS, 0.0), 0
        for b, idx in enumerate(self.batches):
            torch.manual_seed(derived_seed(self.cfg.seed, EVAL_STREAM, b))
            batch = to_device(torch.utils.data.default_collate([self.examples[i] for i in idx]), self.device)
            losses = model.scene_losses(batch, self.cfg.eval_pixel_variance)
            truth, mask, query = frames_to_images(batch["target_frames"]), batch["target_mask"], \
                batch["target_viewpoints"]
            query = torch.where(mask[..., None], query, query[:, :1])   # padding asks for the first target again
            predicted = model.sample(batch["context_frames"], batch["context_viewpoints"], query,
                                     batch["context_mask"])
            pred_mse = (predicted - truth).square()[mask].flatten(1).mean(1)
            scene_pred = pred_mse.new_zeros(len(idx)).index_add_(0, mask.nonzero()[:, 0], pred_mse) / mask.sum(1)
            figures = {"eval_nelbo": losses["nelbo"], "eval_kl": losses["kl"], "eval_nll": losses["nll"],
                       "eval_recon_mse": losses["mse"], "eval_pred_mse": scene_pred}
            for k in self.KEYS:
                totals[k] += float(figures[k].sum())
            count += len(idx)
        model.train()
        return {k: v / count for k, v in totals.items()}


def tensorboard_writer(out: Path):
    """Return a TensorBoard SummaryWriter for `out`, or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out))


def distributed_setup(device: torch.device) -> tuple:
    """Join the torchrun process group when torchrun started this process (RANK set; NCCL on CUDA, gloo on
    CPU), even with one process, so a one-GPU torchrun run takes the same path as a many-GPU one.

    Returns (rank, world size, device); on CUDA each rank takes GPU LOCAL_RANK.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if "RANK" not in os.environ and world <= 1:
        return 0, 1, device
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(leave_process_group, world, False)   # an error before train's own exit: leave anyway
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return dist.get_rank(), world, device


def leave_process_group(world: int, finished: bool) -> None:
    """Leave the process group distributed_setup joined (nothing when it joined none). A rank that `finished`
    cleanly first waits at a barrier for every other rank, so no rank shuts its connections down while another
    still uses them (gloo aborts the process then); a failing rank leaves at once, which ends the collectives
    its peers are waiting in with an error instead of a hang."""
    if dist.is_initialized():
        if finished and world > 1:
            dist.barrier()
        dist.destroy_process_group()


def logged_step(line: str) -> float:
    """Return the step of a metrics.jsonl line; infinity for a damaged line (e.g. cut short by a full disk or a
    kill -9 while appended), so a resume drops it with the lines past its checkpoint."""
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return float("inf")


class MetricsLog:
    """Appends metrics lines to metrics.jsonl (and TensorBoard) on rank 0; a no-op on other ranks."""

    def __init__(self, out: Path, active: bool):
        self.path = out / "metrics.jsonl"
        self.active = active
        self.board = tensorboard_writer(out) if active else None

    def drop_after(self, step: int) -> None:
        """Remove lines past `step` (logged after the checkpoint a resumed run starts from), atomically."""
        if not self.active or not self.path.is_file():
            return
        keep = [line for line in self.path.read_text().splitlines(keepends=True) if logged_step(line) <= step]
        with atomic_open(self.path) as f:
            f.write("".join(keep))

    def write(self, record: dict) -> None:
        """Append one JSON object (one line)."""
        if not self.active:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.board is not None:
            for k, v in record.items():
                if k != "step":
                    self.board.add_scalar(k, v, record["step"])
            self.board.flush()


class StopRequest:
    """Turns the first Ctrl-C (SIGINT) into a flag the loop reads between steps, so the checkpoint saved on
    the way out is of a whole step; a second Ctrl-C interrupts at once (KeyboardInterrupt, nothing saved)."""

    def __enter__(self):
        self.requested, self.previous = False, None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._request)
        return self

    def _request(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def agreed(self, world: int, device: torch.device) -> bool:
        """Return True if any rank was asked to stop (an all-reduce when there are several ranks)."""
        if world == 1:
            return self.requested
        flag = torch.tensor([float(self.requested)], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def bf16_is_fast(device: torch.device) -> bool:
    """Return True if `device` computes bfloat16 natively: a CUDA GPU that supports it, or a CPU with the
    avx512_bf16 or amx_bf16 instructions (read from /proc/cpuinfo; False where that file does not exist)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def compiler_available(device: torch.device) -> bool:
    """Return True if torch.compile can generate code for `device` here: Triton for CUDA, a C++ compiler (CXX,
    else g++) for the CPU. If not, say so in one line on stderr (the run goes on uncompiled)."""
    if device.type == "cuda":
        missing = None if importlib.util.find_spec("triton") else "Triton is not installed"
    else:
        cxx = os.environ.get("CXX", "g++")
        missing = None if shutil.which(cxx) else f"no C++ compiler ({cxx}) on PATH"
    if missing:
        print(f"jumpdata: --compile: {missing}; training uncompiled", file=sys.stderr)
    return missing is None


def parameters_finite(model: torch.nn.Module) -> bool:
    """Return True if every parameter of `model` is finite (no NaN or inf)."""
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def diverged(what: str, step: int, out: Path, saved) -> TrainingDiverged:
    """Return the TrainingDiverged error for `what` became non-finite near `step`; `saved`: the step of the
    checkpoint in `out` (None: none written yet)."""
    where = (f"the last good checkpoint (step {saved}) is in {out}" if saved is not None
             else "no checkpoint was written yet")
    return TrainingDiverged(f"{what} became non-finite near step {step}; stopped, {where}. Start a new run with a "
                            f"lower --lr")


def mean_over_ranks(sums: torch.Tensor, world: int) -> torch.Tensor:
    """Return `sums` averaged over the `world` ranks (an all-reduce; every rank must call it), or as is."""
    if world > 1:
        sums = sums.clone()
        dist.all_reduce(sums)
        sums /= world
    return sums


def train(cfg: RunConfig, out, resume: bool = False, on_progress=None) -> TrainResult:
    """Train the model `cfg` describes (cfg.model.kind), writing the run folder `out` (resume=True: continue it);
    cfg comes from run_folder.plan_run (or config.new_run_config / resumed_run_config).

    on_progress(step, total_steps, metrics) is called after every step (metrics: the
    last logged line, averaged over all ranks). Returns a TrainResult; raises
    TrainingDiverged on a NaN/inf loss or weight (the last good checkpoint stays) and
    UserError on bad input (before anything is written).
    """
    out = Path(out)
    device = resolve_device(cfg.device)
    rank, world, device = distributed_setup(device)
    ckpt = prepare_run(out, resume)
    cfg.validate()
    train_scenes = open_split(cfg, "train")
    test_scenes = open_test_split(cfg)
    examples = training_examples(cfg, train_scenes, shuffle=True)
    start = 0 if ckpt is None else int(ckpt["step"])
    if start >= cfg.steps:
        raise UserError(f"the run in {out} has already done {start} steps; give --steps more than {start} to extend it")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        write_config(out, cfg)
    schedule = parse_schedule(cfg.pixel_variance)

    torch.manual_seed(cfg.seed)
    model = make_model(cfg.model).to(device) if ckpt is None else build_model(cfg.model, ckpt, device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    if ckpt is not None:
        load_optimizer(optimizer, ckpt)
    step_fn = model
    if dist.is_initialized():
        step_fn = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda"
                                                            else None)
    if cfg.compile and compiler_available(device):
        step_fn = torch.compile(step_fn)
    use_amp = cfg.amp and bf16_is_fast(device)

    loader = make_loader(examples, StepSampler(start, cfg.batch_size, rank, world), cfg.batch_size,
                         loader_workers(cfg.workers, device), device)
    evaluator = Evaluator(cfg, test_scenes, device) if rank == 0 else None
    log = MetricsLog(out, rank == 0)
    log.drop_after(start)

    sums = torch.zeros(len(LOSS_KEYS), device=device)
    window_steps, wait, t_window = 0, 0.0, time.perf_counter()
    metrics, step, interrupted, saved = {}, start, False, (None if ckpt is None else start)
    batches, finished = iter(loader), False
    try:
        with StopRequest() as stop:
            while step < cfg.steps:
                t0 = time.perf_counter()
                batch = to_device(next(batches), device)
                wait += time.perf_counter() - t0
                variance = pixel_variance(schedule, step)
                variance_t = torch.tensor(variance, device=device)
                torch.manual_seed(derived_seed(cfg.seed, NOISE_STREAM, step, rank))
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    losses = step_fn(batch, variance_t)
                optimizer.zero_grad(set_to_none=True)
                losses["loss"].backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                optimizer.step()
                sums += torch.stack([losses[k].detach().float() for k in LOSS_KEYS])
                step += 1
                window_steps += 1

                interrupted = stop.agreed(world, device)
                evaluate = step % cfg.eval_every == 0 or step == cfg.steps   # the same on every rank
                if step % cfg.log_every == 0 or evaluate or step == cfg.steps or interrupted:
                    values = (mean_over_ranks(sums, world) / window_steps).tolist()
                    if not all(np.isfinite(values)):
                        raise diverged(f"the loss ({values[0]})", step, out, saved)
                    elapsed = time.perf_counter() - t_window
                    metrics = {"step": step, **dict(zip(LOSS_KEYS, values)), "pixel_variance": variance,
                               "scenes_per_s": window_steps * cfg.batch_size * world / elapsed,
                               "data_wait_share": wait / elapsed}
                    if evaluate and rank == 0:
                        metrics.update(evaluator(model))
                    log.write(metrics)
                    sums.zero_()
                    window_steps, wait, t_window = 0, 0.0, time.perf_counter()
                if rank == 0 and (step % cfg.checkpoint_every == 0 or step == cfg.steps or interrupted):
                    if not (torch.isfinite(sums).all() and parameters_finite(model)):
                        raise diverged("the loss or the weights", step, out, saved)
                    save_checkpoint(out, model, optimizer, step, cfg)
                    saved = step
                if rank == 0 and step % cfg.sample_every == 0:
                    model.eval()
                    render_scene(model, cfg, test_scenes, out / f"samples_{step:06d}.png", seed=cfg.seed)
                    model.train()
                if on_progress is not None:
                    on_progress(step, cfg.steps, metrics)
                if interrupted:
                    break
        finished = True
    finally:
        del batches
        if log.board is not None:
            log.board.close()
        leave_process_group(world, finished)
    return TrainResult(step, interrupted, metrics)
