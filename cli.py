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
from contextlib import contextmanager

import click

import cli_model
import cli_pretrained
from cli_types import CONTEXT, MAX_SEED, PATH, ProgressBar, count
from scene_shards.common import MAX_WORKERS, Note, UserError, one_line, package_version



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


for _command in (cli_model.train, cli_model.sample, cli_model.eval_, cli_model.probe,   # the model commands
                 cli_pretrained.pretrained):
    main.add_command(_command)


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
