"""Nothing lost, nothing silent: one writer per folder, bounded inputs, files that are checked before use, and
one line on stderr (non-zero exit) for every error, also from worker processes and spawned ranks."""

import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import warnings
from pathlib import Path
from unittest.mock import patch

import h5py
import numpy as np
import pytest
import torch
from conftest import HANG_GUARD_S
from model_scenes import make_square_dataset
from test_interrupted_generation import listed_train_shards, start_stuck_generation
from test_scene_shards import make
from toy_generator import make_toy_maker, toy_spec

from cli import run as cli_run
from scene_shards import UserError, generate_dataset, open_dataset, verify_dataset
from scene_shards.common import one_line as squeeze
from scene_shards.files import sha256_of
from scene_shards.lock import RUN_LOCK, FolderLock
from scene_shards.manifest import load_manifest
from scene_shards.pictures import check_picture_size, parse_indices

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, str(ROOT / "cli.py")]
TRAIN = ["--preset", "tiny", "--batch-size", "4", "--log-every", "1", "--checkpoint-every", "2", "--eval-every", "4",
         "--sample-every", "4"]


def jumpdata(capsys, *argv):
    """Run `jumpdata ARGV` in this process; returns (exit status, standard error)."""
    capsys.readouterr()
    with patch.object(sys, "argv", ["jumpdata", *map(str, argv)]), pytest.raises(SystemExit) as stop:
        cli_run()
    return stop.value.code, capsys.readouterr().err


def jumpdata_process(*argv, env=None):
    """Run `jumpdata ARGV` as its own process; returns the CompletedProcess (text)."""
    return subprocess.run([*CLI, *map(str, argv)], capture_output=True, text=True, env=env, cwd=ROOT)


def assert_one_line(code, err, message):
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    folder = tmp_path_factory.mktemp("squares")
    make_square_dataset(folder)
    return folder


@pytest.fixture(scope="module")
def run2(squares, tmp_path_factory):
    """A run folder after 2 training steps (tests copy it before changing it)."""
    run = tmp_path_factory.mktemp("run2") / "run"
    r = jumpdata_process("train", squares, *TRAIN, "--steps", 2, "--workers", 0, "--out", run)
    assert r.returncode == 0, r.stderr
    return run


# ------------------------------------------------------------------ one writer per folder

def test_a_second_generation_into_the_folder_is_refused_and_the_first_resumes_intact(tmp_path):
    out = tmp_path / "d"
    first = start_stuck_generation(out, start_new_session=True)   # holds the lock, two shards written
    with pytest.raises(UserError, match=rf"{out} is being written by another process \(pid {first.pid}, "
                                        r"generating dataset 'toy'\)"):
        make(out, n=300, test_n=20, shard_size=25, size=9)   # other settings: would otherwise replace the data
    assert listed_train_shards(out) >= 2 and json.loads((out / "toy.json").read_text())["config"]["size"] == 8
    make(out, name="other")                                  # another dataset in the same folder may go ahead
    os.killpg(first.pid, signal.SIGKILL)                     # kill -9 releases the lock: the re-run resumes
    first.wait()
    generate_dataset(toy_spec(), out, n=300, test_n=20, seed=3, workers=2, shard_size=25)
    assert verify_dataset(out, "toy") == [] and verify_dataset(out, "other") == []
    assert not list(out.glob(".*"))                          # no lock file, no temporary left


def test_cli_names_the_folder_and_the_holder(tmp_path, squares, capsys):
    with FolderLock(tmp_path, ".salesman.lock", "test"):
        r = jumpdata_process("narratives", "--n", 2, "--out", tmp_path)
    assert r.returncode == 2 and r.stderr.strip() == (
        f"jumpdata: {tmp_path} is being written by another process (pid {os.getpid()}, generating dataset "
        f"'salesman'); wait until it ends, or write to another folder")
    run = tmp_path / "run"
    run.mkdir()
    with FolderLock(run, RUN_LOCK, "a training run"):
        code, err = jumpdata(capsys, "train", squares, *TRAIN, "--steps", 1, "--workers", 0, "--out", run)
    assert_one_line(code, err, f"{run} is being written by another process (pid {os.getpid()}, a training run)")
    assert os.listdir(run) == []


# ------------------------------------------------------------------ bounded inputs

@pytest.mark.parametrize("args, message", [
    (["narratives", "--n", 10**12], "--n 1000000000000 is more than 100000000 scenes"),
    (["narratives", "--n", 5, "--test-n", 10**12], "--test-n 1000000000000 is more than"),
    (["narratives", "--n", 10**8, "--shard-size", 1], "make more than 99999 shards; use --shard-size 1001"),
    (["narratives", "--n", 5, "--seed", 2**70], "--seed"),
    (["narratives", "--n", 5, "--workers", 10**6], "--workers"),
    (["narratives", "--n", 5, "--name", ""], "dataset name '' is not allowed"),
    (["narratives", "--n", 5, "--name", "a/b"], "dataset name 'a/b' is not allowed"),
    (["dice", "--n", 5, "--views", 10**6], "--views must be between 1 and 1000"),
    (["dice", "--n", 5, "--views", 1000, "--size", 1024], "MiB, more than the 64 MiB allowed"),
    (["dice", "--n", 10**6, "--shard-size", 10**7, "--views", 1000, "--size", 8],
     "--shard-size 10000000: one shard, assembled in memory, could take up to"),
    (["train", "{squares}", "--seed", 2**70], "--seed"),
    (["train", "{squares}", "--batch-size", 10**6], "--batch-size"),
    (["train", "{squares}", "--workers", 10**4], "--workers"),
    (["sample", "{run}", "--seed", 2**64], "--seed"),
    (["sample", "{run}", "--samples", 10**6], "--samples"),
    (["show", "{squares}", "--scenes", "", "--out", "{tmp}/x.png"], "cannot read '' as indices"),
])
def test_bounds_are_checked_before_anything_is_written(tmp_path, squares, run2, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, err = jumpdata(capsys, *[str(a).format(squares=squares, run=run2, tmp=tmp_path) for a in args],
                         *(["--out", tmp_path / "out"] if args[0] in ("narratives", "dice", "train") else []))
    assert code != 0 and message in err and len(err.strip().splitlines()) == 1, err
    assert os.listdir(tmp_path) == []


def test_pictures_are_bounded_before_any_scene_is_read():
    with pytest.raises(UserError, match="'0-99999999' picks 100000000 indices; at most 10 fit here"):
        parse_indices("0-99999999", 10**8, most=10)
    with pytest.raises(UserError, match="million pixels"):
        check_picture_size(10_000, 64, 64, 16)
    check_picture_size(8, 64, 64, 2)


# ------------------------------------------------------------------ files are checked before use

def damage_manifest(folder, change):
    m = json.loads((folder / "toy.json").read_text())
    change(m)
    (folder / "toy.json").write_text(json.dumps(m))


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_text(""), "is empty (damaged)"),
    (lambda p: p.write_text("{\"format\": "), "is not valid JSON"),
    (lambda p: damage_manifest(p.parent, lambda m: m["splits"]["train"].update(scenes=41)),
     "says 5 scenes, but that shard holds 6"),
    (lambda p: damage_manifest(p.parent, lambda m: m["splits"]["train"].update(shard_count=9)),
     "train has shard_count 9, but 40 scenes at shard_size 7 make 6"),
    (lambda p: damage_manifest(p.parent, lambda m: m["splits"]["test"]["shards"].append(
        m["splits"]["test"]["shards"][0])), "lists 'toy-test-00000-of-00001.h5' twice"),
    (lambda p: damage_manifest(p.parent, lambda m: m.update(dataset="other")), "describes dataset 'other'"),
    (lambda p: damage_manifest(p.parent, lambda m: m.update(frame_shape=[8, 8])), "frame_shape [8, 8]"),
])
def test_a_damaged_manifest_is_named_and_info_reports_it_beside_good_datasets(tmp_path, capsys, damage, message):
    make(tmp_path)
    make(tmp_path, name="good")
    damage(tmp_path / "toy.json")
    with pytest.raises(UserError, match=re.escape(message)):
        load_manifest(tmp_path / "toy.json")
    code, err = jumpdata(capsys, "info", tmp_path)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_info_lists_good_and_damaged_and_exits_non_zero(tmp_path):
    make(tmp_path)
    make(tmp_path, name="good")
    (tmp_path / "toy.json").write_text("")
    r = jumpdata_process("info", tmp_path)
    assert r.returncode == 2
    assert "good  (toy" in r.stdout and "OK: every shard" in r.stdout and "toy  DAMAGED:" in r.stdout
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_shard_the_manifest_does_not_list_is_reported(tmp_path):
    make(tmp_path)
    damage_manifest(tmp_path, lambda m: m["splits"]["train"]["shards"].pop())
    assert verify_dataset(tmp_path, "toy") == ["toy train: 1 of 6 shards not generated yet",
                                               "toy-train-00005-of-00006.h5: a shard file the manifest does not list"]


def test_swapped_shards_are_detected_even_with_matching_checksums(tmp_path, capsys):
    make(tmp_path)
    a, b = tmp_path / "toy-train-00000-of-00006.h5", tmp_path / "toy-train-00001-of-00006.h5"
    a.rename(tmp_path / "swap")
    b.rename(a)
    (tmp_path / "swap").rename(b)
    damage_manifest(tmp_path, lambda m: [e.update(sha256=sha256_of(tmp_path / e["file"]))
                                         for e in m["splits"]["train"]["shards"]])
    with pytest.raises(UserError, match=r"toy-train-00000-of-00006.h5 does not match its manifest: its shard_index "
                                        r"is 1, the manifest says 0"):
        open_dataset(tmp_path).frames(0)
    problems = verify_dataset(tmp_path, "toy")
    assert [p.split(":")[0] for p in problems] == [a.name, b.name] and all("shard_index" in p for p in problems)
    assert_one_line(*jumpdata(capsys, "show", tmp_path, "--out", tmp_path / "x.png"), "does not match its manifest")


# ------------------------------------------------------------------ checkpoints and disk errors

@pytest.mark.parametrize("step, message", [("3", "its step '3' is not a whole number"),
                                           (-1, "its step -1 is not a whole number"),
                                           (2.5, "its step 2.5 is not")])
def test_checkpoint_fields_are_checked(run2, tmp_path, capsys, squares, step, message):
    run = tmp_path / "run"
    shutil.copytree(run2, run)
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    torch.save(dict(ckpt, step=step), run / "checkpoint.pt")
    assert_one_line(*jumpdata(capsys, "sample", run, "--out", tmp_path / "s.png"), message)
    assert_one_line(*jumpdata(capsys, "train", squares, "--out", run, "--resume", "--steps", 5), message)


def test_weights_that_do_not_fit_are_named_in_one_full_line(run2, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(run2, run)
    cfg = json.loads((run / "config.json").read_text())
    cfg = dict(cfg, model=dict(cfg["model"], nf_dec=cfg["model"]["nf_dec"] * 2))
    (run / "config.json").write_text(json.dumps(cfg))
    code, err = jumpdata(capsys, "sample", run, "--out", tmp_path / "s.png")
    assert_one_line(code, err, "config.json does not match its checkpoint: nf_dec 64 vs 32")
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)   # both configs say so: the weights do not fit
    torch.save(dict(ckpt, config=cfg), run / "checkpoint.pt")
    code, err = jumpdata(capsys, "sample", run, "--out", tmp_path / "s.png")
    assert_one_line(code, err, "do not fit the run's config.json: ")
    assert "of another shape (first " in err and "the config needs" in err


def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_leaves_no_temporary(squares, run2, tmp_path):
    """RLIMIT_FSIZE makes every write past 150 kB fail (EFBIG) like a full disk; the checkpoint is bigger."""
    run = tmp_path / "run"
    shutil.copytree(run2, run)
    before = sha256_of(run / "checkpoint.pt")
    assert (run / "checkpoint.pt").stat().st_size > 150_000

    def small_disk():
        import resource
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a failed write instead of a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (150_000, 150_000))

    proc = subprocess.run([*CLI, "train", str(squares), "--out", str(run), "--resume", "--steps", "4"],
                          capture_output=True, text=True, cwd=ROOT, preexec_fn=small_disk)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "cannot save checkpoint" in proc.stderr and "(the previous one is kept)" in proc.stderr
    assert sha256_of(run / "checkpoint.pt") == before
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_os_errors_are_squeezed_to_one_line(tmp_path, capsys):
    assert squeeze(OSError(5, "Input/output error\nsecond line")) == "[Errno 5] Input/output error second line"
    (tmp_path / "afile").write_text("x")
    code, err = jumpdata(capsys, "train", tmp_path, "--out", tmp_path / "afile" / "run")
    assert code != 0 and len(err.strip().splitlines()) == 1


def test_warnings_are_not_printed_before_an_error_line(tmp_path, capsys, monkeypatch):
    import scene_shards

    def noisy(folder):
        warnings.warn("something torch would say", UserWarning)
        raise UserError("the real problem")

    monkeypatch.setattr(scene_shards, "summarize_folder", noisy)
    assert jumpdata(capsys, "info", tmp_path) == (2, "jumpdata: the real problem\n")


# ------------------------------------------------------------------ MNIST files

def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.mark.parametrize("labels, message", [
    (np.full(200, 200), "the labels file holds 200; MNIST labels are 0-9"),
    (np.zeros(200), "needs 10 digits of class 1 for a bank balanced over the ten classes, but the MNIST files"),
])
def test_mnist_label_files_are_checked(tmp_path, labels, message):
    from dice3d.digits import load_bank
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((len(labels), 28, 28)))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    with pytest.raises(UserError, match=message):
        load_bank(100, mnist=str(tmp_path))


# ------------------------------------------------------------------ errors from workers and ranks

def flip_first_read_chunk_byte(folder):
    """Flip one byte inside the compressed frames of the first scene training reads (seed 0, first example)."""
    from jump_model.data import SceneViews
    ds = open_dataset(folder)
    scene = SceneViews(ds, 3, 3, seed=0, shuffle=True).scene_index(0)
    k = max(i for i, start in enumerate(ds.starts) if start <= scene)
    with h5py.File(ds.files[k]) as f:
        info = f["frames"].id.get_chunk_info_by_coord((scene - ds.starts[k], 0, 0, 0, 0))
    data = bytearray(ds.files[k].read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0xFF
    ds.files[k].write_bytes(bytes(data))


def test_training_on_a_shard_with_a_flipped_byte_is_one_line_from_the_loader_worker(squares, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(squares, data)
    flip_first_read_chunk_byte(data)
    r = jumpdata_process("train", data, *TRAIN, "--steps", 2, "--workers", 1, "--out", tmp_path / "run")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("jumpdata: cannot read scene ") and "squares-train-" in r.stderr


def test_training_on_a_truncated_shard_is_one_line_before_the_first_step(squares, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(squares, data)
    shard = data / "squares-test-00000-of-00001.h5"   # read only for evaluation, long after the first step
    shard.write_bytes(shard.read_bytes()[:-100])
    r = jumpdata_process("train", data, *TRAIN, "--steps", 2, "--workers", 1, "--out", tmp_path / "run")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"cannot read shard {shard}" in r.stderr and "truncated" in r.stderr
    assert not (tmp_path / "run").exists()


def test_each_spawned_rank_reports_one_line(squares, tmp_path):
    """Two ranks started as torchrun starts them (RANK, WORLD_SIZE, MASTER_*): each prints its one line."""
    data = tmp_path / "data"
    shutil.copytree(squares, data)
    shard = data / "squares-train-00001-of-00002.h5"
    shard.write_bytes(shard.read_bytes()[:-100])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ranks = []
    for rank in (0, 1):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port))
        ranks.append(subprocess.Popen([*CLI, "train", str(data), *TRAIN, "--steps", "2", "--workers", "0",
                                       "--device", "cpu", "--out", str(tmp_path / "run")],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT))
    for rank, proc in enumerate(ranks):
        _, err = proc.communicate(timeout=HANG_GUARD_S)
        assert proc.returncode == 2, err
        assert err.strip().splitlines() == [f"jumpdata (rank {rank}): cannot read shard {shard} "
                                            + err.split(f"cannot read shard {shard} ", 1)[1].strip()]


def test_a_generator_worker_error_is_one_line_and_keeps_complete_shards(tmp_path):
    def failing(config):
        make = make_toy_maker(config)

        def scene(rng):
            if rng.bit_generator.seed_seq.entropy[2] >= 14:
                raise ValueError("bad\nthing")
            return make(rng)
        return scene

    spec = toy_spec()
    spec.scene_maker = failing
    with pytest.raises(UserError) as e:
        generate_dataset(spec, tmp_path, n=40, test_n=5, seed=3, workers=2, shard_size=7)
    assert str(e.value) == "generating train scene 14 of 'toy' failed: ValueError: bad thing"
    assert listed_train_shards(tmp_path) == 2 and not list(tmp_path.glob(".*"))

    def broken(config):
        raise RuntimeError("no renderer")

    spec.scene_maker = broken   # fails as each worker starts: reported, not retried forever
    with pytest.raises(UserError, match="failed: RuntimeError: no renderer"):
        generate_dataset(spec, tmp_path, n=40, test_n=5, seed=3, workers=2, shard_size=7)
    make(tmp_path)
    assert verify_dataset(tmp_path, "toy") == []


def test_resume_drops_a_metrics_line_cut_short(run2, squares, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(run2, run)
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "lo')   # a kill -9 or a full disk in the middle of an append
    code, err = jumpdata(capsys, "train", squares, "--out", run, "--resume", "--steps", 3)
    assert code == 0, err
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]
