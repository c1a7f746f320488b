"""The model commands of `jumpdata` (train, sample, eval, probe train): thin click commands that validate their
options and call one library function; cli.py adds them to its group and turns errors into one line. Torch is
imported inside the commands only.
"""

import os
import sys
from contextlib import nullcontext

import click

from cli_types import (CONTEXT, MAX_BATCH, MAX_EVAL_SAMPLES, MAX_LOADER_WORKERS, MAX_PICTURE_SAMPLES,
                       MAX_PROBE_STEPS, MAX_SCENE_INDEX, MAX_SEED, MAX_STEPS, MAX_VIEW_COUNT, PATH, ProgressBar,
                       count, real)
from jump_model.config import PRESETS
from jump_model.eval.registry import METRICS
from jump_model.names import DEVICES, MODEL_KINDS

COMPILE_SAMPLING_HELP = "Sample through torch.compile, one graph (a C++ compiler on the CPU) [default: off]."
PRETRAINED_HELP = ("A shipped model (`jumpdata pretrained` lists them) instead of {what}: its test scenes are made "
                   "from its card, no data needed (docs/pretrained.md).")


def one_source(given: bool, pretrained, what: str) -> None:
    """Raise a usage error unless exactly one of `what` (the run folder argument, `given`) and --pretrained is
    given."""
    if given and pretrained is not None:
        raise click.UsageError(f"give {what} or --pretrained NAME, not both")
    if not given and pretrained is None:
        raise click.UsageError(f"give {what} (a training run folder) or --pretrained NAME (a shipped model)")


@click.command(context_settings=CONTEXT)
@click.argument("folder", type=PATH)
@click.option("--dataset", default=None, help="Dataset name (needed when the folder holds several).")
@click.option("--out", type=PATH, default=None, help="Run folder [default: runs/<dataset>-<time>].")
@click.option("--model", type=click.Choice(MODEL_KINDS), default=None,
              help="jump, or a baseline: gqn (Eslami et al. 2018), factored (JUMP with a latent per view), badj, ar "
                   "(docs/model.md) [default: jump; --resume: the run's].")
@click.option("--preset", default=None,
              help=f"{', '.join(list(PRESETS)[:-1])} or {list(PRESETS)[-1]} (docs/model.md) [default: dice for a "
                   "dice dataset, else salesman].")
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
@click.option("--posterior-reads-prior", is_flag=True, default=None,
              help="jump: each posterior DRAW step also reads the prior's state, as in convolutional DRAW "
                   "(docs/model.md) [default: off].")
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
                              on_note=lambda line: click.echo(f"jumpdata: {line}"))   # stderr: errors alone
    if result.interrupted:
        click.echo(f"interrupted at step {result.step}; checkpoint saved in {out} (continue with --resume)", err=True)
        sys.exit(130)
    if writes:   # one line per run, not one per rank
        click.echo(f"trained {result.step} steps; run folder {out}")


@click.command(context_settings=CONTEXT)
@click.argument("run", type=PATH, required=False)
@click.option("--pretrained", default=None, metavar="NAME", help=PRETRAINED_HELP.format(what="RUN"))
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
def sample(run, pretrained, out, context, query, samples, scene, seed, scale, data, compile):
    """Jumpy predictions of a trained run (RUN) or a shipped model (--pretrained) on a test scene, as a picture."""
    one_source(run is not None, pretrained, "RUN")
    if pretrained is not None:
        if data is not None:
            raise click.UsageError("--data does not go with --pretrained: a shipped model's test scenes are made "
                                   "from its card")
        from jump_model.pretrained.use import sample_pretrained
        click.echo(f"wrote {sample_pretrained(pretrained, out, context, query, samples, scene, seed, scale, compile)}")
        return
    from jump_model.sample import sample_run
    click.echo(f"wrote {sample_run(run, out, context, query, samples, scene, seed, scale, data, compile)}")


@click.command(name="eval", context_settings=CONTEXT)
@click.argument("runs", nargs=-1, type=PATH)
@click.option("--pretrained", default=None, metavar="NAME",
              help=PRETRAINED_HELP.format(what="RUNS") + " Settings not given are its card's; --probe: its "
                                                          "shipped probe.")
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
def eval_(runs, pretrained, metrics, out, **opts):
    """Measure trained RUNS (or a shipped model, --pretrained) on their test split (docs/reproduce.md): writes
    the JSON, a plot and prints a table. Several runs of one model (seeds) are also summarised per model, and
    models compared scene by scene."""
    one_source(bool(runs), pretrained, "RUNS")
    from jump_model.eval.report import EvalSettings, evaluate, table
    settings = EvalSettings(metrics=list(metrics), **opts)
    with ProgressBar("eval") as bar:
        if pretrained is not None:
            from jump_model.pretrained.use import eval_pretrained
            report = eval_pretrained(pretrained, out, settings, on_progress=bar.update)
        else:
            report = evaluate(runs, out, settings, on_progress=bar.update)
    click.echo(table(report))
    click.echo(f"wrote {out}")


# --------------------------------------------------------------------------- ground-truth probes

@click.group(context_settings=CONTEXT)
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
