"""The `jumpdata` command line: thin click commands that validate their options and call one library function.

Library code raises `shards.errors.UserError` for bad input; `run()` prints
its message as one line on standard error and exits with status 2. Heavy
imports (numpy, h5py, torch, pybullet) happen inside the commands, so
`jumpdata --help` starts fast and never loads torch.
"""

import sys

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _version() -> str:
    from shards import package_version
    return package_version()


def _show_version(ctx, param, value):
    if value and not ctx.resilient_parsing:
        click.echo(f"jumpdata {_version()}")
        ctx.exit()


@click.group(context_settings=CONTEXT)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and exit.")
def main():
    """Datasets of the JUMP paper (narrative videos, the MNIST dice room) and the JUMP trainer."""


# --------------------------------------------------------------------------- generators

def generator_options(default_n: int):
    """Return a decorator adding the options every generator takes (DESIGN.md), `--n` defaulting to `default_n`."""
    options = [
        click.option("--n", "n", type=click.IntRange(min=1), default=default_n, show_default=True,
                     help="Training scenes."),
        click.option("--test-n", type=click.IntRange(min=0), default=None,
                     help="Held-out scenes [default: 1000, or n/10 when --n is small]."),
        click.option("--out", type=click.Path(), default="shards/", show_default=True, help="Output folder."),
        click.option("--seed", type=int, default=0, show_default=True, help="Dataset seed."),
        click.option("--workers", type=click.IntRange(min=1), default=None,
                     help="Worker processes [default: all cores]."),
        click.option("--shard-size", type=click.IntRange(min=1), default=1000, show_default=True,
                     help="Scenes per shard file."),
        click.option("--size", type=click.IntRange(min=1), default=64, show_default=True,
                     help="Image side in pixels."),
        click.option("--name", default=None, help="Dataset name [default: the generator's]."),
    ]

    def decorate(f):
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def run_generator(spec, opts: dict) -> None:
    """Generate the dataset `spec` into opts["out"] with one progress bar; print a one-line summary."""
    from shards import default_test_scenes, default_workers, generate_dataset, package_version
    test_n = opts["test_n"] if opts["test_n"] is not None else default_test_scenes(opts["n"])
    workers = opts["workers"] or default_workers()
    with click.progressbar(length=opts["n"] + test_n, label=f"{spec.dataset}", file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        state = {"seen": 0}

        def progress(done, total):
            bar.length = total
            bar.update(done - state["seen"])
            state["seen"] = done

        generate_dataset(spec, opts["out"], n=opts["n"], test_n=test_n, seed=opts["seed"], workers=workers,
                         shard_size=opts["shard_size"], on_progress=progress, version=package_version())
    click.echo(f"{spec.dataset}: {opts['n']} train + {test_n} test scenes in {opts['out']}")


@main.command(context_settings=CONTEXT)
@click.option("--story", default="salesman", show_default=True, help="Story: salesman or color_reaction.")
@click.option("--frames", type=int, default=None, help="Video length [default: the story's, 21 or 12].")
@generator_options(default_n=98000)
def narratives(story, frames, **opts):
    """2D shape videos telling one story (Traveling Salesman, Color Reaction)."""
    from narratives import make_spec
    run_generator(make_spec(story=story, frames=frames, size=opts["size"], name=opts["name"]), opts)


# --------------------------------------------------------------------------- looking at data

@main.command(context_settings=CONTEXT)
@click.argument("folder", type=click.Path())
def info(folder):
    """What a shard folder holds (datasets, splits, scenes, sizes); verifies every shard's sha256."""
    from shards import UserError, summarize_folder
    summaries = summarize_folder(folder)
    if not summaries:
        raise UserError(f"{folder} holds no jumpdata dataset (no manifest NAME.json)")
    problems = []
    for s in summaries:
        h, w, _ = s["frame_shape"]
        click.echo(f"{s['dataset']}  ({s['generator']}, seed {s['seed']}, {s['views_per_scene']} views of "
                   f"{w}x{h}, viewpoints: {s['viewpoint_kind']})")
        for split, v in s["splits"].items():
            click.echo(f"  {split:5s} {v['scenes']:8d} scenes  {v['shards']}/{v['shard_count']} shards  "
                       f"{v['bytes'] / 1e6:9.1f} MB")
        click.echo(f"  {'OK: every shard matches its sha256' if not s['problems'] else 'DAMAGED:'}")
        for p in s["problems"]:
            click.echo(f"    {p}")
        problems += s["problems"]
    if problems:
        raise UserError(f"{len(problems)} problem(s) found: {problems[0]}")


@main.command(context_settings=CONTEXT)
@click.argument("folder", type=click.Path())
@click.option("--dataset", default=None, help="Dataset name (needed when the folder holds several).")
@click.option("--split", type=click.Choice(["train", "test"]), default="train", show_default=True)
@click.option("--scenes", default="0-7", show_default=True, help="Scene indices: 0-7, 3, or 0,2,9-12.")
@click.option("--out", type=click.Path(), required=True, help="Picture to write: .png (grid) or .gif (animation).")
@click.option("--scale", type=click.IntRange(1, 16), default=2, show_default=True, help="Pixel magnification.")
def show(folder, dataset, split, scenes, out, scale):
    """A picture of scenes: a PNG grid (a row per scene, a column per view) or a GIF over the views."""
    from shards import open_dataset
    from shards.preview import parse_indices, save_preview
    ds = open_dataset(folder, dataset, split)
    save_preview(ds, parse_indices(scenes, len(ds)), out, scale=scale)
    click.echo(f"wrote {out}")


# --------------------------------------------------------------------------- entry point

def run() -> None:
    """Console entry point: run the click group, turning user errors into one line on stderr."""
    try:
        code = main.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("jumpdata: interrupted; complete files were kept, re-run the same command to go on", err=True)
        sys.exit(130)
    except click.ClickException as e:
        click.echo(f"jumpdata: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except OSError as e:
        click.echo(f"jumpdata: {e}", err=True)
        sys.exit(1)
    except Exception as e:
        from shards.errors import UserError
        if not isinstance(e, UserError):
            raise
        click.echo(f"jumpdata: {e}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
