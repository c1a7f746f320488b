"""Training speed, end to end (HDF5 reading and the DataLoader included), against gqnlib's ConsistentGQN.

    python bench/train.py [SHARD_FOLDER] [--steps 12] [--warmup 3] [--rounds 2] [--device auto]
                          [--batch-size 16] [--runs default,float32,reference]

Without a folder it writes a small 64x64 salesman set to a temporary folder.
Ours: `jump_model.training.train` with --preset salesman --batch-size 16
--context 3 --targets 4 (each scene draws 1..3 context views and exactly 4 targets, as the
reference renders; training itself draws 1..4 targets), timed from the
per-step lines of metrics.jsonl after a warm-up: `default` (bf16 autocast where
the device computes bf16 natively), `float32`, and `compile` (the default with
--compile) if --runs names it. Reference: gqnlib's ConsistentGQN, the package itself when
`import gqnlib` works (e.g. a checkout of rnagumo/gqnlib on PYTHONPATH), else
the plain re-statement in bench/gqnlib_reference.py (same parameters and
operations; the commit it follows is in its docstring), at the same sizes
(4 DRAW steps, 64 hidden, 128 encoder and canvas, 64 decoder channels), float32,
fed by the same DataLoader. The runs alternate for --rounds rounds (the machine
may be shared) and the medians are compared. Prints scenes/s and steps/s, the
share of step time spent waiting for data, peak GPU memory on CUDA, and the
ratios.
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import gqnlib_reference  # noqa: E402
import jump_model.training.loop  # noqa: E402
from jump_model.data import SceneViews, StepSampler, loader_workers, make_loader, open_split  # noqa: E402
from jump_model.nets.blocks import encode_viewpoints, frames_to_images  # noqa: E402
from jump_model.run_folder import plan_run  # noqa: E402
from jump_model.runtime import bf16_is_fast, resolve_device  # noqa: E402
from jump_model.training import train  # noqa: E402

CONTEXT, TARGETS, DRAW_STEPS = 3, 4, 4
RUNS = {"default": dict(amp=True, compile_model=False), "float32": dict(amp=False, compile_model=False),
        "compile": dict(amp=True, compile_model=True), "reference": None}


def make_data(folder: Path) -> Path:
    """Write 300 + 40 salesman scenes of 64x64 into `folder` with the jumpdata CLI; returns the folder."""
    exe = Path(sys.executable).with_name("jumpdata")
    subprocess.run([str(exe), "narratives", "--story", "salesman", "--size", "64", "--n", "300", "--test-n", "40",
                    "--out", str(folder)], check=True, capture_output=True)
    return folder


def peak_memory(device: torch.device) -> float:
    """Return the peak CUDA memory allocated since the last reset in GiB (0.0 on the CPU), and reset it."""
    if device.type != "cuda":
        return 0.0
    peak = torch.cuda.max_memory_allocated(device) / 2**30
    torch.cuda.reset_peak_memory_stats(device)
    return peak


def all_target_examples(cfg, scenes, shuffle: bool) -> SceneViews:
    """The trainer's examples with exactly TARGETS target views per scene, as the reference renders: training
    itself draws 1..targets, which would make our side render fewer views than the reference."""
    return SceneViews(scenes, cfg.context, cfg.targets, cfg.seed, shuffle, all_targets=True)


def bench_ours(data: Path, args, run: Path, amp: bool, compile_model: bool) -> dict:
    """Train our model for warmup + steps steps, every scene with TARGETS target views (like the reference);
    returns {"scenes/s", "wait", "peak"} over the timed steps."""
    jump_model.training.loop.training_examples = all_target_examples
    cfg = plan_run(data, preset="salesman", steps=args.warmup + args.steps, batch_size=args.batch_size,
                   context=CONTEXT, targets=TARGETS, device=args.device, log_every=1, eval_every=10**9,
                   sample_every=10**9, checkpoint_every=10**9, eval_scenes=args.batch_size, amp=amp,
                   compile=compile_model)
    train(cfg, run)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][args.warmup:-1]
    seconds = [args.batch_size / m["scenes_per_s"] for m in lines]
    waits = [m["data_wait_share"] * s for m, s in zip(lines, seconds)]
    return {"scenes/s": args.batch_size * len(lines) / sum(seconds), "wait": sum(waits) / sum(seconds),
            "peak": peak_memory(resolve_device(args.device))}


def gqnlib_models():
    """Return (name, model class) of the reference: the installed gqnlib's ConsistentGQN, else the restatement."""
    try:
        import gqnlib
    except ImportError:
        return f"gqnlib restated ({gqnlib_reference.__name__.replace('.', '/')}.py)", gqnlib_reference.ConsistentGQN
    return f"gqnlib itself ({Path(gqnlib.__file__).parent})", gqnlib.ConsistentGQN


GENERATOR_PARAMS = dict(n_layer=DRAW_STEPS, h_channel=64, e_channel=128, u_channel=128, d_channel=64, z_channel=3,
                        stride=2)


def check_restatement(model_class) -> str:
    """When the reference is gqnlib itself, compare its loss with the restatement's on the same weights and
    noise; returns a line saying so (or why not)."""
    if model_class is gqnlib_reference.ConsistentGQN:
        return "(gqnlib is not importable here: the restatement stands in for it)"
    torch.manual_seed(0)
    real = model_class(generator_params=GENERATOR_PARAMS)
    restated = gqnlib_reference.ConsistentGQN(generator_params=GENERATOR_PARAMS)
    restated.load_state_dict(real.state_dict())
    g = torch.Generator().manual_seed(0)
    x_c, x_q = torch.rand(2, 2, 3, 64, 64, generator=g), torch.rand(2, 3, 3, 64, 64, generator=g)
    v_c, v_q = torch.rand(2, 2, 7, generator=g), torch.rand(2, 3, 7, generator=g)
    losses = []
    with torch.no_grad():
        for m in (real, restated):
            torch.manual_seed(1)
            losses.append(float(m.loss_func(x_c, v_c, x_q, v_q, 2.0)["loss"]))
    return f"restatement vs gqnlib itself on the same weights and noise: loss {losses[1]:.4f} vs {losses[0]:.4f}"


def as_gqnlib_viewpoints(v: torch.Tensor) -> torch.Tensor:
    """Pad encoded viewpoints [..., d] with zeros to gqnlib's 7 numbers (its representation net reshapes to 7)."""
    return torch.nn.functional.pad(v, (0, gqnlib_reference.VIEWPOINT_DIM - v.shape[-1]))


class Reference:
    """gqnlib's ConsistentGQN trained on our DataLoader; call it for one timed run."""

    def __init__(self, data: Path, args, model_class):
        self.cfg = plan_run(data, preset="salesman")
        self.scenes = open_split(self.cfg, "train")
        self.args, self.model_class = args, model_class
        self.device = resolve_device(args.device)

    def __call__(self) -> dict:
        """Train warmup + steps steps; returns {"scenes/s", "wait", "peak"} over the timed steps."""
        args, dev = self.args, self.device
        loader = make_loader(SceneViews(self.scenes, CONTEXT, TARGETS, 0, shuffle=True, all_targets=True),
                             StepSampler(0, args.batch_size), args.batch_size, loader_workers(-1, dev), dev)
        torch.manual_seed(0)
        model = self.model_class(generator_params=GENERATOR_PARAMS).to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=5e-4)
        enc = lambda v: as_gqnlib_viewpoints(encode_viewpoints(v, self.cfg.model))
        batches = iter(loader)
        wait = total = 0.0
        for i in range(args.warmup + args.steps):
            t0 = time.perf_counter()
            b = {k: v.to(dev) for k, v in next(batches).items()}
            t1 = time.perf_counter()
            loss = model.loss_func(frames_to_images(b["context_frames"]), enc(b["context_viewpoints"]),
                                   frames_to_images(b["target_frames"]), enc(b["target_viewpoints"]), 2.0)["loss"]
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if i >= args.warmup:
                wait += t1 - t0
                total += time.perf_counter() - t0
        assert math.isfinite(loss.item())
        del batches
        return {"scenes/s": args.batch_size * args.steps / total, "wait": wait / total, "peak": peak_memory(dev)}


def main():
    """Parse arguments, alternate the runs for --rounds rounds, print each run, the medians and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", help="shard folder with one 64x64 dataset [default: make one]")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="times each run is repeated, alternating")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--runs", default="default,float32,reference",
                        help=f"comma-separated, from {','.join(RUNS)} [default: default,float32,reference]")
    args = parser.parse_args()
    wanted = args.runs.split(",")
    if not wanted or set(wanted) - set(RUNS):
        parser.error(f"--runs takes names from {', '.join(RUNS)}, got {args.runs!r}")
    device = resolve_device(args.device)
    native = bf16_is_fast(device)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.folder) if args.folder else make_data(Path(tmp) / "shards")
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}"
              f"{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''}; batch "
              f"{args.batch_size}, context 1..{CONTEXT}, targets {TARGETS}, 64x64; {args.rounds} rounds of "
              f"{args.warmup} + {args.steps} steps", flush=True)
        runs = {f"ours, {run}{' (' + ('bf16 autocast' if native else 'float32') + ')' if run != 'float32' else ''}":
                RUNS[run] for run in wanted if run != "reference" and not (run == "float32" and not native)}
        jobs = {name: (lambda i, j=j, kw=kw: bench_ours(data, args, Path(tmp) / f"run{j}-{i}", **kw))
                for j, (name, kw) in enumerate(runs.items())}
        if "reference" in wanted:
            ref_name, ref_class = gqnlib_models()
            print(check_restatement(ref_class), flush=True)
            reference = Reference(data, args, ref_class)
            jobs[f"reference: {ref_name}, float32"] = lambda i: reference()
        results = {name: [] for name in jobs}
        for i in range(args.rounds):
            for name, job in jobs.items():
                r = job(i)
                results[name].append(r)
                print(f"  round {i + 1}: {name}: {r['scenes/s']:6.1f} scenes/s", flush=True)
        medians = {}
        for name, rs in results.items():
            speeds = [r["scenes/s"] for r in rs]
            medians[name] = statistics.median(speeds)
            memory = f"   peak GPU memory {max(r['peak'] for r in rs):5.2f} GiB" if device.type == "cuda" else ""
            print(f"{name}: {medians[name]:6.1f} scenes/s ({min(speeds):.1f}-{max(speeds):.1f}), "
                  f"{medians[name] / args.batch_size:5.2f} steps/s   data wait "
                  f"{100 * statistics.median(r['wait'] for r in rs):4.1f}% of step time{memory}")
        if "reference" in wanted:
            ref = medians.pop(next(n for n in medians if n.startswith("reference")))
            for name, speed in medians.items():
                print(f"ratio ({name} / reference): {speed / ref:.2f}x")


if __name__ == "__main__":
    main()
