"""Running the `jumpdata` console entry point inside the test process (its exit status and output captured)."""

import sys
from unittest.mock import patch

import pytest

from cli import run as cli_run


def jumpdata(capsys, *argv):
    """Run `jumpdata ARGV` in this process; returns (exit status, stdout, stderr)."""
    capsys.readouterr()
    with patch.object(sys, "argv", ["jumpdata", *map(str, argv)]), pytest.raises(SystemExit) as stop:
        cli_run()
    out = capsys.readouterr()
    return stop.value.code, out.out, out.err
