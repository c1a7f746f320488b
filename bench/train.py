"""Training speed, end to end (HDF5 reading and the DataLoader included), against gqnlib's ConsistentGQN.

    python bench/train.py [SHARD_FOLDER] [--steps 12] [--device cpu|cuda]

Without a folder it writes a small 64x64 salesman set to a temporary folder.
Ours: `jump_model.train.train` with --preset salesman --batch-size 16
--context 3 --targets 4 (each scene draws 1..3 context views), timed from the
per-step lines of metrics.jsonl after a warm-up. Reference: gqnlib's
ConsistentGQN (the installed package if importable, else the plain
re-statement in bench/gqnlib_reference.py) at 4 DRAW steps, batch 16, 3
context + 4 target views, fed by the same DataLoader. Prints scenes/s, the
share of step time spent waiting for data, and the ratio.
"""

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jump_model.data import (SceneViews, StepSampler, loader_workers, make_loader,  # noqa: E402
                             open_split)
from jump_model.model import encode_viewpoints, encoded_viewpoint_dim, frames_to_images  # noqa: E402
from jump_model.run_folder import plan_run  # noqa: E402
from jump_model.train import bf16_is_fast, resolve_device, train  # noqa: E402

BATCH, CONTEXT, TARGETS, DRAW_STEPS = 16, 3, 4, 4


def make_data(folder: Path) -> Path:
    """Write 300 + 40 salesman scenes of 64x64 into `folder` with the jumpdata CLI; returns the folder."""
    exe = Path(sys.executable).with_name("jumpdata")
    subprocess.run([str(exe), "narratives", "--story", "salesman", "--size", "64", "--n", "300", "--test-n", "40",
                    "--out", str(folder)], check=True, capture_output=True)
    return folder


def bench_ours(data: Path, steps: int, warmup: int, device: str, run: Path, amp: bool) -> tuple:
    """Train our model for warmup + steps steps (bf16 autocast where native if `amp`); returns (scenes/s,
    data-wait share) over the timed steps."""
    cfg = plan_run(data, preset="salesman", steps=warmup + steps, batch_size=BATCH, context=CONTEXT,
                   targets=TARGETS, device=device, log_every=1, eval_every=10**9, sample_every=10**9,
                   checkpoint_every=10**9, eval_scenes=BATCH, amp=amp)
    train(cfg, run)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][warmup:-1]
    seconds = [BATCH / m["scenes_per_s"] for m in lines]
    waits = [m["data_wait_share"] * s for m, s in zip(lines, seconds)]
    return BATCH * len(lines) / sum(seconds), sum(waits) / sum(seconds)


def reference_model(vdim: int):
    """Return (name, loss(x_c, v_c, x_q, v_q, var) -> scalar, module) for gqnlib's ConsistentGQN, 4 DRAW steps."""
    try:
        from gqnlib import ConsistentGQN
        model = ConsistentGQN(v_dim=vdim, n_layer=DRAW_STEPS)
        return "gqnlib.ConsistentGQN", lambda *a: model.loss_func(*a)["loss"], model
    except ImportError:
        from bench.gqnlib_reference import GqnlibConsistentGQN
        model = GqnlibConsistentGQN(n_layer=DRAW_STEPS, v_dim=vdim)
        return "bench/gqnlib_reference.py (gqnlib not installed)", model.loss, model


def bench_reference(data: Path, steps: int, warmup: int, device: str) -> tuple:
    """Train the reference on the same DataLoader; returns (name, scenes/s, data-wait share)."""
    cfg = plan_run(data, preset="salesman")
    scenes = open_split(cfg, "train")
    dev = resolve_device(device)
    loader = make_loader(SceneViews(scenes, CONTEXT, TARGETS, 0, shuffle=True), StepSampler(0, BATCH), BATCH,
                         loader_workers(-1, dev), dev)
    torch.manual_seed(0)
    name, loss_fn, model = reference_model(encoded_viewpoint_dim(cfg.model.viewpoint_kind))
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=5e-4)
    batches = iter(loader)
    wait = total = 0.0
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        b = {k: v.to(dev) for k, v in next(batches).items()}
        t1 = time.perf_counter()
        enc = lambda v: encode_viewpoints(v, cfg.model)
        loss = loss_fn(frames_to_images(b["context_frames"]), enc(b["context_viewpoints"]),
                       frames_to_images(b["target_frames"]), enc(b["target_viewpoints"]), 2.0)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            wait += t1 - t0
            total += time.perf_counter() - t0
    assert math.isfinite(loss.item())
    return name, BATCH * steps / total, wait / total


def main():
    """Parse arguments, run both benchmarks, print the figures and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", help="shard folder with one 64x64 dataset [default: make one]")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.folder) if args.folder else make_data(Path(tmp) / "shards")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device "
              f"{resolve_device(args.device)}; batch {BATCH}, context 1..{CONTEXT}, targets {TARGETS}, 64x64")
        native = bf16_is_fast(resolve_device(args.device))
        ours = {}
        for amp in (True, False) if native else (False,):
            speed, wait = bench_ours(data, args.steps, args.warmup, args.device, Path(tmp) / f"run{amp}", amp)
            ours[amp] = speed
            label = "default: bf16 autocast" if amp else "float32" + (" (default here)" if not native else "")
            print(f"jump_model (preset salesman, {label}): {speed:6.1f} scenes/s   data wait "
                  f"{100 * wait:4.1f}% of step time")
        name, ref, ref_wait = bench_reference(data, args.steps, args.warmup, args.device)
        print(f"reference {name}, float32: {ref:6.1f} scenes/s   data wait {100 * ref_wait:4.1f}% of step time")
        for amp, speed in ours.items():
            print(f"ratio ({'bf16 default' if amp else 'float32'} / reference): {speed / ref:.2f}x")


if __name__ == "__main__":
    main()
