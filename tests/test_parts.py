"""One dataset made in parts (--part K/N) on several machines and joined by `jumpdata merge`."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_for
from test_bad_input import assert_one_line, jumpdata
from test_interrupted_generation import STUCK_SCRIPT
from toy_generator import toy_spec

from scene_shards import UserError, generate_dataset, verify_dataset
from scene_shards.files import sha256_of
from scene_shards.merge import merge_parts
from scene_shards.parts import Part, owned_shards, parse_part

SETTINGS = dict(n=300, test_n=20, seed=3, shard_size=25)   # 12 train shards + 1 test shard

def dataset_files(folder):
    """Return {name: sha256} of the dataset's manifest and shards in `folder`."""
    return {p.name: sha256_of(p) for p in Path(folder).iterdir() if p.name == "toy.json" or p.suffix == ".h5"}


def listed(path):
    try:
        return len(json.loads(Path(path).read_text())["splits"]["train"]["shards"])
    except FileNotFoundError:
        return 0


def test_parts_deal_out_every_shard_once():
    manifest = {"dataset": "toy", "splits": {"train": {"shard_count": 12}, "test": {"shard_count": 1}}}
    parts = [owned_shards(manifest, Part(k, 3)) for k in (1, 2, 3)]
    assert sorted(len(p) for p in parts) == [4, 4, 5]
    assert set.union(*parts) == owned_shards(manifest, None) and len(owned_shards(manifest, None)) == 13
    assert "toy-train-00001-of-00012.h5" in parts[1] and "toy-test-00000-of-00001.h5" in parts[0]


def test_three_parts_one_killed_and_rerun_merge_to_the_one_machine_bytes(tmp_path, capsys):
    whole = tmp_path / "whole"
    generate_dataset(toy_spec(), whole, workers=2, **SETTINGS)
    shared = tmp_path / "shared"
    generate_dataset(toy_spec(), shared, workers=1, part=Part(1, 3), **SETTINGS)
    # part 2/3 whose pool worker never returns a scene from 100 on: it completes its shard of scenes 25-49 (and
    # perhaps the next, 100-124, made by the driver itself), then hangs holding its lock; merge now, then kill it
    proc = subprocess.Popen([sys.executable, "-c", STUCK_SCRIPT.format(
        tests=str(Path(__file__).parent), out=str(shared), stuck_from=100, settings={**SETTINGS, "part": Part(2, 3)})],
        start_new_session=True)
    try:
        wait_for(lambda: listed(shared / "toy.part-2-of-3.json") >= 1, proc)
        separate = tmp_path / "machine3"   # part 3 on a machine of its own, merged from its folder
        generate_dataset(toy_spec(), separate, workers=2, part=Part(3, 3), **SETTINGS)
        code, err = jumpdata(capsys, "merge", shared, "--from", separate)
        assert_one_line(code, err, "part 2/3 of 'toy'")
        assert "still being written" in err and not (shared / "toy.json").exists()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    code, err = jumpdata(capsys, "merge", shared, "--from", separate)
    assert_one_line(code, err, "part 2/3 of 'toy'")
    assert re.search(r"incomplete \([12] of 4 shards\)", err) and not (shared / "toy.json").exists()
    generate_dataset(toy_spec(), shared, workers=2, part=Part(2, 3), **SETTINGS)   # the re-run resumes
    merged = merge_parts(shared, sources=[separate])
    assert merged == json.loads((whole / "toy.json").read_text())
    assert dataset_files(shared) == dataset_files(whole)
    assert verify_dataset(shared, "toy") == []
    assert not [p.name for p in shared.iterdir() if ".tmp-" in p.name or p.suffix == ".lock"]


def test_merging_again_changes_nothing(tmp_path, capsys):
    for k in (1, 2):
        generate_dataset(toy_spec(), tmp_path, workers=1, part=Part(k, 2), n=20, test_n=4, seed=0, shard_size=8)
    code, err = jumpdata(capsys, "info", tmp_path)
    assert_one_line(code, err, "holds no jumpdata dataset (no manifest NAME.json); it holds parts (--part K/N)")
    first = merge_parts(tmp_path)
    code, _ = jumpdata(capsys, "info", tmp_path)
    assert code == 0
    before = dataset_files(tmp_path)
    assert merge_parts(tmp_path, "toy") == first and dataset_files(tmp_path) == before


@pytest.mark.parametrize("change, message", [
    ({"seed": 4}, "other settings than part 1/2 (seed)"),
    ({"size": 9}, "other settings than part 1/2 (config, frame_shape)"),
    ({"n": 24}, "other settings than part 1/2 (train scenes)"),
])
def test_parts_of_other_settings_are_refused_and_nothing_is_written(tmp_path, capsys, change, message):
    base = dict(n=20, test_n=4, seed=0, shard_size=8)
    generate_dataset(toy_spec(), tmp_path, workers=1, part=Part(1, 2), **base)
    other = {**base, **{k: v for k, v in change.items() if k != "size"}}
    generate_dataset(toy_spec(size=change.get("size", 8)), tmp_path, workers=1, part=Part(2, 2), **other)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, err = jumpdata(capsys, "merge", tmp_path)
    assert_one_line(code, err, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_missing_and_mixed_parts_are_named(tmp_path):
    base = dict(n=20, test_n=4, seed=0, shard_size=8)
    generate_dataset(toy_spec(), tmp_path, workers=1, part=Part(1, 3), **base)
    with pytest.raises(UserError, match=r"part 2/3 of 'toy' is missing \(2 of 3 parts missing\)"):
        merge_parts(tmp_path)
    generate_dataset(toy_spec(), tmp_path, workers=1, part=Part(2, 2), **base)
    with pytest.raises(UserError, match="one of 3 parts, part 2/2 one of 2"):
        merge_parts(tmp_path)
    with pytest.raises(UserError, match="no parts"):
        merge_parts(tmp_path / "..")
    assert not (tmp_path / "toy.json").exists()


def test_a_damaged_part_shard_is_named_before_anything_is_written(tmp_path):
    for k in (1, 2):
        generate_dataset(toy_spec(), tmp_path / f"m{k}", workers=1, part=Part(k, 2), n=20, test_n=4, seed=0,
                         shard_size=8)
    victim = tmp_path / "m2" / "toy-train-00001-of-00003.h5"
    victim.write_bytes(victim.read_bytes()[:-1])
    with pytest.raises(UserError, match="toy-train-00001-of-00003.h5 of part 2/2 is damaged"):
        merge_parts(tmp_path / "m1", sources=[tmp_path / "m2"])
    assert sorted(p.name for p in (tmp_path / "m1").iterdir()) == sorted(
        ["toy.part-1-of-2.json", "toy-train-00000-of-00003.h5", "toy-train-00002-of-00003.h5"])


@pytest.mark.parametrize("part, message", [
    ("0/3", "K must be between 1 and N (3)"), ("4/3", "K must be between 1 and N (3)"),
    ("2", "write K/N"), ("1/0", "N must be between 1"),
])
def test_bad_part_is_one_line_and_writes_nothing(tmp_path, capsys, part, message):
    code, err = jumpdata(capsys, "narratives", "--n", "4", "--size", "32", "--part", part, "--out", tmp_path / "d")
    assert_one_line(code, err, message)
    assert not (tmp_path / "d").exists()
    with pytest.raises(UserError, match=re.escape(message)):
        parse_part(part)


def test_a_narratives_part_from_the_command_line(tmp_path, capsys):
    args = ["--n", "6", "--test-n", "2", "--size", "32", "--shard-size", "2", "--workers", "1"]
    for k in (1, 2):
        code, _ = jumpdata(capsys, "narratives", *args, "--part", f"{k}/2", "--out", tmp_path / "parts")
        assert code == 0
    code, _ = jumpdata(capsys, "narratives", *args, "--out", tmp_path / "whole")
    assert code == 0
    code, _ = jumpdata(capsys, "merge", tmp_path / "parts")
    assert code == 0
    whole = {p.name: sha256_of(p) for p in (tmp_path / "whole").iterdir()}
    assert {name: sha256_of(tmp_path / "parts" / name) for name in whole} == whole
