"""Can a trained JUMP's prior learn to produce its posterior's latents? A diagnostic of the story runs
(docs/model.md, "Where the story is lost"), not a speed benchmark.

    python bench/prior_fit.py RUN OUT [--steps 10000] [--lr 1e-3] [--seed 0]

Copies the run folder RUN to OUT, then trains the prior's DRAW chain alone, everything else frozen (the towers,
the posterior, the renderer), on the run's training data, the loss the KL(q || p) of the training objective
alone: the posterior's latents are then a fixed target, where in training they move with the prior. The batches
follow on from those the run trained on (its data stream from the step after its last); one torch seed. Prints
the mean KL (nats per scene) every 250 steps, then writes OUT/checkpoint.pt at the run's step (the prior
changed); measure it with `jumpdata eval OUT --metric story --probe PROBE` beside RUN.
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

# Run as `python bench/prior_fit.py`, this file's folder comes first on sys.path, and bench/narratives.py would
# hide the narratives package: the repository root replaces it.
sys.path[:] = [str(Path(__file__).resolve().parents[1])] + [
    p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import torch  # noqa: E402

from jump_model.data import StepSampler, make_loader, open_split, training_examples  # noqa: E402
from jump_model.run_folder import load_run, save_checkpoint  # noqa: E402
from jump_model.runtime import capabilities, choose_precision  # noqa: E402

LOG_EVERY = 250
CPU = torch.device("cpu")


def fit_prior(model, cfg, start: int, steps: int, lr: float, on_line=print) -> torch.optim.Optimizer:
    """Train `model`'s prior chain alone for `steps` steps of KL(q || p) on the run's training batches from step
    `start` on, in the run's precision; returns the optimizer (over the prior's parameters)."""
    model.train()
    model.requires_grad_(False)
    model.prior.requires_grad_(True)
    params = list(model.prior.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    dtype = choose_precision(capabilities(CPU), cfg.amp).autocast_dtype()
    examples = training_examples(cfg, open_split(cfg, "train"), shuffle=True)
    loader = make_loader(examples, StepSampler(start, cfg.batch_size), cfg.batch_size, 0, CPU)
    began, total = time.perf_counter(), 0.0
    for step, batch in zip(range(1, steps + 1), loader):
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            kl = model.kl(batch).mean()
        optimizer.zero_grad(set_to_none=True)
        kl.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        total += float(kl.detach())
        if step % LOG_EVERY == 0:
            on_line(json.dumps({"step": step, "kl": round(total / LOG_EVERY, 3),
                                "minutes": round((time.perf_counter() - began) / 60, 1)}))
            total = 0.0
    return optimizer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("out")
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if Path(a.out).exists():
        p.error(f"{a.out} exists; give a new folder")
    cfg, model, step = load_run(a.run)
    if not hasattr(model, "prior"):
        p.error(f"{a.run} is not a JUMP run (model {cfg.model.kind})")
    torch.manual_seed(a.seed)
    shutil.copytree(a.run, a.out)
    optimizer = fit_prior(model, cfg, step, a.steps, a.lr)
    save_checkpoint(a.out, model, optimizer, step, cfg)
    print(f"wrote {a.out}: {a.run} with its prior fitted for {a.steps} steps")


if __name__ == "__main__":
    main()
