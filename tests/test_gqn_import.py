"""`jumpdata import-gqn`: GQN TFRecords (written here by the `tfrecord` package and PIL, not by the code under
test) become shards with the same frames, the raw cameras, the splits and per-file counts; damaged input is one
line, nothing half-written; an interrupted import resumes to the same bytes for any worker count."""

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import wait_for
from gqn_sources import gqn_name, gqn_scene, write_gqn_dataset, write_records
from PIL import Image
from test_bad_input import jumpdata
from tfrecord import TFRecordWriter

from gqn_records.importer import import_gqn
from scene_shards import open_dataset, verify_dataset
from scene_shards.files import TMP_MARK, sha256_of

RECORDS = {"train": [3, 2, 4], "test": [2]}


def pil_decoded(jpegs_of_scene):
    return np.stack([np.asarray(Image.open(io.BytesIO(j)).convert("RGB")) for j in jpegs_of_scene])


@pytest.fixture
def source(tmp_path):
    """A gqn-datasets folder of dataset 'toyrooms' (4 views of 16x16): train files of 3, 2, 4 scenes, test 2."""
    return tmp_path / "src", write_gqn_dataset(tmp_path / "src", "toyrooms", RECORDS)


def test_import_keeps_frames_cameras_splits_and_counts(tmp_path, source):
    src, written = source
    import_gqn(src, "toyrooms", tmp_path / "out", shard_size=4, workers=2)
    m = json.loads((tmp_path / "out" / "toyrooms.json").read_text())
    assert m["generator"] == "gqn" and m["config"]["source_dataset"] == "toyrooms"
    assert m["config"]["camera_convention"].startswith("raw-5")
    assert m["config"]["files"]["train"] == [{"file": "1-of-3.tfrecord", "records": 3},
                                             {"file": "2-of-3.tfrecord", "records": 2},
                                             {"file": "3-of-3.tfrecord", "records": 4}]
    assert m["config"]["files"]["test"] == [{"file": "1-of-1.tfrecord", "records": 2}]
    assert m["viewpoint_kind"] == "camera" and m["frame_shape"] == [16, 16, 3] and m["views_per_scene"] == 4
    for split in ("train", "test"):
        ds = open_dataset(tmp_path / "out", "toyrooms", split)
        assert len(ds) == sum(RECORDS[split])
        for j, (frames, cameras) in enumerate(written[split]):
            got = ds.frames(j)
            assert np.abs(got.astype(int) - frames).mean() < 2      # the JPEG error of the source, no more
            assert np.array_equal(ds.viewpoints(j), cameras)          # raw cameras, bit for bit
    assert verify_dataset(tmp_path / "out", "toyrooms") == []


def test_frames_are_the_pixels_pil_decodes(tmp_path, source):
    src, _ = source
    import_gqn(src, "toyrooms", tmp_path / "out", splits=("test",), workers=1)
    from tfrecord.reader import tfrecord_loader
    records = list(tfrecord_loader(str(src / "toyrooms" / "test" / "1-of-1.tfrecord"), None, {"frames": "byte"}))
    ds = open_dataset(tmp_path / "out", "toyrooms", "test")
    assert len(records) == len(ds) == 2
    for j, record in enumerate(records):
        assert len(record["frames"]) == 4
        assert np.array_equal(ds.frames(j), pil_decoded(record["frames"]))


def test_size_resizes_every_frame_by_area_and_says_so(tmp_path, capsys, source):
    src, written = source
    for workers in ("1", "2"):
        code, err = jumpdata(capsys, "import-gqn", src, "--dataset", "toyrooms", "--size", "8", "--workers", workers,
                             "--out", tmp_path / f"out{workers}")
        assert code == 0, err
    m = json.loads((tmp_path / "out1" / "toyrooms.json").read_text())
    assert m["frame_shape"] == [8, 8, 3] and m["config"]["frame_size"] == 16 and m["config"]["size"] == 8
    assert m["config"]["resize"].startswith("area")
    from tfrecord.reader import tfrecord_loader
    records = list(tfrecord_loader(str(src / "toyrooms" / "test" / "1-of-1.tfrecord"), None, {"frames": "byte"}))
    ds = open_dataset(tmp_path / "out1", "toyrooms", "test")
    for j, record in enumerate(records):   # 16 -> 8: each pixel the mean of the 2x2 source pixels it covers
        source_pixels = pil_decoded(record["frames"]).astype(float)
        means = source_pixels.reshape(4, 8, 2, 8, 2, 3).mean(axis=(2, 4))
        assert np.abs(ds.frames(j) - means).max() <= 1   # PIL works in fixed point: within one level
    assert [sha256_of(p) for p in sorted((tmp_path / "out1").glob("*.h5"))] == \
        [sha256_of(p) for p in sorted((tmp_path / "out2").glob("*.h5"))]
    code, err = jumpdata(capsys, "import-gqn", src, "--dataset", "toyrooms", "--size", "16", "--out", tmp_path / "same")
    assert code == 0, err   # the source's own size: no resizing, the manifest of a plain import
    assert "resize" not in json.loads((tmp_path / "same" / "toyrooms.json").read_text())["config"]


def test_one_split_and_a_file_range(tmp_path, capsys, source):
    src, written = source
    code, err = jumpdata(capsys, "import-gqn", src, "--dataset", "toyrooms", "--split", "train", "--files", "2-3",
                         "--out", tmp_path / "out", "--name", "part")
    assert code == 0, err
    m = json.loads((tmp_path / "out" / "part.json").read_text())
    assert m["splits"]["train"]["scenes"] == 6 and m["splits"]["test"]["scenes"] == 0
    assert [f["file"] for f in m["config"]["files"]["train"]] == ["2-of-3.tfrecord", "3-of-3.tfrecord"]
    ds = open_dataset(tmp_path / "out", "part", "train")
    assert np.array_equal(ds.viewpoints(0), written["train"][3][1])   # file 2 starts with scene 3 of the split


def test_same_bytes_for_any_worker_count_and_the_command_line(tmp_path, capsys, source):
    src, _ = source
    import_gqn(src, "toyrooms", tmp_path / "one", workers=1, shard_size=3)
    code, err = jumpdata(capsys, "import-gqn", src, "--dataset", "toyrooms", "--out", tmp_path / "two",
                         "--workers", "2", "--shard-size", "3")
    assert code == 0, err
    shards = sorted(p.name for p in (tmp_path / "one").glob("*.h5"))
    assert len(shards) == 4 and shards == sorted(p.name for p in (tmp_path / "two").glob("*.h5"))
    for name in shards:
        assert sha256_of(tmp_path / "one" / name) == sha256_of(tmp_path / "two" / name)


def test_a_known_dataset_is_checked_against_deepminds_table(tmp_path, capsys):
    write_gqn_dataset(tmp_path / "src", "rooms_ring_camera", {"train": [2, 1]}, views=10, size=64)
    folder = tmp_path / "src" / "rooms_ring_camera" / "train"
    for i in (1, 2):   # DeepMind's names for files 1 and 2 of the 2160 training files
        (folder / gqn_name(i, 2)).rename(folder / f"{i:04d}-of-2160.tfrecord")
    code, err = jumpdata(capsys, "import-gqn", tmp_path / "src", "--dataset", "rooms_ring_camera", "--split", "train",
                         "--out", tmp_path / "out")
    assert code == 2 and "2158 of the 2160 files to import are missing (first: 0003-of-2160.tfrecord)" in err
    code, err = jumpdata(capsys, "import-gqn", tmp_path / "src", "--dataset", "rooms_ring_camera", "--split", "train",
                         "--files", "1-2", "--out", tmp_path / "out")
    assert code == 0, err
    ds = open_dataset(tmp_path / "out", "rooms_ring_camera", "train")
    assert len(ds) == 3 and ds.frame_shape == (64, 64, 3) and ds.views_per_scene == 10


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:-10])


def _flip(offset):
    def flip(path):
        data = bytearray(path.read_bytes())
        data[offset if offset >= 0 else len(data) + offset] ^= 0x40
        path.write_bytes(bytes(data))
    return flip


def _wrong_count(frames_kept, cameras_kept):
    def rewrite(path):
        rng = np.random.default_rng(5)
        scenes = [gqn_scene(rng, 4, 16) for _ in range(4)]
        frames, cameras = scenes[2]
        scenes[2] = (frames[:frames_kept], cameras.ravel()[:cameras_kept])
        write_records(path, scenes)
    return rewrite


# Damage to file 3 of the train split (scenes 5..8; shard_size 4: shard 0 = scenes 0..3 can complete first).
DAMAGE = [
    (_truncate, "3-of-3.tfrecord: record 3 is truncated (the file ends inside its data)", True),
    (_flip(3), "3-of-3.tfrecord: record 0 is damaged (its length checksum fails)", True),
    (_flip(-100), "3-of-3.tfrecord: record 3 is damaged (its data checksum fails)", False),
    (_wrong_count(3, 20), "3-of-3.tfrecord: record 2 holds 3 frames, expected 4", False),
    (_wrong_count(4, 19), "3-of-3.tfrecord: record 2 holds 19 camera values, expected 4 x 5 = 20", False),
    (lambda path: path.unlink(), "1 of the 3 files to import are missing (first: 3-of-3.tfrecord)", True),
]


@pytest.mark.parametrize("damage, message, before_writing", DAMAGE, ids=[
    "truncated", "length-crc", "data-crc", "frames", "cameras", "missing"])
def test_damaged_input_is_one_line_and_nothing_half_written(tmp_path, capsys, source, damage, message,
                                                             before_writing):
    src, _ = source
    damage(src / "toyrooms" / "train" / "3-of-3.tfrecord")
    out = tmp_path / "out"
    code, err = jumpdata(capsys, "import-gqn", src, "--dataset", "toyrooms", "--out", out, "--shard-size", "4",
                         "--workers", "2")
    assert code == 2 and err.count("\n") == 1 and message in err, err
    if before_writing:   # found while indexing: nothing is written at all
        assert not out.exists() or not any(out.iterdir())
        return
    on_disk = {p.name for p in out.iterdir()}
    assert not [n for n in on_disk if TMP_MARK in n]
    listed = {e["file"] for s in json.loads((out / "toyrooms.json").read_text())["splits"].values() for e in s["shards"]}
    assert on_disk - {"toyrooms.json"} == listed and "toyrooms-train-00000-of-00003.h5" in listed
    assert "toyrooms-train-00002-of-00003.h5" not in listed   # the shard of the damaged record (scene 7 or 8)
    problems = verify_dataset(out, "toyrooms")   # incomplete, and said so; every listed shard intact
    assert problems and all(p.endswith("not generated yet") for p in problems), problems


def test_not_a_gqn_folder_and_bad_ranges_are_one_line(tmp_path, capsys, source):
    src, _ = source
    for argv, message in [
        ([tmp_path, "--dataset", "toyrooms"], "holds no toyrooms/train or toyrooms/test folder"),
        ([src, "--dataset", "toyrooms", "--files", "3-2"], "is not a file range A-B"),
        ([src, "--dataset", "toyrooms", "--files", "1-5"], "--files 1-5: train has only 3 files"),
    ]:
        code, err = jumpdata(capsys, "import-gqn", *argv, "--out", tmp_path / "out")
        assert code == 2 and err.count("\n") == 1 and message in err, err


def test_a_record_that_is_not_an_example_is_named(tmp_path, capsys, source):
    src, _ = source
    path = src / "toyrooms" / "test" / "1-of-1.tfrecord"
    writer = TFRecordWriter(str(path))
    writer.write({"pixels": ([b"\xff\xd8"], "byte")})
    writer.close()
    code, err = jumpdata(capsys, "import-gqn", src, "--dataset", "toyrooms", "--split", "test", "--out", tmp_path / "o")
    assert code == 2 and "1-of-1.tfrecord: record 0 has no 'frames' feature (not a GQN record)" in err, err


# An import that cannot finish: scenes from 4 on never come from a pool worker, so the test can kill it with shard 0
# complete (the driver makes scenes too; it is left unstuck, so it writes on while the worker hangs).
STUCK_IMPORT = """
import os, sys, threading
sys.path.insert(0, {tests!r})
PARENT = os.getpid()
from gqn_records.importer import gqn_spec
from scene_shards import generate_dataset
spec, scenes = gqn_spec({src!r}, "toyrooms", "toyrooms", ("train", "test"), None)
read = spec.range_maker
def stuck(config):
    make_range = read(config)
    def maybe_stuck(split, first, count):
        if split == "train" and first >= 4 and os.getpid() != PARENT:
            threading.Event().wait()
        return make_range(split, first, count)
    return maybe_stuck
spec.range_maker = stuck
generate_dataset(spec, {out!r}, n=scenes["train"], test_n=scenes["test"], workers=2, shard_size=4)
"""


def test_kill_then_rerun_gives_the_same_bytes(tmp_path, source):
    src, _ = source
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", STUCK_IMPORT.format(tests=str(Path(__file__).parent),
                                                                       src=str(src), out=str(out))],
                            start_new_session=True)

    def first_shard_listed():
        try:
            return bool(json.loads((out / "toyrooms.json").read_text())["splits"]["train"]["shards"])
        except (FileNotFoundError, json.JSONDecodeError):
            return False
    wait_for(first_shard_listed, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    import_gqn(src, "toyrooms", out, workers=2, shard_size=4)
    import_gqn(src, "toyrooms", tmp_path / "whole", workers=1, shard_size=4)
    names = sorted(p.name for p in (tmp_path / "whole").iterdir())
    assert names == sorted(p.name for p in out.iterdir())
    for name in names:
        if name.endswith(".h5"):
            assert sha256_of(out / name) == sha256_of(tmp_path / "whole" / name)
    assert verify_dataset(out, "toyrooms") == []


def test_frames_of_another_size_than_the_table_says_are_named(tmp_path, capsys):
    write_gqn_dataset(tmp_path / "src", "shepard_metzler_5_parts", {"test": [1]}, views=15, size=32)
    folder = tmp_path / "src" / "shepard_metzler_5_parts" / "test"
    (folder / gqn_name(1, 1)).rename(folder / "001-of-100.tfrecord")
    code, err = jumpdata(capsys, "import-gqn", tmp_path / "src", "--dataset", "shepard_metzler_5_parts", "--split",
                         "test", "--files", "1-1", "--out", tmp_path / "out")
    assert code == 2 and "001-of-100.tfrecord: record 0: frame 0 is 32x32 pixels, expected 64x64" in err, err
