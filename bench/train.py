"""Training speed, end to end (HDF5 reading and the DataLoader included): eager against --compile per preset, the
packed step against the gather form on training's random view counts, and the salesman preset against gqnlib's
ConsistentGQN.

    python bench/train.py [--presets tiny,salesman] [--runs default,compile,float32,random,gathered,reference]
                          [--steps 12] [--warmup 3] [--rounds 2] [--device auto] [--batch-size 16] [--figures FILE]

It writes small salesman sets to a temporary folder: 32x32 for the tiny preset, 64x64 for salesman. Ours:
`train()` with the preset, --batch-size, --context 3 --targets 4 (each scene draws 1..3 context views and exactly 4
targets, as the reference renders; the step computes every slot of these batches, so its time does not depend
on the draws), timed from the per-step lines of metrics.jsonl after a warm-up: `default` (eager, bf16 autocast where
the device computes bf16 natively), `compile` (the default with --compile; its warm-up holds the compilation) and
`float32`. Random view counts, as `jumpdata train` draws them (the preset's own --context and --targets, each
batch's context and target counts permutations of fixed multisets, docs/model.md "The static step"): `random`
(eager, the default precision: the packed step, computing the batch's real views alone) against `gathered` (the
same run on the same batches with the model's terms computed by bench/gather_form.py, the gather form of before the
static step: the real views gathered into batches of data-dependent size). Each of our runs is followed by the same
training step alone, timed on one batch already on the device (compiled for `compile`): the step time's share
outside the model (data, logging, synchronisation) is 1 minus their ratio, and the step's CPU time is printed
(little affected by other jobs on a shared machine). Reference (salesman only): gqnlib's ConsistentGQN, the package itself when `import gqnlib` works
(e.g. a checkout of rnagumo/gqnlib on PYTHONPATH), else the plain re-statement in bench/gqnlib_reference.py (same
parameters and operations; the commit it follows is in its docstring), at the same sizes (4 DRAW steps, 64 hidden,
128 encoder and canvas, 64 decoder channels), float32, fed by the same DataLoader. The runs alternate for --rounds
rounds (the machine may be shared) and the medians are compared. Prints steps/s, scenes/s, the data-wait and
outside-model shares, peak GPU memory on CUDA, and the ratios (compile / default and random / gathered per preset;
ours / reference).
"""

import argparse
import dataclasses
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
from bench.gather_form import use_gather_form  # noqa: E402
from bench.run_figures import append_row  # noqa: E402
import jump_model.training.loop as loop  # noqa: E402
from jump_model.config import PRESETS, RunConfig  # noqa: E402
from jump_model.data import (SceneViews, StepSampler, count_multiset, loader_workers, make_loader,  # noqa: E402
                             open_split, to_device)
from jump_model.nets.blocks import encode_viewpoints, frames_to_images  # noqa: E402
from jump_model.nets import make_model  # noqa: E402
from jump_model.run_folder import plan_run  # noqa: E402
from jump_model.runtime import capabilities, choose_precision, compiled, resolve_device  # noqa: E402

CONTEXT, TARGETS, DRAW_STEPS = 3, 4, 4
PRESET_SIZES = {"tiny": 32, "salesman": 64}   # frame size of each preset's bench data
OURS = {"default": dict(amp=True, compile=False), "compile": dict(amp=True, compile=True),
        "float32": dict(amp=False, compile=False),
        "random": dict(amp=True, compile=False, random_views=True),
        "gathered": dict(amp=True, compile=False, random_views=True, gathered=True)}
RUNS = (*OURS, "reference")
TRAINER_EXAMPLES = loop.training_examples   # the trainer's own examples (random view counts)


def make_data(folder: Path, size: int) -> Path:
    """Write 300 + 40 salesman scenes of size x size into `folder` with the jumpdata CLI; returns the folder."""
    exe = Path(sys.executable).with_name("jumpdata")
    subprocess.run([str(exe), "narratives", "--story", "salesman", "--size", str(size), "--n", "300", "--test-n",
                    "40", "--out", str(folder)], check=True, capture_output=True)
    return folder


def peak_memory(device: torch.device) -> float:
    """Return the peak CUDA memory allocated since the last reset in GiB (0.0 on the CPU), and reset it."""
    if device.type != "cuda":
        return 0.0
    peak = torch.cuda.max_memory_allocated(device) / 2**30
    torch.cuda.reset_peak_memory_stats(device)
    return peak


def all_target_examples(cfg, scenes, shuffle: bool) -> SceneViews:
    """The trainer's examples with exactly TARGETS target views per scene, as the reference renders."""
    return SceneViews(scenes, cfg.context, cfg.targets, cfg.seed, shuffle, all_targets=True)


def model_step_seconds(cfg, batch: dict, device: torch.device, args) -> tuple:
    """Seconds per training step of the model alone (forward, backward, clipping, Adam) on one batch already on the
    device, as the trainer steps it (compiled when cfg.compile), timed over args.steps after args.warmup steps:
    (wall-clock, CPU time of this process). The CPU time counts little of the load from other jobs on a shared
    machine (on CUDA it is the host's share alone)."""
    model = make_model(cfg.model).to(device)
    step_fn = compiled(model, device) if cfg.compile else model
    step = loop.Optimisation(model, step_fn, cfg, choose_precision(capabilities(device), cfg.amp), device)
    variance = torch.tensor(0.5, device=device)
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start, cpu = time.perf_counter(), time.process_time()
        step(batch, variance)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / args.steps, (time.process_time() - cpu) / args.steps


def bench_ours(data: Path, preset: str, args, run: Path, amp: bool, compile: bool, random_views: bool = False,
               gathered: bool = False) -> dict:
    """Train for warmup + steps steps, then time the model step alone; returns {"steps/s", "scenes/s", "wait",
    "outside", "peak"} over the timed steps and "alone_cpu_ms", the model step's CPU time. Every scene CONTEXT context and TARGETS target views, or
    (random_views) the trainer's own draws with the preset's context and targets; gathered: the model's terms in
    the gather form (bench/gather_form.py)."""
    examples = TRAINER_EXAMPLES if random_views else all_target_examples
    views = {} if random_views else dict(context=CONTEXT, targets=TARGETS)
    loop.training_examples = examples
    cfg = plan_run(data, preset=preset, steps=args.warmup + args.steps, batch_size=args.batch_size, **views,
                   device=args.device, log_every=1, eval_every=10**9, sample_every=10**9, checkpoint_every=10**9,
                   eval_scenes=args.batch_size, amp=amp, compile=compile)
    device = resolve_device(args.device)
    undo = use_gather_form(cfg.model.kind) if gathered else lambda: None
    try:
        loop.train(cfg, run)
        peak = peak_memory(device)
        lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()][args.warmup:-1]
        seconds = [args.batch_size / m["scenes_per_s"] for m in lines]
        per_step = sum(seconds) / len(seconds)
        scenes = examples(cfg, open_split(cfg, "train"), shuffle=True)
        loader = make_loader(scenes, StepSampler(0, args.batch_size), args.batch_size, 0, device)
        alone, alone_cpu = model_step_seconds(cfg, to_device(next(iter(loader)), device), device, args)
    finally:
        undo()
    return {"steps/s": 1 / per_step, "scenes/s": args.batch_size / per_step,
            "wait": sum(m["data_wait_share"] * s for m, s in zip(lines, seconds)) / sum(seconds),
            "outside": max(0.0, 1 - alone / per_step), "peak": peak, "alone_cpu_ms": 1000 * alone_cpu}


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
            b = to_device(next(batches), dev)
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
        return {"steps/s": args.steps / total, "scenes/s": args.batch_size * args.steps / total, "wait": wait / total,
                "peak": peak_memory(dev)}




def planned_jobs(args, data: dict, tmp: Path) -> dict:
    """Return {run name: job(round) -> result dict} for every preset and run asked for."""
    jobs = {}
    for preset in args.presets.split(","):
        for run in args.runs.split(","):
            if run == "reference":
                if preset == "salesman":
                    ref_name, ref_class = gqnlib_models()
                    print(check_restatement(ref_class), flush=True)
                    reference = Reference(data[preset], args, ref_class)
                    jobs[f"salesman, reference: {ref_name}, float32"] = lambda i, ref=reference: ref()
                continue
            name = f"{preset}, {run}"
            jobs[name] = (lambda i, p=preset, r=run: bench_ours(data[p], p, args, tmp / f"{p}-{r}-{i}", **OURS[r]))
    return jobs


def report(results: dict, device: torch.device, figures) -> None:
    """Print each run's medians over the rounds, then the ratios; append a row per run to `figures`."""
    medians = {name: statistics.median(r["steps/s"] for r in rs) for name, rs in results.items()}
    for name, rs in results.items():
        speeds = [r["steps/s"] for r in rs]
        row = {k: statistics.median(r[k] for r in rs) for k in ("scenes/s", "wait", "outside", "peak", "alone_cpu_ms")
               if k in rs[0]}
        memory = f"   peak GPU memory {max(r['peak'] for r in rs):5.2f} GiB" if device.type == "cuda" else ""
        outside = f"   outside the model {100 * row['outside']:4.1f}%" if "outside" in row else ""
        cpu = f"   model step alone {row['alone_cpu_ms']:6.1f} ms CPU" if "alone_cpu_ms" in row else ""
        print(f"{name}: {medians[name]:6.2f} steps/s ({min(speeds):.2f}-{max(speeds):.2f}), {row['scenes/s']:6.1f} "
              f"scenes/s   data wait {100 * row['wait']:4.1f}%{outside}{cpu}{memory}")
        append_row(figures, {"name": name, "steps_per_s": medians[name], "scenes_per_s": row["scenes/s"],
                             "data_wait_share": row["wait"], **({"outside_model_share": row["outside"]}
                                                                if "outside" in row else {}),
                             **({"peak_gib": row["peak"]} if device.type == "cuda" else {})})
    for name in medians:
        preset, run = name.split(", ", 1)
        for faster, slower in (("compile", "default"), ("random", "gathered")):
            other = f"{preset}, {slower}"
            if run == faster and other in medians:
                cpu = lambda n: statistics.median(r["alone_cpu_ms"] for r in results[n])
                print(f"ratio ({preset}: {faster} / {slower}): {medians[name] / medians[other]:.2f}x steps/s end to "
                      f"end, {cpu(other) / cpu(name):.2f}x the model step alone in CPU time")
    reference = next((n for n in medians if "reference" in n), None)
    for name in medians:
        if reference and name.startswith("salesman") and name != reference:
            print(f"ratio ({name} / reference): {medians[name] / medians[reference]:.2f}x")


def random_views_line(presets: list, batch: int) -> str:
    """Return the line saying the view counts of the random and gathered runs of each preset."""
    parts = []
    for preset in presets:
        values = {**dataclasses.asdict(RunConfig()), **PRESETS[preset]}
        k, t = values["context"], values["targets"]
        parts.append(f"{preset}: context 1..{k} per scene, targets 1..{t} per scene, "
                     f"{count_multiset(batch, t).sum()} of {batch * t} target slots real per batch")
    return "random and gathered runs (the trainer's draws): " + "; ".join(parts)


def main():
    """Parse arguments, alternate the runs for --rounds rounds, print each run, the medians and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="tiny,salesman", help=f"from {', '.join(PRESET_SIZES)}")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"from {', '.join(RUNS)}")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="times each run is repeated, alternating")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--figures", help="append a row per run to this figures file (bench/run_figures.py)")
    args = parser.parse_args()
    presets, runs = args.presets.split(","), args.runs.split(",")
    if set(presets) - set(PRESET_SIZES) or set(runs) - set(RUNS):
        parser.error(f"--presets takes {', '.join(PRESET_SIZES)} and --runs {', '.join(RUNS)}")
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        data = {p: make_data(Path(tmp) / f"shards{PRESET_SIZES[p]}", PRESET_SIZES[p]) for p in presets}
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}"
              f"{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''}; "
              f"{choose_precision(capabilities(device), amp=True).line}; batch {args.batch_size}, context "
              f"1..{CONTEXT}, targets {TARGETS}; {args.rounds} rounds of {args.warmup} + {args.steps} steps",
              flush=True)
        if {"random", "gathered"} & set(runs):
            print(random_views_line(presets, args.batch_size), flush=True)
        jobs = planned_jobs(args, data, Path(tmp))
        results = {name: [] for name in jobs}
        for i in range(args.rounds):
            for name, job in jobs.items():
                r = job(i)
                results[name].append(r)
                print(f"  round {i + 1}: {name}: {r['steps/s']:6.2f} steps/s", flush=True)
        report(results, device, args.figures)


if __name__ == "__main__":
    main()
