"""A run knows its data (issue 21): eval, sample and train --resume compare the data fingerprint the run recorded
with the data they open, with or without --data; a config.json is checked against its checkpoint; NaN weights or
figures give no report; a report is written whole or not at all."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from unittest.mock import patch

import pytest
import torch
from full_disk import hidden_files, jumpdata_on_full_disk
from model_scenes import make_square_dataset

from cli import run as cli_run
from scene_shards import UserError
from scene_shards.files import sha256_of

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["--preset", "tiny", "--batch-size", "4", "--log-every", "1", "--checkpoint-every", "2", "--eval-every", "2",
         "--sample-every", "2", "--workers", "0", "--context", "2", "--targets", "2"]


def jumpdata(capsys, *argv):
    """Run `jumpdata ARGV` in this process; returns (exit status, standard error)."""
    capsys.readouterr()
    with patch.object(sys, "argv", ["jumpdata", *map(str, argv)]), pytest.raises(SystemExit) as stop:
        cli_run()
    return stop.value.code, capsys.readouterr().err


def one_line(code, err, message, status=2):
    assert code == status and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def squares(folder, **settings):
    """(Re)make the squares dataset in `folder` (8 views of 16x16 unless `settings` say otherwise)."""
    shutil.rmtree(folder, ignore_errors=True)
    make_square_dataset(folder, **{"views": 8, "n": 8, "test_n": 6, **settings})
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data folder, run folder) of a 2-step tiny run on the squares; tests copy both before changing them."""
    base = tmp_path_factory.mktemp("trained")
    data = squares(base / "data")
    with patch.object(sys, "argv", ["jumpdata", "train", str(data), *TRAIN, "--steps", "2", "--out",
                                    str(base / "run")]), pytest.raises(SystemExit) as stop:
        cli_run()
    assert stop.value.code == 0
    return data, base / "run"


@pytest.fixture
def copied(trained, tmp_path):
    """A copy of the trained run whose config points at a copy of its data: (data, run)."""
    data, run = tmp_path / "data", tmp_path / "run"
    shutil.copytree(trained[0], data)
    shutil.copytree(trained[1], run)
    cfg = json.loads((run / "config.json").read_text())
    cfg.update(data_dir=str(data), manifest=str(data / "squares.json"))
    (run / "config.json").write_text(json.dumps(cfg))
    return data, run


def commands(data, run, tmp_path, with_data):
    """The commands that read a run's data: eval, sample and train --resume (with --data DATA or without)."""
    given = ["--data", data] if with_data else []
    return [["eval", run, "--metric", "min-mse", "--samples", 2, "--out", tmp_path / "r.json", *given],
            ["sample", run, "--out", tmp_path / "s.png", *given],
            ["train", data, "--out", run, "--resume", "--steps", 4]]


def test_the_run_records_the_fingerprint_of_its_data(trained):
    from scene_shards import data_fingerprint
    from scene_shards.manifest import load_manifest
    data, run = trained
    recorded = json.loads((run / "config.json").read_text())["data_fingerprint"]
    assert recorded == data_fingerprint(load_manifest(data / "squares.json"))
    assert torch.load(run / "checkpoint.pt", weights_only=True)["config"]["data_fingerprint"] == recorded


@pytest.mark.parametrize("with_data", [False, True])
@pytest.mark.parametrize("settings, difference", [
    ({"size": 32}, "frame_shape [16, 16, 3] vs [32, 32, 3]"),
    ({"views": 10}, "views_per_scene 8 vs 10"),
    ({"kind": "camera"}, "viewpoint_kind \"time\" vs \"camera\""),
    ({"test_n": 7}, "test scenes 6 vs 7"),
])
def test_data_regenerated_under_the_same_name_is_refused_naming_what_differs(copied, tmp_path, capsys, with_data,
                                                                             settings, difference):
    data, run = copied
    before = sha256_of(run / "checkpoint.pt")
    squares(data, **settings)
    for argv in commands(data, run, tmp_path, with_data):
        code, err = jumpdata(capsys, *argv)
        one_line(code, err, f"was trained on other data than 'squares' in {data}: ")
        assert difference in err and "(run vs data)" in err, err
    assert sha256_of(run / "checkpoint.pt") == before
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "s.png").exists()


def test_a_test_shard_altered_behind_its_checksum_is_named(copied, tmp_path, capsys):
    data, run = copied
    m = json.loads((data / "squares.json").read_text())
    m["splits"]["test"]["shards"][0]["sha256"] = "0" * 64
    (data / "squares.json").write_text(json.dumps(m))
    code, err = jumpdata(capsys, *commands(data, run, tmp_path, False)[0])
    one_line(code, err, "test shards (other files: regenerated or altered) (run vs data)")


def test_a_config_edited_by_hand_is_checked_against_its_checkpoint(copied, tmp_path, capsys):
    data, run = copied
    cfg = json.loads((run / "config.json").read_text())
    cfg["model"]["views_per_scene"] = 10
    (run / "config.json").write_text(json.dumps(cfg))
    for argv in commands(data, run, tmp_path, False):
        code, err = jumpdata(capsys, *argv)
        one_line(code, err, f"{run}/config.json does not match its checkpoint: views_per_scene 10 vs 8")


def test_an_older_run_without_a_fingerprint_is_compared_on_the_facts_it_has(copied, tmp_path, capsys):
    data, run = copied
    cfg = json.loads((run / "config.json").read_text())
    del cfg["data_fingerprint"]
    (run / "config.json").write_text(json.dumps(cfg))
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    del ckpt["config"]["data_fingerprint"]
    torch.save(ckpt, run / "checkpoint.pt")
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, commands(data, run, tmp_path, False)[0])],
                          capture_output=True, text=True)   # its own process: the warning as a user sees it
    assert done.returncode == 0 and done.stderr.count("recorded no data fingerprint") == 1, done.stderr
    assert "only the frame shape, views per scene and viewpoint kind are compared" in done.stderr
    squares(data, size=32)
    code, err = jumpdata(capsys, *commands(data, run, tmp_path, False)[1])
    one_line(code, err, "frame_shape [16, 16, 3] vs [32, 32, 3]")


def test_nan_weights_give_no_report(copied, tmp_path, capsys):
    data, run = copied
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    name = next(iter(ckpt["model"]))
    ckpt["model"][name].view(-1)[0] = float("nan")
    torch.save(ckpt, run / "checkpoint.pt")
    for argv in commands(data, run, tmp_path, False):
        code, err = jumpdata(capsys, *argv)
        one_line(code, err, f"holds NaN or infinite weights (first {name})")
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "s.png").exists()


def test_a_report_is_written_whole_or_not_at_all(copied, tmp_path, capsys):
    data, run = copied
    (tmp_path / "r.png").mkdir()   # the plot's place is taken: the JSON must not be left alone
    code, err = jumpdata(capsys, *commands(data, run, tmp_path, False)[0])
    assert code != 0 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r.json").exists() and hidden_files(tmp_path) == []
    (tmp_path / "r.png").rmdir()
    proc = jumpdata_on_full_disk("r.png", *commands(data, run, tmp_path, False)[0])
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "No space left on device" in proc.stderr and f"{tmp_path}/r.png" in proc.stderr
    assert not (tmp_path / "r.json").exists() and hidden_files(tmp_path) == []


def test_eval_creates_a_missing_report_folder_like_train_and_probe_train(copied, tmp_path, capsys):
    data, run = copied
    out = tmp_path / "new" / "deeper" / "r.json"
    code, err = jumpdata(capsys, "eval", run, "--metric", "min-mse", "--samples", 2, "--out", out)
    assert code == 0 and out.is_file() and out.with_suffix(".png").is_file(), err
    code, err = jumpdata(capsys, "eval", run, "--metric", "nelbo", "--out", tmp_path / "gone" / "r.json")
    assert code == 2 and not (tmp_path / "gone").exists(), err   # refused: the folder it made is removed


@pytest.mark.parametrize("args, message", [
    (["--scenes", 7], "--scenes 7: the test split of 'squares' holds 6 scenes"),
    (["--context-frames", 100], "--context-frames 100 leaves nothing to predict in videos of 8 frames"),
])
def test_eval_options_are_checked_against_the_data(copied, tmp_path, capsys, args, message):
    data, run = copied
    code, err = jumpdata(capsys, "eval", run, "--metric", "min-mse", "--out", tmp_path / "r.json", *args)
    one_line(code, err, message)


def test_eval_on_a_test_shard_missing_a_label_is_one_line(copied, tmp_path, capsys):
    import h5py
    from scene_shards import data_fingerprint
    from scene_shards.manifest import load_manifest
    data, run = copied
    shard = data / "squares-test-00000-of-00001.h5"
    with h5py.File(shard, "r+") as f:
        del f["labels/start"]
    m = json.loads((data / "squares.json").read_text())
    m["splits"]["test"]["shards"][0]["sha256"] = sha256_of(shard)
    (data / "squares.json").write_text(json.dumps(m))
    code, err = jumpdata(capsys, *commands(data, run, tmp_path, False)[0])
    one_line(code, err, "test shards (other files: regenerated or altered)")   # not the data it was trained on
    cfg = json.loads((run / "config.json").read_text())   # a run made on the damaged data: the shard is named
    cfg["data_fingerprint"] = data_fingerprint(load_manifest(data / "squares.json"))
    (run / "config.json").write_text(json.dumps(cfg))
    for argv in commands(data, run, tmp_path, False)[:2]:
        code, err = jumpdata(capsys, *argv)
        one_line(code, err, f"{shard} does not match its manifest: it has no label start")


def test_a_full_disk_while_saving_a_probe_is_one_line_and_leaves_nothing(tmp_path):
    data = tmp_path / "dice"
    made = jumpdata_on_full_disk("none", "dice", "--n", 4, "--test-n", 2, "--size", 16, "--digits", 10, "--out", data)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "probe"
    proc = jumpdata_on_full_disk("checkpoint.pt", "probe", "train", data, "--out", out, "--steps", 2,
                                 "--batch-size", 8)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"cannot save probe {out}/checkpoint.pt" in proc.stderr and "No space left on device" in proc.stderr
    assert not out.exists()   # no temporary, no lock file: the folder it made is removed


def test_probe_accuracy_counts_distinct_test_views(tmp_path, capsys):
    data = tmp_path / "dice"
    assert jumpdata(capsys, "dice", "--n", 4, "--test-n", 2, "--size", 16, "--digits", 10, "--views", 10,
                    "--out", data)[0] == 0
    code, err = jumpdata(capsys, "probe", "train", data, "--out", tmp_path / "p", "--steps", 2, "--batch-size", 8)
    assert code == 0, err
    cfg = json.loads((tmp_path / "p" / "config.json").read_text())
    assert 0 < cfg["test_examples"] <= 2 * 10   # 2 test scenes of 10 views, each view counted once
    assert cfg["data_fingerprint"]["views_per_scene"] == 10


def test_a_pixel_variance_schedule_with_a_line_break_is_refused(trained, tmp_path, capsys):
    code, err = jumpdata(capsys, "train", trained[0], *TRAIN, "--pixel-variance", "0.5\n@10", "--out",
                         tmp_path / "run")
    one_line(code, err, "--pixel-variance")
    assert not (tmp_path / "run").exists()



def test_a_probe_of_other_data_under_the_same_name_is_refused(tmp_path, capsys):
    for folder, seed in (("data", 0), ("other", 1)):
        assert jumpdata(capsys, "narratives", "--n", 4, "--test-n", 2, "--size", 32, "--seed", seed, "--out",
                        tmp_path / folder)[0] == 0
    assert jumpdata(capsys, "train", tmp_path / "data", *TRAIN, "--steps", 2, "--out", tmp_path / "run")[0] == 0
    probe = tmp_path / "probe"
    assert jumpdata(capsys, "probe", "train", tmp_path / "other", "--out", probe, "--steps", 2,
                    "--batch-size", 4)[0] == 0
    code, err = jumpdata(capsys, "eval", tmp_path / "run", "--metric", "story", "--samples", 1, "--probe", probe,
                         "--out", tmp_path / "r.json")
    one_line(code, err, f"probe {probe} was trained on other data than 'salesman' in {tmp_path / 'data'}: seed 1 vs 0 "
                        f"(probe vs data)")


def test_a_nan_figure_is_named_and_stops_the_report():
    from jump_model.eval.figures import check_finite
    good = {"metric": "min-mse", "runs": [{"run": "runs/a", "model": "jump", "min_mse": 0.1,
                                           "min_mse_ci95": [0.05, 0.2]}]}
    check_finite([good])
    bad = {"metric": "nelbo", "runs": [{"run": "runs/b", "model": "gqn", "nelbo": 3.0,
                                        "nelbo_ci95": [2.0, float("inf")]}]}
    with pytest.raises(UserError, match=r"nelbo of runs/b: its nelbo_ci95 is inf; no report written"):
        check_finite([good, bad])
    curve = {"metric": "nelbo", "runs": [{"run": "runs/c", "model": "jump",
                                          "nelbo_curve": [{"pixel_variance": 0.5, "nelbo": float("nan")}]}]}
    with pytest.raises(UserError, match=r"its nelbo_curve is nan"):
        check_finite([curve])
