"""`jumpdata pretrained`: the models and probes shipped with jumpdata, one line each; and, hidden from its help,
the maintainer's commands that make them (`package`, `retrain`; `make weights`). Thin click commands over
jump_model/pretrained/ (docs/pretrained.md); cli.py adds the group. Standard library and click at import.
"""

import math

import click

from cli_types import CONTEXT, PATH
from scene_shards.common import UserError


@click.group(invoke_without_command=True, subcommand_metavar="", context_settings=CONTEXT)
@click.pass_context
def pretrained(ctx):
    """The models and probes shipped with jumpdata, one line each: name, what it is, training steps and time,
    its figures with their 95% intervals. Use one with `sample --pretrained NAME` or `eval --pretrained NAME`
    (docs/pretrained.md)."""
    if ctx.invoked_subcommand is not None:
        return
    from jump_model.pretrained.catalog import listing
    lines, damaged = listing()
    for line in lines:
        click.echo(line)
    if damaged:
        raise UserError(f"{damaged} shipped folder(s) damaged (see above): reinstall jumpdata")


def _walls(ctx, param, values) -> dict:
    """Turn --wall STAGE=SECONDS (repeatable) into {stage: seconds}; one line for a bad one."""
    from jump_model.pretrained.catalog import STAGES
    walls = {}
    for value in values:
        stage, _, seconds = value.partition("=")
        try:
            walls[stage] = float(seconds)
        except ValueError:
            walls[stage] = None
        if stage not in STAGES or walls[stage] is None or not 0 < walls[stage] < math.inf:
            raise click.BadParameter(f"'{value}' is not STAGE=SECONDS with STAGE one of {', '.join(STAGES)} and "
                                     f"SECONDS positive")
    return walls


@pretrained.command("package", hidden=True, context_settings=CONTEXT)
@click.argument("name")
@click.option("--from", "source", type=PATH, required=True,
              help="The run folder (a model's recipe) or the probe folder (a probe's).")
@click.option("--report", type=PATH, default=None, help="A model: the report of its recipe's eval command.")
@click.option("--wall", "walls", multiple=True, callback=_walls, metavar="STAGE=SECONDS",
              help="Measured wall time of a stage (data, probe, train, eval); repeatable; train (a model) or "
                   "probe (a probe) needed.")
@click.option("--into", type=PATH, default=None, help="Folder of shipped folders [default: the package's].")
@click.option("--machine", default=None, help="The machine it was made on [default: this one].")
def package(name, source, report, walls, into, machine):
    """Maintainers: package a finished run (with its eval report) or probe as the shipped folder of recipe NAME."""
    from jump_model.pretrained.catalog import shipped_root
    from jump_model.pretrained.package import package as package_folder
    click.echo(f"wrote {package_folder(name, source, into or shipped_root(), walls, report, machine)}")


@pretrained.command("retrain", hidden=True, context_settings=CONTEXT)
@click.argument("names", nargs=-1)
@click.option("--work", type=PATH, default="weights-work", show_default=True,
              help="Folder for the datasets, probes, runs and reports.")
@click.option("--into", type=PATH, default=None,
              help="Folder of shipped folders [default: the package's; --smoke: WORK/shipped].")
@click.option("--smoke", is_flag=True, help="Tiny sizes appended to every command: checks the machinery only.")
def retrain(names, work, into, smoke):
    """Maintainers (`make weights`): make the recipes NAMES (default: all) again from scratch and package them."""
    from jump_model.pretrained.retrain import retrain as retrain_recipes
    retrain_recipes(names, work, into, smoke, on_line=click.echo)
