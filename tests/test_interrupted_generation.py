"""Interrupted generation: a killed or Ctrl-C'd generator leaves only complete shards, a rerun finishes them with
the same bytes, and the command line says so in one line. The generating process runs a scene maker whose pool
worker hangs, so the interrupt always comes mid-run."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import HANG_GUARD_S, wait_for
from toy_generator import toy_spec

from scene_shards import generate_dataset, verify_dataset
from scene_shards.files import sha256_of

ROOT = Path(__file__).resolve().parents[1]


# A generation that cannot finish: its pool worker never returns a scene from {stuck_from} on (50 for the tests
# here: train scenes 0-49, shards 0 and 1 of 25 scenes, are written, and at most the few blocks after them that the
# driver makes itself while it waits, up to shard 3); a test can wait for "two shards listed" and then interrupt a
# job that is still running. {settings} are generate_dataset's keyword arguments (a part too).
STUCK_SCRIPT = """
import os, signal, sys, threading
signal.signal(signal.SIGINT, signal.default_int_handler)   # Ctrl-C as in a terminal, even when this suite was
                                                           # started in the background (which ignores SIGINT)
sys.path.insert(0, {tests!r})
from toy_generator import toy_spec, make_toy_maker
import scene_shards
from scene_shards.parts import Part
PARENT = os.getpid()   # the driver makes scenes too; only its pool worker hangs, so the driver writes on
def stuck_maker(config):
    make = make_toy_maker(config)
    def stuck(rng):
        if rng.bit_generator.seed_seq.entropy[2] >= {stuck_from} and os.getpid() != PARENT:
            threading.Event().wait()   # never returns: the job cannot finish before it is interrupted
        return make(rng)
    return stuck
spec = toy_spec()
spec.scene_maker = stuck_maker
scene_shards.generate_dataset(spec, {out!r}, workers=2, **{settings!r})
"""
STUCK_SETTINGS = dict(n=300, test_n=20, seed=3, shard_size=25)


# The same generation through the command line's error handling (what `jumpdata narratives` runs).
STUCK_CLI_SCRIPT = STUCK_SCRIPT.split("scene_shards.generate_dataset")[0] + """
import cli
@cli.main.command()
def stuck():
    cli.run_generator(spec, dict(out={out!r}, workers=2, part=None, **{settings!r}))
sys.argv = ["jumpdata", "stuck"]
cli.run()
"""


def listed_train_shards(out):
    """Return how many train shards the manifest in `out` lists (0 while it does not exist yet)."""
    try:
        return len(json.loads((out / "toy.json").read_text())["splits"]["train"]["shards"])
    except FileNotFoundError:
        return 0


def start_stuck_generation(out, script=STUCK_SCRIPT, **popen):
    """Start `script` writing into `out` and wait until the manifest lists two (or more) complete train shards."""
    proc = subprocess.Popen([sys.executable, "-c", script.format(
        tests=str(Path(__file__).parent), out=str(out), stuck_from=50, settings=STUCK_SETTINGS)], **popen)
    wait_for(lambda: listed_train_shards(out) >= 2, proc)
    return proc


def test_sigkill_then_rerun_gives_identical_files(tmp_path):
    out = tmp_path / "killed"
    proc = start_stuck_generation(out, start_new_session=True)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = json.loads((out / "toy.json").read_text())
    assert 2 <= len(partial["splits"]["train"]["shards"]) <= 4
    generate_dataset(toy_spec(), out, n=300, test_n=20, seed=3, workers=2, shard_size=25)
    reference = tmp_path / "whole"
    generate_dataset(toy_spec(), reference, n=300, test_n=20, seed=3, workers=1, shard_size=25)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())
    for f in reference.iterdir():
        if f.suffix == ".h5":
            assert sha256_of(f) == sha256_of(out / f.name), f.name
    assert verify_dataset(out, "toy") == []


def test_ctrl_c_leaves_only_complete_shards(tmp_path):
    out = tmp_path / "interrupted"
    proc = start_stuck_generation(out, stderr=subprocess.PIPE, text=True)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    listed = {e["file"] for s in json.loads((out / "toy.json").read_text())["splits"].values() for e in s["shards"]}
    on_disk = {p.name for p in out.iterdir()} - {"toy.json"}
    assert on_disk == listed and listed and verify_dataset(out, "toy")[0].endswith("not generated yet")


# A Ctrl-C that the kernel hands to a thread other than the main one (Linux may, when the main thread has a signal
# pending): a helper thread of the generating process sends SIGINT to itself once the main thread waits on the pool.
OTHER_THREAD_SCRIPT = STUCK_SCRIPT.split("scene_shards.generate_dataset")[0] + """
import signal, time
def interrupt_from_here():
    while not os.path.exists({trigger!r}):
        time.sleep(0.01)
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)
threading.Thread(target=interrupt_from_here, daemon=True).start()
scene_shards.generate_dataset(spec, {out!r}, workers=2, **{settings!r})
"""


def test_ctrl_c_reaching_another_thread_still_stops_generation(tmp_path):
    out, trigger = tmp_path / "interrupted", tmp_path / "interrupt-now"
    proc = start_stuck_generation(out, OTHER_THREAD_SCRIPT.replace("{trigger!r}", repr(str(trigger))),
                                  stderr=subprocess.PIPE, text=True)
    trigger.touch()
    _, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert verify_dataset(out, "toy")[0].endswith("not generated yet")


def test_ctrl_c_of_a_generator_command_is_one_line(tmp_path):
    out = tmp_path / "interrupted"
    proc = start_stuck_generation(out, STUCK_CLI_SCRIPT, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 130 and err.strip() == ("jumpdata: interrupted; the complete shards were kept: run "
                                                      "the same command again to finish"), err
    assert not list(out.glob(".*"))
