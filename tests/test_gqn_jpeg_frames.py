"""`import-gqn --frames jpeg`: each view's JPEG file kept in the shard (format version 3), decoded when read, so
frames, `info`, `show`, `train` and `export` see exactly the pixels of an import with decoded frames."""

import json
import math

import h5py
import numpy as np
import pytest
from gqn_sources import write_gqn_dataset
from PIL import Image
from test_bad_input import jumpdata
from tfrecord.reader import tfrecord_loader

from gqn_records.importer import import_gqn
from scene_shards import open_dataset, verify_dataset
from scene_shards.common import UserError
from scene_shards.files import sha256_of

RECORDS = {"train": [4, 3], "test": [2]}
VIEWS = 6


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A source of 7 train and 2 test scenes of 6 views of 16x16, imported with decoded frames and with JPEGs."""
    root = tmp_path_factory.mktemp("jpeg")
    write_gqn_dataset(root / "src", "rooms", RECORDS, views=VIEWS, size=16)
    import_gqn(root / "src", "rooms", root / "pixels", workers=1, shard_size=3)
    import_gqn(root / "src", "rooms", root / "jpeg", workers=2, shard_size=3, frames="jpeg")
    return root


def test_the_shards_keep_the_source_jpeg_files_and_say_so(imported):
    m = json.loads((imported / "jpeg" / "rooms.json").read_text())
    assert m["frame_encoding"] == "jpeg" and m["format_version"] == 3
    assert "frame_encoding" not in json.loads((imported / "pixels" / "rooms.json").read_text())
    source = [r["frames"] for r in tfrecord_loader(str(imported / "src" / "rooms" / "train" / "1-of-2.tfrecord"),
                                                   None, {"frames": "byte"})]
    with h5py.File(imported / "jpeg" / m["splits"]["train"]["shards"][0]["file"], "r") as h5:
        assert h5.attrs["frame_encoding"] == "jpeg" and h5.attrs["format_version"] == 3
        assert h5["frames"].shape == (3, VIEWS) and h5py.check_vlen_dtype(h5["frames"].dtype) == np.uint8
        for row in range(3):   # one element per view: the source's JPEG file, byte for byte
            assert [bytes(view) for view in h5["frames"][row]] == [bytes(j) for j in source[row]]


def test_frames_are_the_pixels_of_a_decoded_import(imported):
    for split in ("train", "test"):
        pixels, jpeg = open_dataset(imported / "pixels", split=split), open_dataset(imported / "jpeg", split=split)
        assert len(jpeg) == len(pixels) == sum(RECORDS[split])
        for j in range(len(jpeg)):
            frames = jpeg.frames(j)
            assert frames.dtype == np.uint8 and frames.shape == (VIEWS, 16, 16, 3) and frames.flags.writeable
            assert np.array_equal(frames, pixels.frames(j))
            assert np.array_equal(jpeg.frames(j, [4, 1]), pixels.frames(j)[[4, 1]])   # only the views asked for
            assert np.array_equal(jpeg.viewpoints(j), pixels.viewpoints(j))


def test_same_bytes_for_any_worker_count(imported, tmp_path):
    import_gqn(imported / "src", "rooms", tmp_path, workers=1, shard_size=3, frames="jpeg")
    for path in sorted((imported / "jpeg").glob("*.h5")):
        assert sha256_of(tmp_path / path.name) == sha256_of(path)
    assert (tmp_path / "rooms.json").read_text() == (imported / "jpeg" / "rooms.json").read_text()


def test_info_verifies_it_and_a_rerun_with_decoded_frames_is_refused(imported, capsys):
    code, err = jumpdata(capsys, "info", imported / "jpeg")
    assert code == 0, err
    assert verify_dataset(imported / "jpeg", "rooms") == []
    code, err = jumpdata(capsys, "import-gqn", imported / "src", "--dataset", "rooms", "--out", imported / "jpeg",
                         "--shard-size", "3")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "format_version" in err


def test_size_with_kept_jpegs_is_one_line(imported, capsys, tmp_path):
    code, err = jumpdata(capsys, "import-gqn", imported / "src", "--dataset", "rooms", "--out", tmp_path / "out",
                         "--frames", "jpeg", "--size", "8")
    assert code != 0 and err.strip() == ("jumpdata: --size 8: --frames jpeg keeps the source's 16x16 JPEG files as "
                                         "they are; resize with --frames pixels")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_damaged_jpeg_in_a_shard_names_the_shard(imported, tmp_path):
    import shutil
    shutil.copytree(imported / "jpeg", tmp_path / "copy")
    shard = tmp_path / "copy" / "rooms-test-00000-of-00001.h5"
    with h5py.File(shard, "r+") as h5:   # a view whose file is not a JPEG (the sha256 no longer matches either)
        row = h5["frames"][1]
        row[2] = np.frombuffer(b"not a jpeg at all", np.uint8)
        h5["frames"][1] = row
    ds = open_dataset(tmp_path / "copy", split="test")
    assert ds.frames(0).shape == (VIEWS, 16, 16, 3)
    with pytest.raises(UserError, match=r"cannot read scene 1 from shard .*rooms-test-00000-of-00001\.h5"):
        ds.frames(1)


def test_a_manifest_whose_encoding_and_version_disagree_is_damaged(imported, tmp_path, capsys):
    import shutil
    shutil.copytree(imported / "jpeg", tmp_path / "copy")
    path = tmp_path / "copy" / "rooms.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), format_version=2)))
    code, err = jumpdata(capsys, "info", tmp_path / "copy")
    assert code != 0 and "frame_encoding 'jpeg' does not go with format version 2" in err


def test_it_trains_a_few_steps(imported, capsys):
    out = imported / "run"
    code, err = jumpdata(capsys, "train", imported / "jpeg", "--out", out, "--steps", "2", "--batch-size", "2",
                         "--log-every", "1", "--sample-every", "2", "--eval-every", "2", "--checkpoint-every", "2",
                         "--device", "cpu", "--workers", "1")   # a DataLoader worker process decodes the JPEGs
    assert code == 0, err
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines if "loss" in m][-1] == 2 and all(math.isfinite(m["loss"]) for m in lines
                                                                       if "loss" in m)


def test_show_draws_it_as_the_decoded_import(imported, capsys):
    pictures = []
    for mode in ("pixels", "jpeg"):
        pictures.append(imported / f"{mode}.png")
        code, err = jumpdata(capsys, "show", imported / mode, "--scenes", "0-2", "--out", pictures[-1])
        assert code == 0, err
    with Image.open(pictures[0]) as a, Image.open(pictures[1]) as b:
        assert a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


def test_export_round_trips(imported, capsys):
    code, err = jumpdata(capsys, "export", imported / "jpeg", "--format", "gqn-tfrecord", "--out",
                         imported / "gqn", "--quality", "95")
    assert code == 0, err
    import_gqn(imported / "gqn", "rooms", imported / "back", workers=1)
    for split in ("train", "test"):
        original, back = open_dataset(imported / "jpeg", split=split), open_dataset(imported / "back", split=split)
        for j in range(len(original)):
            assert np.array_equal(back.viewpoints(j), original.viewpoints(j))
            assert np.abs(back.frames(j).astype(int) - original.frames(j)).mean() < 2   # within JPEG error
