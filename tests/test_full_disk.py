"""A full disk (ENOSPC) in every writer: one line on stderr, a non-zero exit, no temporary and no lock file left,
what was complete kept, and the same command finishing once there is space again (tests/full_disk.py)."""

import json

import pytest
from full_disk import hidden_files, jumpdata_on_full_disk

from scene_shards import verify_dataset

GENERATORS = {
    "narratives": ["narratives", "--n", 20, "--test-n", 2, "--size", 32, "--shard-size", 5, "--workers", 2],
    "dice": ["dice", "--n", 6, "--test-n", 2, "--size", 16, "--digits", 10, "--shard-size", 2, "--workers", 1],
}


def one_error_line(proc, status):
    """Assert `proc` exited with `status` after one line on stderr and no traceback; return that line."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == status and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize("generator, dataset", [("narratives", "salesman"), ("dice", "dice")])
def test_a_shard_on_a_full_disk_is_one_line_and_the_rerun_finishes(tmp_path, generator, dataset):
    out = tmp_path / "g"
    proc = jumpdata_on_full_disk(f"{dataset}-train-00002-*", *GENERATORS[generator], "--out", out)
    line = one_error_line(proc, 2)
    assert hidden_files(out) == []   # no temporary shard, the lock released
    assert line.startswith(f"jumpdata: cannot write shard {out}/{dataset}-train-00002-of-")
    assert "[Errno 28] No space left on device" in line and "run the same command again" in line
    listed = [e["file"] for e in json.loads((out / f"{dataset}.json").read_text())["splits"]["train"]["shards"]]
    assert [f.split("-")[2] for f in listed] == ["00000", "00001"]
    assert sorted(p.name for p in out.glob("*.h5")) == sorted(listed)
    again = jumpdata_on_full_disk("no such file", *GENERATORS[generator], "--out", out)
    assert again.returncode == 0, again.stderr
    assert verify_dataset(out, dataset) == []


def test_the_manifest_on_a_full_disk_is_one_line_naming_it(tmp_path):
    out = tmp_path / "g"
    proc = jumpdata_on_full_disk("salesman.json", *GENERATORS["narratives"], "--out", out)
    line = one_error_line(proc, 1)
    assert line == f"jumpdata: [Errno 28] cannot write {out}/salesman.json: No space left on device"
    assert not out.exists()   # the folder it created, empty again, is removed


def test_a_checkpoint_on_a_full_disk_is_one_line_and_releases_the_run_lock(tmp_path):
    from model_scenes import make_square_dataset
    make_square_dataset(tmp_path / "data", views=8, n=8, test_n=6)
    run = tmp_path / "run"
    proc = jumpdata_on_full_disk("checkpoint.pt", "train", tmp_path / "data", "--preset", "tiny", "--batch-size", 4,
                                 "--steps", 2, "--workers", 0, "--context", 2, "--targets", 2, "--out", run)
    line = one_error_line(proc, 2)
    assert line == f"jumpdata: cannot save checkpoint {run}/checkpoint.pt: [Errno 28] No space left on device"
    assert hidden_files(run) == [] and not (run / "checkpoint.pt").exists()   # no temporary, the lock released
