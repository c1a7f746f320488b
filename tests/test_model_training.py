"""The trainer and the train/sample commands: run folder, exact resume, DDP on CPU, checkpoints, bad input."""

import functools
import json
import math
import os
import shutil
import socket
import sys
from unittest.mock import patch

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from PIL import Image

from cli import run as cli_run
from conftest import HANG_GUARD_S, wait_for
from jump_model.training import train
from model_scenes import exit_without_teardown, make_square_dataset
from model_scenes import fast_config as config, logged_losses as losses, resumed_config as resumed
from scene_shards.common import UserError



@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("squares")
    make_square_dataset(folder, kind="time")
    return folder


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    """A run folder after 3 steps (tests copy it before changing it)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    train(config(data, 3), run)
    return run


def jumpdata(capsys, *argv):
    """Run the console script `jumpdata ARGV` in this process; returns (exit status, standard error)."""
    capsys.readouterr()
    with patch.object(sys, "argv", ["jumpdata", *map(str, argv)]), pytest.raises(SystemExit) as stop:
        cli_run()
    return stop.value.code, capsys.readouterr().err


def one_line_error(code, err, message):
    """Assert a user error: exit status 2 and one line on stderr holding `message`."""
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_run_folder_and_weights_only_checkpoint(data, tmp_path):
    run = tmp_path / "run"
    result = train(config(data, 6), run)
    assert result.step == 6 and not result.interrupted
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == list(range(1, 7))
    for key in ("loss", "kl", "nll", "mse", "pixel_variance", "scenes_per_s", "data_wait_share"):
        assert np.isfinite(lines[-1][key])
    for key in ("eval_nelbo", "eval_kl", "eval_nll", "eval_recon_mse", "eval_pred_mse"):
        assert np.isfinite(lines[-1][key])
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 6 and ckpt["config"]["model"]["image_size"] == 16
    stored = json.loads((run / "config.json").read_text())
    assert stored["dataset"] == "squares" and "camera_encoding" not in stored["model"]   # time data: no camera
    picture = Image.open(run / "samples_000006.png")
    assert picture.width > 16 * 4 and picture.height > 16 * 3


def test_resume_continues_the_same_trajectory(data, tmp_path):
    train(config(data, 8), tmp_path / "whole")
    train(config(data, 5, checkpoint_every=5), tmp_path / "half")
    train(resumed(data, tmp_path / "half", steps=8), tmp_path / "half", resume=True)
    whole, half = losses(tmp_path / "whole"), losses(tmp_path / "half")
    assert len(half) == 8
    assert half == pytest.approx(whole, rel=1e-6, abs=1e-6)


def test_an_fp16_run_resumes_exactly_with_its_loss_scale(data, tmp_path, monkeypatch):
    import jump_model.training.loop as loop
    from jump_model.run_folder import load_scaler, save_torch
    from jump_model.runtime import Precision
    monkeypatch.setattr(loop, "choose_precision", lambda caps, amp: Precision("float16", True, False, "fp16"))
    # a loss scale of 1024 overflows this model's fp16 gradients at first (the step is skipped, the scale halved)
    monkeypatch.setattr(torch.amp, "GradScaler", functools.partial(torch.amp.GradScaler, init_scale=1024.0))
    train(config(data, 6), tmp_path / "whole")
    train(config(data, 3, checkpoint_every=3), tmp_path / "half")
    shutil.copytree(tmp_path / "half", tmp_path / "older")
    scaler = lambda run: torch.load(tmp_path / run / "checkpoint.pt", weights_only=True)["scaler"]
    assert scaler("half")["scale"] < 1024 and scaler("half")["_growth_tracker"] > 0   # halved, then steps taken
    notes = []
    train(resumed(data, tmp_path / "half", steps=6), tmp_path / "half", resume=True, on_note=notes.append)
    assert losses(tmp_path / "half") == pytest.approx(losses(tmp_path / "whole"), rel=1e-6, abs=1e-6)
    assert scaler("half") == scaler("whole") and notes == ["fp16"]      # the loss scale and its growth count
    ckpt = torch.load(tmp_path / "older" / "checkpoint.pt", weights_only=True)
    del ckpt["scaler"]                                     # a checkpoint of an older jumpdata: still resumes,
    save_torch(tmp_path / "older" / "checkpoint.pt", ckpt, "checkpoint")   # its loss scale afresh, and says so
    train(resumed(data, tmp_path / "older", steps=6), tmp_path / "older", resume=True, on_note=notes.append)
    assert "the GradScaler starts afresh" in notes[-1] and len(losses(tmp_path / "older")) == 6
    assert scaler("older") != scaler("whole")
    assert losses(tmp_path / "older")[4:] != pytest.approx(losses(tmp_path / "whole")[4:], rel=1e-6, abs=1e-6)
    for damaged in ({"scale": "big"}, {**scaler("whole"), "scale": math.inf}, {"scale": 2.0}, []):
        with pytest.raises(UserError, match="the checkpoint's GradScaler state is damaged"):
            load_scaler(torch.amp.GradScaler("cpu"), {"scaler": damaged})


def test_existing_run_needs_resume(data, tmp_path):
    train(config(data, 1), tmp_path / "run")
    with pytest.raises(UserError, match="--resume"):
        train(config(data, 1), tmp_path / "run")


def _ddp_worker(rank, world, port, data, out):
    from jump_model.nets import JUMP
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    forward, own = JUMP.forward, []

    def recording(self, batch, variance):   # this rank's own training losses, step by step
        result = forward(self, batch, variance)
        if self.training:
            own.append({k: float(v) for k, v in result.items()})
        return result

    JUMP.forward = recording
    train(config(data, 3, device="cpu"), out)   # leaves the process group itself (after a barrier)
    assert not torch.distributed.is_initialized()
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(own, f)
    exit_without_teardown()


def test_two_process_gloo_ddp(data, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, port, str(data), str(tmp_path / "ddp")), nprocs=2, join=True)
    lines = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [1, 2, 3]          # only rank 0 writes
    assert torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=True)["step"] == 3
    ranks = [json.loads((tmp_path / "ddp" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0][0]["loss"] != pytest.approx(ranks[1][0]["loss"])   # the ranks saw different scenes
    for step, line in enumerate(lines):                     # logged: the mean over both ranks
        for key in ("loss", "kl", "nll", "mse"):
            assert line[key] == pytest.approx((ranks[0][step][key] + ranks[1][step][key]) / 2, rel=1e-5)


def test_cli_sample_pictures(trained, tmp_path, capsys):
    code, err = jumpdata(capsys, "sample", trained, "--context", "0,1", "--query", "3-5", "--samples", 2,
                         "--scale", 1, "--out", tmp_path / "s.png")
    assert code == 0, err
    picture = Image.open(tmp_path / "s.png")
    assert picture.width > 3 * 16 and picture.height > (1 + 2 + 1) * 16   # context, 2 samples, truth
    assert jumpdata(capsys, "sample", trained, "--out", tmp_path / "s.gif")[0] == 0
    assert Image.open(tmp_path / "s.gif").n_frames == 3   # one frame per default query view (3, 4, 5)


@pytest.mark.parametrize("args, message", [
    (["train", "{empty}"], "holds no jumpdata dataset"),
    (["train", "{data}", "--preset", "huge"], "unknown preset"),
    (["train", "{data}", "--device", "tpu"], "unknown device"),
    (["train", "{data}", "--steps", "0"], "'--steps': 0 is not in the range 1<=x<="),
    (["train", "{data}", "--context", "5", "--targets", "5"], "at most"),
    (["train", "{data}", "--lr", "nan"], "'--lr': 'nan' is not a finite number"),
    (["train", "{data}", "--lr", "inf"], "'--lr': 'inf' is not a finite number"),
    (["train", "{data}", "--pixel-variance", "2.0:nan@10"], "finite number"),
    (["train", "{data}", "--seed", "-1"], "-1 is not in the range 0<=x<="),
    (["train", "{data}", "--workers", "-5"], "-5 is not in the range 0<=x<=64"),
    (["train", "{notest}"], "has no test scenes (made with --test-n 0)"),
    (["train", "{data}", "--resume"], "--resume needs --out"),
    (["train", "{data}", "--resume", "--out", "{empty}"], "not a training run folder"),
    (["sample", "{empty}"], "not a training run folder"),
    (["sample", "{trained}", "--context", "0,9"], "index 9 is out of range: there are 6"),
    (["sample", "{trained}", "--query", "x"], "cannot read 'x' as indices"),
    (["sample", "{trained}", "--scene", "8"], "the test split has scenes 0..7"),
    (["sample", "{trained}", "--out", "{tmp}/nofolder/s.png"], "does not exist"),
    (["sample", "{trained}", "--out", "{tmp}/s.jpg"], "write a .png (grid) or a .gif"),
])
def test_bad_input_is_one_line_exit_2(data, trained, tmp_path, capsys, monkeypatch, args, message):
    notest = tmp_path / "notest"
    make_square_dataset(notest, test_n=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(tmp_path)
    one_line_error(*jumpdata(capsys, *[a.format(data=data, empty=empty, notest=notest, trained=trained, tmp=tmp_path)
                                       for a in args]), message)
    assert sorted(os.listdir(tmp_path)) == ["empty", "notest"]   # nothing written (no run folder, no picture)


def test_bad_input_in_a_real_process_prints_no_traceback(tmp_path):
    from subprocess import run
    proc = run([os.path.join(os.path.dirname(sys.executable), "jumpdata"), "train", str(tmp_path)],
               capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == f"jumpdata: {tmp_path} holds no jumpdata dataset " \
        f"(no manifest NAME.json)"


@pytest.mark.parametrize("damage", ["checkpoint truncated", "checkpoint empty", "checkpoint pickle",
                                    "checkpoint not a dict", "config not json", "config bad value"])
def test_damaged_run_folders_give_one_line(trained, data, tmp_path, capsys, damage):
    import pickle
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    what, how = damage.split(" ", 1)
    ckpt, cfg = run / "checkpoint.pt", run / "config.json"
    if how == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    elif how == "empty":
        ckpt.write_bytes(b"")
    elif how == "pickle":
        ckpt.write_bytes(pickle.dumps({"model": shutil.copytree}, protocol=2))
    elif how == "not a dict":
        torch.save([1, 2], ckpt)
    elif how == "not json":
        cfg.write_text('{"steps": 3,')
    else:
        cfg.write_text(json.dumps(dict(json.loads(cfg.read_text()), lr="fast")))
    expected = {"truncated": "cannot load checkpoint", "empty": "cannot load checkpoint",
                "pickle": "cannot load checkpoint", "not a dict": "is not a jumpdata checkpoint",
                "not json": "cannot read", "bad value": "lr must be of type float"}[how]
    one_line_error(*jumpdata(capsys, "train", data, "--out", run, "--resume", "--steps", 5), expected)
    one_line_error(*jumpdata(capsys, "sample", run, "--out", tmp_path / "s.png"), expected)


def test_runs_store_absolute_paths_and_work_from_any_folder(data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(data.parent)
    run = tmp_path / "run"
    code, err = jumpdata(capsys, "train", data.name, "--preset", "tiny", "--steps", 2, "--batch-size", 2,
                         "--workers", 0, "--out", os.path.relpath(run))
    assert code == 0, err
    stored = json.loads((run / "config.json").read_text())
    assert stored["data_dir"] == str(data.resolve()) and os.path.isabs(stored["manifest"])
    monkeypatch.chdir(tmp_path)
    assert jumpdata(capsys, "sample", run, "--out", "s.png")[0] == 0 and (tmp_path / "s.png").is_file()


def test_resume_reads_the_moved_data_and_refuses_trajectory_changes(data, tmp_path, capsys):
    old, new, run = tmp_path / "old", tmp_path / "new", tmp_path / "run"
    shutil.copytree(data, old)
    base = ["--out", run, "--resume"]
    assert jumpdata(capsys, "train", old, "--preset", "tiny", "--steps", 2, "--batch-size", 2, "--workers", 0,
                    "--out", run)[0] == 0
    before = (run / "config.json").read_text()
    old.rename(new)
    code, err = jumpdata(capsys, "train", new, *base, "--lr", 0.5, "--batch-size", 7, "--steps", 4)
    one_line_error(code, err, "cannot change --lr 0.5 (run: 0.003), --batch-size 7 (run: 2)")
    for option in (["--seed", 3], ["--preset", "dice"], ["--pixel-variance", "0.3"], ["--context", 2],
                   ["--targets", 2], ["--dataset", "other"], ["--model", "gqn"], ["--eval-pixel-variance", 0.3]):
        one_line_error(*jumpdata(capsys, "train", new, *base, *option), f"cannot change {option[0]}")
    assert (run / "config.json").read_text() == before
    one_line_error(*jumpdata(capsys, "train", new, *base), "already done 2 steps; give --steps more than 2")
    other = tmp_path / "other"
    make_square_dataset(other, views=7, n=4, test_n=2)
    one_line_error(*jumpdata(capsys, "train", other, *base, "--steps", 4),
                   f"was trained on other data than 'squares' in {other}: config.views 6 vs 7, "
                   f"views_per_scene 6 vs 7")
    # the same values as the run's, and machinery and logging settings, may be given
    code, err = jumpdata(capsys, "train", new, *base, "--steps", 4, "--lr", 0.003, "--preset", "tiny",
                         "--batch-size", 2, "--workers", 0, "--log-every", 1, "--device", "cpu")
    assert code == 0, err
    stored = json.loads((run / "config.json").read_text())
    assert (stored["data_dir"], stored["steps"], stored["log_every"], stored["lr"]) == \
        (str(new.resolve()), 4, 1, 0.003)
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 4
    assert jumpdata(capsys, "sample", run, "--out", tmp_path / "s.gif")[0] == 0


def test_sample_reads_moved_data_with_data_option(trained, data, tmp_path, capsys):
    moved = tmp_path / "moved"
    shutil.copytree(data, moved)
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(dict(cfg, data_dir=str(tmp_path / "gone"))))
    one_line_error(*jumpdata(capsys, "sample", run, "--out", tmp_path / "s.png"), "gone")
    assert jumpdata(capsys, "sample", run, "--data", moved, "--out", tmp_path / "s.png")[0] == 0


def test_preset_defaults_to_the_generator(tmp_path, capsys):
    make_square_dataset(tmp_path / "dice", n=4, test_n=2, generator="dice")
    code, err = jumpdata(capsys, "train", tmp_path / "dice", "--steps", 1, "--batch-size", 1, "--workers", 0,
                         "--out", tmp_path / "run")
    assert code == 0, err
    stored = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (stored["preset"], stored["model"]["nt"], stored["model"]["nf_to_hidden"]) == ("dice", 6, 128)


def test_ctrl_c_saves_a_whole_step_and_resume_continues_the_trajectory(data, tmp_path):
    import signal
    import subprocess
    run = tmp_path / "run"
    cli = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli.py")
    proc = subprocess.Popen([sys.executable, cli, "train", str(data), "--preset", "tiny", "--steps", "100000",
                             "--batch-size", "4", "--workers", "0", "--log-every", "1", "--checkpoint-every", "3",
                             "--eval-every", "6", "--sample-every", "6", "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"   # complete lines only: the file may be read while a line is being appended
    wait_for(lambda: metrics.is_file() and metrics.read_text().count("\n") >= 4, proc)   # of 100000 steps
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=HANG_GUARD_S)
    assert proc.returncode == 130 and "interrupted at step" in err and "Traceback" not in err
    stopped = torch.load(run / "checkpoint.pt", weights_only=True)["step"]
    assert stopped == json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"] >= 4
    train(resumed(data, run, steps=stopped + 2), run, resume=True)
    train(config(data, stopped + 2), tmp_path / "whole")
    assert losses(run) == pytest.approx(losses(tmp_path / "whole"), rel=1e-6, abs=1e-6)


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(data, tmp_path, monkeypatch):
    from jump_model.nets import JUMP
    from jump_model.training import TrainingDiverged
    forward, calls = JUMP.forward, []

    def poisoned(self, batch, variance):
        out = forward(self, batch, variance)
        calls.append(1)
        if len(calls) >= 5:   # the fifth step's loss is NaN
            out = {k: v * float("nan") for k, v in out.items()}
        return out

    monkeypatch.setattr(JUMP, "forward", poisoned)
    with pytest.raises(TrainingDiverged, match=r"near step 5; stopped, the last good checkpoint \(step 3\) is in"):
        train(config(data, 20), tmp_path / "run")
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert ckpt["step"] == 3
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())
    calls.clear()
    with pytest.raises(TrainingDiverged, match="near step 5; stopped, no checkpoint was written yet"):
        train(config(data, 20, checkpoint_every=10), tmp_path / "early")
    assert not (tmp_path / "early" / "checkpoint.pt").exists()


OLD_CONFIG_KEYS = (   # config.json before the model/run split: one flat object, JUMP only
    "preset nt nf_to_hidden nf_enc nf_to_obs nf_dec ni_z stride_to_hidden stride_to_obs lstm_kernel latent_std_init "
    "image_size views_per_scene viewpoint_kind position_scale steps batch_size lr grad_clip context targets "
    "pixel_variance seed device compile amp workers log_every sample_every checkpoint_every eval_every eval_scenes "
    "data_dir dataset manifest").split()


@pytest.fixture
def legacy_run(trained, tmp_path):
    """A run folder in the format written before the model/run split: flat config.json, flat "config" in the
    checkpoint (the weights of a JUMP, whose parameter names did not change)."""
    run = tmp_path / "legacy"
    shutil.copytree(trained, run)
    new = json.loads((run / "config.json").read_text())
    flat = {k: new["model"][k] if k in new["model"] else new[k] for k in OLD_CONFIG_KEYS}
    (run / "config.json").write_text(json.dumps(flat, indent=2))
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    torch.save(dict(ckpt, config=flat), run / "checkpoint.pt")
    return run


def test_a_run_folder_from_before_the_config_split_samples_and_refuses_resume(legacy_run, data, tmp_path, capsys):
    from jump_model.run_folder import load_run
    cfg, model, step = load_run(legacy_run)
    assert (cfg.model.kind, step, cfg.eval_pixel_variance) == ("jump", 3, 0.1)   # tiny's schedule ends at 0.1
    assert json.loads((legacy_run / "config.json").read_text())["nt"] == cfg.model.nt
    code, err = jumpdata(capsys, "sample", legacy_run, "--out", tmp_path / "old.png")
    assert code == 0 and (tmp_path / "old.png").is_file(), err
    one_line_error(*jumpdata(capsys, "train", data, "--out", legacy_run, "--resume", "--steps", 5),
                   "was made by an older jumpdata (a flat config.json): sample and eval read it, but --resume")
