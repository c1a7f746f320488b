"""Every numeric option is bounded and every float option finite, every path a name: a number out of its range,
NaN or an infinity, an empty path is refused in one line before anything is read or written (cli_types.py)."""

import os
import sys
from unittest.mock import patch

import click
import pytest

from cli import run as cli_run
from cli_types import MAX_EVAL_SAMPLES, MAX_STEPS, real


def jumpdata(capsys, *argv):
    """Run `jumpdata ARGV` in this process; returns (exit status, standard error)."""
    capsys.readouterr()
    with patch.object(sys, "argv", ["jumpdata", *map(str, argv)]), pytest.raises(SystemExit) as stop:
        cli_run()
    return stop.value.code, capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["probe", "train", "D", "--out", "P", "--lr", "nan"], "'--lr': 'nan' is not a finite number"),
    (["probe", "train", "D", "--out", "P", "--lr", "inf"], "'--lr': 'inf' is not a finite number"),
    (["train", "D", "--lr", "nan"], "'--lr': 'nan' is not a finite number"),
    (["train", "D", "--lr", "0"], "'--lr': 0.0 is not in the range 0<x<=1"),
    (["train", "D", "--eval-pixel-variance", "-inf"], "'--eval-pixel-variance': '-inf' is not a finite number"),
    (["train", "D", "--out", "R", "--resume", "--steps", "99999999999999999999"],
     f"'--steps': 99999999999999999999 is not in the range 1<=x<={MAX_STEPS}"),
    (["train", "D", "--steps", "0"], "'--steps': 0 is not in the range"),
    (["train", "D", "--context", "-1"], "'--context': -1 is not in the range"),
    (["train", "D", "--log-every", "0"], "'--log-every': 0 is not in the range"),
    (["eval", "R", "--out", "r.json", "--samples", "1000000000000"],
     f"'--samples': 1000000000000 is not in the range 1<=x<={MAX_EVAL_SAMPLES}"),
    (["eval", "R", "--out", "r.json", "--scenes", "0"], "'--scenes': 0 is not in the range"),
    (["eval", "R", "--out", "r.json", "--frames", "10000000"], "'--frames': 10000000 is not in the range"),
    (["eval", "R", "--out", "r.json", "--context-frames", "0"], "'--context-frames': 0 is not in the range"),
    (["sample", "R", "--scene", "1000000000000"], "'--scene': 1000000000000 is not in the range"),
    (["probe", "train", "D", "--out", ""], "'--out': '' is not a path"),   # would write into the current folder
    (["train", "D", "--out", " "], "'--out': ' ' is not a path"),
    (["eval", "R", "--out", "r\n.json"], "'--out': 'r\\n.json' is not a path"),
    (["info", ""], "'FOLDER': '' is not a path"),
])
def test_out_of_range_and_non_finite_numbers_are_one_line_before_any_work(tmp_path, capsys, monkeypatch, args,
                                                                          message):
    monkeypatch.chdir(tmp_path)
    code, err = jumpdata(capsys, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_a_finite_float_option_refuses_what_is_not_a_number(text):
    with pytest.raises(click.BadParameter, match="is not a finite number"):
        real(0, 1).convert(text, None, None)


def test_a_finite_float_option_keeps_its_range():
    assert real(0, 1, least_open=True).convert("0.25", None, None) == 0.25
    with pytest.raises(click.BadParameter, match="not in the range 0<x<=1"):
        real(0, 1, least_open=True).convert("0", None, None)
