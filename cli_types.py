"""What the `jumpdata` commands share (cli.py: the group and the data commands; cli_model.py: the model
commands): the click context settings, the progress bar, and the option types, declared once: every number a user
types is bounded, every path is a name.

`count(least, most)` is an integer option within [least, most]; `real(least, most)` a float option that must also
be finite (click's FloatRange lets "nan" through, since NaN compares false with both bounds). Limits that depend on
the data (scenes in a split, views per scene) are checked by the library once the data is open. `PATH` refuses an
empty path (which would mean the current folder, or the default) and one holding a line break.
Standard library and click only, so `jumpdata --help` stays fast.
"""

import math
import sys

import click

MAX_SEED = 2**63 - 1         # every seed is passed to numpy and torch; torch.manual_seed takes < 2**64
MAX_STEPS = 10**9            # training steps of a run (the paper's longest runs take 2 million)
MAX_PROBE_STEPS = 10**6      # training steps of a probe
MAX_BATCH = 4096             # scenes per training step and process
MAX_LOADER_WORKERS = 64      # DataLoader worker processes
MAX_PICTURE_SAMPLES = 64     # sample --samples: rows of one picture
MAX_EVAL_SAMPLES = 1000      # eval --samples: samples per scene (the paper takes 30)
MAX_SCENE_INDEX = 10**8      # scene counts and indices: a split holds at most 100 million scenes
MAX_VIEW_COUNT = 1000        # views or frames of a scene: dice --views is at most 1000


def count(least: int = 1, most: int = MAX_STEPS) -> click.IntRange:
    """Return the click type of an integer option that must lie in [least, most]."""
    return click.IntRange(least, most)


class FiniteFloatRange(click.FloatRange):
    """A float within its range that is a number: "nan", "inf" and "-inf" are refused in one line."""

    name = "finite float range"

    def convert(self, value, param, ctx):
        """Return `value` as a finite float within the range, or fail (click's one-line usage error)."""
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


def real(least: float, most: float, least_open: bool = False) -> click.FloatRange:
    """Return the click type of a float option that must be finite and lie in [least, most] ((least, most] when
    `least_open`)."""
    return FiniteFloatRange(least, most, min_open=least_open)


class PathName(click.Path):
    """A path that names something: not empty, no line break (click.Path takes both)."""

    def convert(self, value, param, ctx):
        """Return `value` (a str path), or fail (one line) when it is empty or holds a line break."""
        if isinstance(value, str) and (not value.strip() or "\n" in value or "\r" in value):
            self.fail(f"{value!r} is not a path: give a file or folder name", param, ctx)
        return super().convert(value, param, ctx)


PATH = PathName()

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


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
