"""The `jumpdata` command line: thin click commands that validate their options and call one library function.

Library code raises `scene_shards.common.UserError` for bad input; `run()` prints
its message as one line on standard error and exits with status 2 (an OSError:
one line, status 1). Warnings raised while a command runs are shown after it
succeeds, never before an error line. Heavy imports (numpy, h5py, torch,
pybullet) happen inside the commands, so `jumpdata --help` starts fast and
never loads torch.
"""

import os
import sys
import warnings
from contextlib import contextmanager, nullcontext

import click

from cli_types import (MAX_BATCH, MAX_EVAL_SAMPLES, MAX_LOADER_WORKERS, MAX_PICTURE_SAMPLES, MAX_SCENE_INDEX,
                       MAX_PROBE_STEPS, MAX_SEED, MAX_STEPS, MAX_VIEW_COUNT, PATH, count, real)
from jump_model.eval.registry import METRICS
from jump_model.names import DEVICES, MODEL_KINDS
from scene_shards.common import MAX_WORKERS, Note, UserError, one_line, package_version

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
COMPILE_SAMPLING_HELP = "Sample through torch.compile, one graph (a C++ compiler on the CPU) [default: off]."


def _dataset_name(ctx, param, value):
    """Refuse a --name that is given but not a dataset name (an empty one included) instead of defaulting."""
    if value is not None:
        from scene_shards.manifest import check_dataset_name
        try:
            check_dataset_name(value)
        except UserError as e:
            raise click.BadParameter(str(e)) from None
    return value


class Interrupted(Exception):
    """Ctrl-C, caught by the command that can say what it kept: `run()` prints the message alone and exits 130."""


def _show_version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        click.echo(f"jumpdata {package_version()}")
        ctx.exit()


@click.group(context_settings=CONTEXT)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and exit.")
def main():
    """Datasets of the JUMP paper (narrative videos, the MNIST dice room) and the JUMP trainer."""


# --------------------------------------------------------------------------- generators

def _part(ctx, param, value):
    """Turn --part K/N into a scene_shards.parts.Part (None when not given); one line for a bad one."""
    if value is None:
        return None
    from scene_shards.parts import parse_part
    try:
        return parse_part(value)
    except UserError as e:
        raise click.BadParameter(str(e)) from None


def generator_options(default_n: int):
    """Return a decorator adding the options every generator takes (README.md, docs/format.md), `--n` defaulting to `default_n`."""
    options = [
        click.option("--n", "n", type=click.IntRange(min=1), default=default_n, show_default=True,
                     help="Training scenes."),
        click.option("--test-n", type=click.IntRange(min=0), default=None,
                     help="Held-out scenes [default: 1000, or n/10 when --n is small]."),
        click.option("--out", type=PATH, default="shards/", show_default=True, help="Output folder."),
        click.option("--seed", type=count(0, MAX_SEED), default=0, show_default=True, help="Dataset seed."),
        click.option("--workers", type=count(1, MAX_WORKERS), default=None,
                     help="Worker processes [default: all cores]."),
        click.option("--shard-size", type=click.IntRange(min=1), default=1000, show_default=True,
                     help="Scenes per shard file."),
        click.option("--size", type=click.IntRange(min=1), default=64, show_default=True,
                     help="Image side in pixels."),
        click.option("--name", default=None, callback=_dataset_name, help="Dataset name [default: the generator's]."),
        click.option("--part", default=None, callback=_part, metavar="K/N",
                     help="Make only part K of N (1-based), for N machines; then `jumpdata merge` (docs/format.md)."),
    ]

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


class ProgressBar:
    """A click progress bar on stderr, opened at the first report, so errors raised before any work print alone;
    shown only when stderr is a terminal (redirected, stderr holds nothing but warnings and the error line)."""

    def __init__(self, label: str):
        self.label, self.bar, self.seen = label, None, 0

    def update(self, done: int, total: int, text=None) -> None:
        """Show `done` of `total` units, with an optional `text` after the bar."""
        if not sys.stderr.isatty():
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_eta=True,
                                         show_pos=True, item_show_func=lambda item: item)
            self.bar.__enter__()
        self.bar.length = total
        self.bar.update(done - self.seen, text)
        self.seen = done

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


@contextmanager
def resumable(label: str):
    """Yield a ProgressBar for work that resumes when re-run; on Ctrl-C stop with one line saying so (Interrupted)."""
    try:
        with ProgressBar(label) as bar:
            yield bar
    except KeyboardInterrupt:
        raise Interrupted("interrupted; the complete shards were kept: run the same command again to finish") \
            from None


def run_generator(spec, opts: dict) -> None:
    """Generate the dataset `spec` into opts["out"] with one progress bar; print a one-line summary."""
    from scene_shards import default_test_scenes, default_workers, generate_dataset
    test_n = opts["test_n"] if opts["test_n"] is not None else default_test_scenes(opts["n"])
    part = opts["part"]
    with resumable(spec.dataset if part is None else f"{spec.dataset} {part}") as bar:
        generate_dataset(spec, opts["out"], n=opts["n"], test_n=test_n, seed=opts["seed"],
                         workers=opts["workers"] or default_workers(), shard_size=opts["shard_size"],
                         on_progress=bar.update, version=package_version(), part=part)
    if part is None:
        click.echo(f"{spec.dataset}: {opts['n']} train + {test_n} test scenes in {opts['out']}")
    else:
        click.echo(f"{spec.dataset}: part {part} of {opts['n']} train + {test_n} test scenes in {opts['out']}; "
                   f"when every part is done: jumpdata merge FOLDER")


@main.command(context_settings=CONTEXT)
@click.option("--story", default="salesman", show_default=True, help="Story: salesman or color_reaction.")
@click.option("--frames", type=int, default=None, help="Video length [default: the story's, 21 or 12].")
@generator_options(default_n=98000)
def narratives(story, frames, **opts):
    """2D shape videos telling one story (Traveling Salesman, Color Reaction)."""
    from narratives import make_spec
    run_generator(make_spec(story=story, frames=frames, size=opts["size"], name=opts["name"]), opts)


@main.command(context_settings=CONTEXT)
@click.option("--digits", type=int, default=100, show_default=True,
              help="Size of the MNIST digit bank (balanced over the ten classes).")
@click.option("--views", type=int, default=10, show_default=True, help="Camera views per scene.")
@click.option("--mnist", type=PATH, default=None,
              help="Folder (or images file) of MNIST IDX files to take the digits from [default: shipped sample].")
@click.option("--renderer", type=click.Choice(["tiny", "egl"]), default="tiny", show_default=True,
              help="PyBullet renderer: tiny (CPU TinyRenderer) or egl (OpenGL plugin, for GPU machines).")
@generator_options(default_n=20000)
def dice(digits, views, mnist, renderer, **opts):
    """The MNIST dice room: a cube with an MNIST digit on each face in a random room, seen from many cameras."""
    from dice3d import make_spec
    run_generator(make_spec(digits=digits, views=views, size=opts["size"], mnist=mnist, name=opts["name"],
                            renderer=renderer), opts)


# --------------------------------------------------------------------------- GQN datasets (docs/gqn.md)

def _file_range(ctx, param, value):
    """Parse --files A-B (or N) into (A, B), 1-based and inclusive."""
    if value is None:
        return None
    first, _, last = value.partition("-")
    if not (first.isdigit() and (last or first).isdigit() and 1 <= int(first) <= int(last or first)):
        raise click.BadParameter(f"'{value}' is not a file range A-B with 1 <= A <= B")
    return int(first), int(last or first)


@main.command(name="import-gqn", context_settings=CONTEXT)
@click.argument("src", type=PATH)
@click.option("--dataset", required=True, help="GQN dataset: its folder under SRC, e.g. rooms_ring_camera.")
@click.option("--out", type=PATH, default="shards/", show_default=True, help="Output folder.")
@click.option("--split", type=click.Choice(["train", "test"]), default=None, help="One split only [default: both].")
@click.option("--files", default=None, callback=_file_range,
              help="Files A-B of each split (1-based, inclusive) [default: all].")
@click.option("--name", default=None, callback=_dataset_name, help="Dataset name [default: --dataset].")
@click.option("--workers", type=count(1, MAX_WORKERS), default=None, help="Worker processes [default: all cores].")
@click.option("--shard-size", type=click.IntRange(min=1), default=1000, show_default=True, help="Scenes per shard file.")
@click.option("--size", type=count(8, 1024), default=None,
              help="Resize every frame to SIZE x SIZE (area average) [default: the source's size].")
@click.option("--frames", type=click.Choice(["pixels", "jpeg"]), default="pixels", show_default=True,
              help="pixels: decoded uint8 frames; jpeg: the source's JPEG files, decoded when read (smaller).")
def import_gqn(src, dataset, out, split, files, name, workers, shard_size, size, frames):
    """DeepMind's gqn-datasets TFRecords (SRC/DATASET/train|test/*.tfrecord) as jumpdata shards."""
    from gqn_records.importer import import_gqn as run_import
    with resumable(name or dataset) as bar:
        m = run_import(src, dataset, out, name=name, splits=(split,) if split else ("train", "test"), files=files,
                       workers=workers, shard_size=shard_size, on_progress=bar.update, version=package_version(),
                       size=size, frames=frames)
    click.echo(f"{m['dataset']}: {m['splits']['train']['scenes']} train + {m['splits']['test']['scenes']} test "
               f"scenes in {out}")


@main.command(context_settings=CONTEXT)
@click.argument("folder", type=PATH)
@click.option("--format", "fmt", type=click.Choice(["gqn-tfrecord", "gqnlib"]), required=True,
              help="gqn-tfrecord: DeepMind's layout; gqnlib: its <name>-<k>.pt.gz scene files.")
@click.option("--out", type=PATH, required=True, help="Folder to write into (DIR/NAME is created).")
@click.option("--dataset", default=None, help="Dataset name (needed when the folder holds several).")
@click.option("--quality", type=count(1, 100), default=95, show_default=True, help="gqn-tfrecord: JPEG quality.")
@click.option("--scenes-per-file", type=count(1, 1_000_000), default=None,
              help="Scenes per file [default: 1000 for gqn-tfrecord, 100 for gqnlib].")
def export(folder, fmt, out, dataset, quality, scenes_per_file):
    """A jumpdata dataset as GQN TFRecords or gqnlib scene files, cameras raw (docs/gqn.md)."""
    from gqn_records.export import export_dataset
    with ProgressBar("export") as bar:
        target = export_dataset(folder, dataset, fmt, out, quality=quality, scenes_per_file=scenes_per_file,
                                on_progress=bar.update)
    click.echo(f"wrote {target}")


# --------------------------------------------------------------------------- looking at data

@main.command(context_settings=CONTEXT)
@click.argument("folder", type=PATH)
def info(folder):
    """What a shard folder holds (datasets, splits, scenes, sizes); verifies every shard's sha256."""
    from scene_shards import summarize_folder
    summaries = summarize_folder(folder)
    if not summaries:
        from scene_shards.parts import find_part_manifests
        parts = "; it holds parts (--part K/N): join them with `jumpdata merge`" if find_part_manifests(folder) else ""
        raise UserError(f"{folder} holds no jumpdata dataset (no manifest NAME.json){parts}")
    problems = []
    for s in summaries:
        if "damaged" in s:
            click.echo(f"{s['dataset']}  DAMAGED: {s['damaged']}")
            problems.append(s["damaged"])
            continue
        h, w, _ = s["frame_shape"]
        click.echo(f"{s['dataset']}  ({s['generator']}, seed {s['seed']}, {s['views_per_scene']} views of "
                   f"{w}x{h}, viewpoints: {s['viewpoint_kind']})")
        for split, v in s["splits"].items():
            click.echo(f"  {split:5s} {v['scenes']:8d} scenes  {v['shards']}/{v['shard_count']} shards  "
                       f"{v['bytes'] / 1e6:9.1f} MB")
        click.echo(f"  fingerprint {s['fingerprint'][:16]}")
        click.echo(f"  {'OK: every shard matches its sha256' if not s['problems'] else 'DAMAGED:'}")
        for p in s["problems"]:
            click.echo(f"    {p}")
        problems += s["problems"]
    if problems:
        raise UserError(f"{len(problems)} problem(s) found: {problems[0]}")


@main.command(context_settings=CONTEXT)
@click.argument("folder", type=PATH)
@click.option("--dataset", default=None, help="Dataset name (needed when the folders hold parts of several).")
@click.option("--from", "sources", multiple=True, type=PATH,
              help="Another folder holding parts (repeatable); their shards are copied into FOLDER.")
def merge(folder, dataset, sources):
    """Join the parts (--part K/N) of a dataset: check every part is there, complete and made with the same
    settings, then write the dataset's manifest into FOLDER (docs/format.md, "Many machines")."""
    from scene_shards.merge import merge_parts
    m = merge_parts(folder, dataset, sources)
    scenes = {split: m["splits"][split]["scenes"] for split in ("train", "test")}
    click.echo(f"{m['dataset']}: merged {scenes['train']} train + {scenes['test']} test scenes in {folder}")


@main.command(context_settings=CONTEXT)
@click.argument("folder", type=PATH)
@click.option("--dataset", default=None, help="Dataset name (needed when the folder holds several).")
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True)
@click.option("--scenes", default=None, help="Scene indices: 0-7, 3, or 0,2,9-12 [default: the first 8].")
@click.option("--out", type=PATH, required=True, help="Picture to write: .png (grid) or .gif (animation).")
@click.option("--scale", type=count(1, 16), default=2, show_default=True, help="Pixel magnification.")
def show(folder, dataset, split, scenes, out, scale):
    """A picture of scenes: a PNG grid (a row per scene, a column per view) or a GIF over the views."""
    from scene_shards import open_dataset
    from scene_shards.pictures import most_scenes, parse_indices, save_preview
    ds = open_dataset(folder, dataset, split)
    chosen = scenes if scenes is not None else f"0-{min(8, len(ds)) - 1}"
    save_preview(ds, parse_indices(chosen, len(ds), most=max(1, most_scenes(ds, scale))), out, scale=scale)
    click.echo(f"wrote {out}")


# --------------------------------------------------------------------------- JUMP model

@main.command(context_settings=CONTEXT)
@click.argument("folder", type=PATH)
@click.option("--dataset", default=None, help="Dataset name (needed when the folder holds several).")
@click.option("--out", type=PATH, default=None, help="Run folder [default: runs/<dataset>-<time>].")
@click.option("--model", type=click.Choice(MODEL_KINDS), default=None,
              help="jump, or a baseline: gqn (Eslami et al. 2018), factored (JUMP with a latent per view), badj, ar "
                   "(docs/model.md) [default: jump; --resume: the run's].")
@click.option("--preset", default=None,
              help="salesman, dice or tiny (docs/model.md) [default: dice for a dice dataset, else salesman].")
@click.option("--steps", type=count(1, MAX_STEPS), default=None,
              help=f"Training steps, at most {MAX_STEPS:,} [default: the preset's; --resume: the run's].")
@click.option("--batch-size", type=count(1, MAX_BATCH), default=None,
              help="Scenes per step (per process) [default: the preset's].")
@click.option("--context", type=count(1, MAX_VIEW_COUNT), default=None,
              help="Most context views per scene (each draws 1..this).")
@click.option("--targets", type=count(1, MAX_VIEW_COUNT), default=None,
              help="Most target views per scene (each draws 1..this; ar: the frames after the context) [default: "
                   "the preset's; badj: 1; ar: every frame after the context].")
@click.option("--free-bits", type=real(0, 1000), default=None,
              help="ar: the KL of each predicted frame counts at least this many nats in the loss [default: 2.0].")
@click.option("--lr", type=real(0, 1, least_open=True), default=None,
              help="Adam learning rate [default: the preset's].")
@click.option("--pixel-variance", default=None,
              help="Schedule, e.g. 2.0:0.5@100000 or 2.0@100000,0.2@50000,0.9 [default: the preset's].")
@click.option("--eval-pixel-variance", type=real(0, 1000, least_open=True), default=None,
              help="Fixed pixel variance of the held-out NELBO [default: the schedule's final value].")
@click.option("--seed", type=count(0, MAX_SEED), default=None,
              help="Seed of the weights, data order and noise [default: 0].")
@click.option("--device", default=None, help="auto, cpu or cuda [default: auto; --resume: the run's].")
@click.option("--workers", type=count(0, MAX_LOADER_WORKERS), default=None,
              help="DataLoader worker processes, 0: load in the training process [default: 1 on CPU, up to 8 on GPU].")
@click.option("--compile/--no-compile", default=None, help="torch.compile the model (CUDA, or a CPU with a C++ compiler) [default: off].")
@click.option("--log-every", type=count(1, MAX_STEPS), default=None, help="Steps between metrics lines.")
@click.option("--sample-every", type=count(1, MAX_STEPS), default=None, help="Steps between sample pictures.")
@click.option("--checkpoint-every", type=count(1, MAX_STEPS), default=None, help="Steps between checkpoints.")
@click.option("--eval-every", type=count(1, MAX_STEPS), default=None, help="Steps between held-out NELBO evaluations.")
@click.option("--resume", is_flag=True,
              help="Continue the run in --out on the data in FOLDER; only --steps, --device, --workers, --compile "
                   "and the --*-every intervals may change.")
def train(folder, out, resume, **opts):
    """Train JUMP (or a baseline, --model) on the dataset in shard folder FOLDER (GPU when present; several GPUs
    under torchrun)."""
    import time
    from scene_shards.lock import RUN_LOCK, writing_folder
    from jump_model.run_folder import plan_run
    from jump_model.training import train as run_training
    cfg = plan_run(folder, out, resume, **opts)
    out = out or f"runs/{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    writes = os.environ.get("RANK", "0") == "0"   # under torchrun only rank 0 writes the run folder
    with writing_folder(out, RUN_LOCK, "a training run") if writes else nullcontext(), ProgressBar("train") as bar:
        def progress(step, total, metrics):
            bar.update(step, total, f"loss {metrics['loss']:.1f}  {metrics['scenes_per_s']:.1f} scenes/s"
                       if metrics else None)
        result = run_training(cfg, out, resume=resume, on_progress=progress,
                              on_note=lambda line: click.echo(f"jumpdata: {line}", err=True))
    if result.interrupted:
        click.echo(f"interrupted at step {result.step}; checkpoint saved in {out} (continue with --resume)", err=True)
        sys.exit(130)
    click.echo(f"trained {result.step} steps; run folder {out}")


@main.command(context_settings=CONTEXT)
@click.argument("run", type=PATH)
@click.option("--out", type=PATH, default="samples.png", show_default=True,
              help="Picture: .png (context, then rows sample 1..k | truth) or .gif (one frame per query view).")
@click.option("--context", default=None, help="Context view indices, e.g. 0,1 or 18-20 [default: the first ones].")
@click.option("--query", default=None, help="Query view indices, e.g. 10,15,20 [default: later views].")
@click.option("--samples", type=count(1, MAX_PICTURE_SAMPLES), default=4, show_default=True,
              help="Independent consistent samples.")
@click.option("--scene", type=count(0, MAX_SCENE_INDEX), default=0, show_default=True, help="Test scene index.")
@click.option("--seed", type=count(0, MAX_SEED), default=0, show_default=True, help="Sampling seed.")
@click.option("--scale", type=count(1, 16), default=2, show_default=True, help="Pixel magnification.")
@click.option("--data", type=PATH, default=None,
              help="Folder holding the run's dataset, if it moved [default: the one it trained on].")
@click.option("--compile/--no-compile", default=False, help=COMPILE_SAMPLING_HELP)
def sample(run, out, context, query, samples, scene, seed, scale, data, compile):
    """Jumpy predictions of a trained run on a test scene, as a picture."""
    from jump_model.sample import sample_run
    click.echo(f"wrote {sample_run(run, out, context, query, samples, scene, seed, scale, data, compile)}")


@main.command(name="eval", context_settings=CONTEXT)
@click.argument("runs", nargs=-1, required=True, type=PATH)
@click.option("--metric", "metrics", multiple=True, type=click.Choice(METRICS),
              help="Metric to compute (repeatable) [default: every one that applies to the runs' data].")
@click.option("--out", type=PATH, required=True,
              help="Report FILE.json; its plot is written beside it as FILE.png (and the pictures FILE_hidden_face, "
                   "FILE_digits, FILE_story.png).")
@click.option("--samples", type=count(1, MAX_EVAL_SAMPLES), default=None,
              help=f"min-mse, story: continuations per video; nelbo, consistency: posterior samples per scene; "
                   f"digit-agreement: sampled sets per scene, at least 3 and at most {MAX_EVAL_SAMPLES} [default: 30; 10 for "
                   f"digit-agreement and story].")
@click.option("--scenes", type=count(1, MAX_SCENE_INDEX), default=None,
              help="Use the first N test scenes (at most those the split holds) [default: all].")
@click.option("--frames", type=count(1, MAX_VIEW_COUNT), default=40, show_default=True,
              help="speed: the frame number to obtain.")
@click.option("--context-frames", type=count(1, MAX_VIEW_COUNT), default=None,
              help="min-mse, speed, story: the first frames given [default: 5]; nelbo, consistency, "
                   "digit-agreement: most context views [default: 3].")
@click.option("--data", type=PATH, default=None,
              help="Folder holding the runs' dataset, if it moved [default: the one they trained on].")
@click.option("--probe", type=PATH, default=None,
              help="Probe folder (jumpdata probe train) for digit-agreement and story [default: those two are "
                   "left out].")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True)
@click.option("--compile/--no-compile", default=False, help=COMPILE_SAMPLING_HELP)
@click.option("--allow-low-kl", is_flag=True,
              help="Report an ar run whose KL per predicted frame is below the floor (0.1 nats: its latent out of "
                   "use) instead of stopping [default: stop].")
def eval_(runs, metrics, out, **opts):
    """Measure trained RUNS on their test split (docs/reproduce.md): writes the JSON, a plot and prints a table.
    Several runs of one model (seeds) are also summarised per model, and models compared scene by scene."""
    from jump_model.eval.report import EvalSettings, evaluate, table
    with ProgressBar("eval") as bar:
        report = evaluate(runs, out, EvalSettings(metrics=list(metrics), **opts), on_progress=bar.update)
    click.echo(table(report))
    click.echo(f"wrote {out}")


# --------------------------------------------------------------------------- ground-truth probes

@main.group(context_settings=CONTEXT)
def probe():
    """Ground-truth probes: small networks that read sampled frames the way the labels describe them."""


@probe.command("train", context_settings=CONTEXT)
@click.argument("folder", type=PATH)
@click.option("--dataset", default=None, help="Dataset name (needed when the folder holds several).")
@click.option("--out", type=PATH, required=True, help="Probe folder to write (config.json, checkpoint.pt).")
@click.option("--steps", type=count(1, MAX_PROBE_STEPS), default=1500, show_default=True, help="Training steps.")
@click.option("--batch-size", type=count(1, 1024), default=64, show_default=True, help="Views per step.")
@click.option("--lr", type=real(1e-6, 1.0), default=2e-3, show_default=True, help="Peak learning rate.")
@click.option("--seed", type=count(0, MAX_SEED), default=0, show_default=True, help="Seed.")
def probe_train(folder, dataset, out, steps, batch_size, lr, seed):
    """Train the probe of the dataset in shard FOLDER on its train split; print its held-out accuracy."""
    from scene_shards.lock import RUN_LOCK, writing_folder
    from jump_model.probes.training import train_probe
    with writing_folder(out, RUN_LOCK, "a probe training"), ProgressBar("probe") as bar:
        cfg = train_probe(folder, dataset, out, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                          on_progress=lambda step, total, loss: bar.update(step, total, f"loss {loss:.3f}"))
    click.echo(f"probe {cfg.kind} of '{cfg.dataset}': held-out accuracy {cfg.test_accuracy:.3f} on "
               f"{cfg.test_examples} test {'views' if cfg.kind == 'digit' else 'shape pixels'} (chance: "
               f"{cfg.chance:.3f}); saved in {out}")


# --------------------------------------------------------------------------- entry point

def _fail(message: str, status: int) -> None:
    """Print `message` as one line on stderr, "jumpdata: ..." ("jumpdata (rank R): ..." in a multi-process run,
    where each process prints its own), and exit with `status`."""
    rank = f" (rank {os.environ.get('RANK', '?')})" if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 else ""
    click.echo(f"jumpdata{rank}: {' '.join(message.split())}", err=True)
    sys.exit(status)


def run() -> None:
    """Console entry point: run the click group, turning user errors into one line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            code = main.main(standalone_mode=False)
        except click.exceptions.Abort:
            _fail("interrupted", 130)
        except Interrupted as e:
            _fail(str(e), 130)
        except click.ClickException as e:
            _fail(e.format_message(), e.exit_code)
        except OSError as e:
            _fail(one_line(e), 1)
        except UserError as e:
            _fail(one_line(e), 2)
    for w in caught:   # shown only after a command that succeeded: an error line is never preceded by them
        if issubclass(w.category, Note):
            click.echo(f"jumpdata: note: {w.message}", err=True)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
