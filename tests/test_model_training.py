"""The trainer and the train/sample commands: run folder, exact resume, DDP on CPU, checkpoints, bad input."""

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from click.testing import CliRunner
from PIL import Image

from cli import main
from jump_model.config import preset_config
from jump_model.train import resume_config, train
from model_scenes import make_square_dataset
from shards.errors import UserError

FAST = dict(batch_size=4, log_every=1, eval_every=6, sample_every=6, checkpoint_every=3, eval_scenes=4,
            workers=0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("squares")
    make_square_dataset(folder, kind="time")
    return folder


def config(data, steps, **kw):
    return preset_config("tiny", data_dir=str(data), steps=steps, **dict(FAST, **kw))


def losses(run):
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_run_folder_and_weights_only_checkpoint(data, tmp_path):
    run = tmp_path / "run"
    result = train(config(data, 6), run)
    assert result.step == 6 and not result.interrupted
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == list(range(1, 7))
    for key in ("loss", "kl", "nll", "mse", "pixel_variance", "scenes_per_s", "data_wait_share"):
        assert np.isfinite(lines[-1][key])
    assert "eval_loss" in lines[-1]
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 6 and ckpt["config"]["image_size"] == 16
    assert json.loads((run / "config.json").read_text())["dataset"] == "squares"
    picture = Image.open(run / "samples_000006.png")
    assert picture.width > 16 * 4 and picture.height > 16 * 3


def test_resume_continues_the_same_trajectory(data, tmp_path):
    train(config(data, 8), tmp_path / "whole")
    train(config(data, 5, checkpoint_every=5), tmp_path / "half")
    train(resume_config(tmp_path / "half", steps=8), tmp_path / "half", resume=True)
    whole, half = losses(tmp_path / "whole"), losses(tmp_path / "half")
    assert len(half) == 8
    assert half == pytest.approx(whole, rel=1e-6, abs=1e-6)


def test_existing_run_needs_resume(data, tmp_path):
    train(config(data, 1), tmp_path / "run")
    with pytest.raises(UserError, match="--resume"):
        train(config(data, 1), tmp_path / "run")


def _ddp_worker(rank, world, port, data, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    train(config(data, 3, device="cpu"), out)
    torch.distributed.destroy_process_group()


def test_two_process_gloo_ddp(data, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(data), str(tmp_path / "ddp")), nprocs=2, join=True)
    lines = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [1, 2, 3]          # only rank 0 writes
    assert torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=True)["step"] == 3


def test_cli_train_then_sample(data, tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["train", str(data), "--preset", "tiny", "--steps", "3", "--batch-size", "2",
                                  "--out", str(run), "--workers", "0"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["sample", str(run), "--context", "0,1", "--query", "3-5", "--samples", "2",
                                  "--out", str(tmp_path / "s.png")])
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "s.png").size[0] > 3 * 16
    r = CliRunner().invoke(main, ["sample", str(run), "--out", str(tmp_path / "s.gif")])
    assert r.exit_code == 0 and Image.open(tmp_path / "s.gif").n_frames > 1


@pytest.mark.parametrize("args, message", [
    (["train", "{empty}"], "no"),
    (["train", "{data}", "--preset", "huge"], "unknown preset"),
    (["train", "{data}", "--device", "tpu"], "unknown device"),
    (["train", "{data}", "--steps", "0"], "steps must be positive"),
    (["train", "{data}", "--context", "5", "--targets", "5"], "at most"),
    (["train", "{data}", "--resume", "--out", "{empty}"], "not a run folder"),
    (["sample", "{empty}"], "not a training run folder"),
])
def test_bad_input_is_one_line_exit_2(data, tmp_path, args, message):
    from subprocess import run
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = [a.format(data=data, empty=empty) for a in args]
    proc = run([os.path.join(os.path.dirname(os.sys.executable), "jumpdata"), *argv], capture_output=True,
               text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_ctrl_c_saves_a_whole_step_and_resume_continues_the_trajectory(data, tmp_path):
    import signal
    import subprocess
    import sys
    import time
    run = tmp_path / "run"
    cli = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli.py")
    proc = subprocess.Popen([sys.executable, cli, "train", str(data), "--preset", "tiny", "--steps", "100000",
                             "--batch-size", "4", "--workers", "0", "--log-every", "1", "--checkpoint-every", "3",
                             "--eval-every", "6", "--sample-every", "6", "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and (not (run / "metrics.jsonl").is_file() or len(losses(run)) < 4):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted at step" in err and "Traceback" not in err
    stopped = torch.load(run / "checkpoint.pt", weights_only=True)["step"]
    assert stopped == json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] >= 4
    train(resume_config(run, steps=stopped + 2), run, resume=True)
    train(config(data, stopped + 2), tmp_path / "whole")
    assert losses(run) == pytest.approx(losses(tmp_path / "whole"), rel=1e-6, abs=1e-6)


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(data, tmp_path, monkeypatch):
    from jump_model.model import JUMP
    from jump_model.train import TrainingDiverged
    forward, calls = JUMP.forward, []

    def poisoned(self, batch, variance):
        out = forward(self, batch, variance)
        calls.append(1)
        if len(calls) >= 5:   # the fifth step's loss is NaN
            out = {k: v * float("nan") for k, v in out.items()}
        return out

    monkeypatch.setattr(JUMP, "forward", poisoned)
    with pytest.raises(TrainingDiverged, match="last good checkpoint"):
        train(config(data, 20), tmp_path / "run")
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 3
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
