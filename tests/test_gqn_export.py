"""`jumpdata export`: our datasets as DeepMind's GQN TFRecords (read back here with the `tfrecord` package and
through import-gqn) and as gqnlib's `.pt.gz` scene files; cameras raw, the conventions recorded."""

import gzip
import io
import json

import h5py
import numpy as np
import pytest
import torch
from model_scenes import make_square_dataset
from PIL import Image
from test_bad_input import jumpdata
from tfrecord.reader import tfrecord_loader

from gqn_records.export import export_dataset
from gqn_records.importer import import_gqn
from scene_shards import open_dataset


@pytest.fixture
def cameras_dataset(tmp_path):
    """The moving-square dataset (6 views of 16x16, camera viewpoints), 24 train and 8 test scenes."""
    make_square_dataset(tmp_path / "shards", kind="camera")
    return tmp_path / "shards"


def test_tfrecord_export_has_deepminds_layout_and_reads_back(tmp_path, capsys, cameras_dataset):
    code, err = jumpdata(capsys, "export", cameras_dataset, "--format", "gqn-tfrecord", "--out", tmp_path / "gqn",
                         "--scenes-per-file", "10", "--quality", "95")
    assert code == 0, err
    root = tmp_path / "gqn" / "squares"
    assert sorted(p.name for p in (root / "train").iterdir()) == ["1-of-3.tfrecord", "2-of-3.tfrecord",
                                                                  "3-of-3.tfrecord"]
    assert sorted(p.name for p in (root / "test").iterdir()) == ["1-of-1.tfrecord"]
    meta = json.loads((root / "jumpdata-export.json").read_text())
    assert meta["jpeg_quality"] == 95 and meta["camera_convention"].startswith("raw-5")
    assert meta["deepmind_dataset_info"] == ("squares=DatasetInfo(basepath='squares', train_size=3, test_size=1, "
                                             "frame_size=16, sequence_size=6)")
    ours = open_dataset(cameras_dataset, "squares", "train")
    records = [r for i in (1, 2, 3) for r in tfrecord_loader(str(root / "train" / f"{i}-of-3.tfrecord"), None,
                                                              {"frames": "byte", "cameras": "float"})]
    assert len(records) == 24
    for j, record in enumerate(records):   # what a TensorFlow reader parses: V JPEGs, V * 5 raw floats
        assert len(record["frames"]) == 6 and record["cameras"].shape == (30,)
        assert np.array_equal(record["cameras"].reshape(6, 5), ours.viewpoints(j))
        decoded = np.stack([np.asarray(Image.open(io.BytesIO(f)).convert("RGB")) for f in record["frames"]])
        assert np.abs(decoded.astype(int) - ours.frames(j)).mean() < 2

    import_gqn(tmp_path / "gqn", "squares", tmp_path / "back", workers=2)
    for split in ("train", "test"):
        a, b = open_dataset(cameras_dataset, "squares", split), open_dataset(tmp_path / "back", "squares", split)
        assert len(a) == len(b)
        for j in range(len(a)):
            assert np.array_equal(a.viewpoints(j), b.viewpoints(j))
            error = np.abs(a.frames(j).astype(int) - b.frames(j))
            assert error.mean() < 2 and error.max() < 64      # JPEG error at quality 95, 4:4:4


def test_time_viewpoints_become_cameras_t_0_0_0_0(tmp_path):
    make_square_dataset(tmp_path / "shards", kind="time", n=5, test_n=1)
    export_dataset(tmp_path / "shards", None, "gqn-tfrecord", tmp_path / "gqn")
    meta = json.loads((tmp_path / "gqn" / "squares" / "jumpdata-export.json").read_text())
    assert "[t, 0, 0, 0, 0]" in meta["time_viewpoints"]
    import_gqn(tmp_path / "gqn", "squares", tmp_path / "back")
    cameras = open_dataset(tmp_path / "back", "squares", "train").viewpoints(2)
    assert np.array_equal(cameras[:, 0], np.arange(6)) and not cameras[:, 1:].any()


def load_gqnlib_file(path):
    """Load one gqnlib scene file with torch.load(weights_only=True), allowing only numpy's array types."""
    allowed = [np.dtype, np.ndarray, np.dtypes.Float32DType, np._core.multiarray._reconstruct]
    with gzip.open(path, "rb") as f, torch.serialization.safe_globals(allowed):
        return torch.load(f, weights_only=True)


def test_gqnlib_export_is_what_scene_dataset_reads(tmp_path, capsys, cameras_dataset):
    code, err = jumpdata(capsys, "export", cameras_dataset, "--format", "gqnlib", "--out", tmp_path / "lib",
                         "--scenes-per-file", "10")
    assert code == 0, err
    folder = tmp_path / "lib" / "squares" / "train"
    files = sorted(folder.glob("*.pt.gz"))   # gqnlib's SceneDataset: sorted(root.glob("*.pt.gz"))
    assert [p.name for p in files] == ["squares-1.pt.gz", "squares-2.pt.gz", "squares-3.pt.gz"]
    ours = open_dataset(cameras_dataset, "squares", "train")
    scenes = [pair for p in files for pair in load_gqnlib_file(p)]
    assert len(scenes) == 24
    for j, (frames, cameras) in enumerate(scenes):
        assert frames.dtype == np.float32 and frames.shape == (6, 16, 16, 3)     # (m, h, w, c), in [0, 1]
        assert np.array_equal(frames, ours.frames(j).astype(np.float32) / 255)
        assert cameras.dtype == np.float32 and np.array_equal(cameras, ours.viewpoints(j))
    images = torch.stack([torch.from_numpy(f) for f, _ in scenes[:10]]).permute(0, 1, 4, 2, 3)
    assert images.shape == (10, 6, 3, 16, 16)   # what SceneDataset makes of one file before batching
    meta = json.loads((tmp_path / "lib" / "squares" / "jumpdata-export.json").read_text())
    assert meta["frames"] == "float32 [V, H, W, 3] in [0, 1]" and meta["camera_convention"].startswith("raw-5")


def test_export_refuses_an_existing_target_and_leaves_nothing_when_it_fails(tmp_path, capsys, cameras_dataset):
    (tmp_path / "gqn" / "squares").mkdir(parents=True)
    code, err = jumpdata(capsys, "export", cameras_dataset, "--format", "gqn-tfrecord", "--out", tmp_path / "gqn")
    assert code == 2 and err.count("\n") == 1 and "squares exists; choose another --out" in err
    shard = sorted(cameras_dataset.glob("squares-train-*.h5"))[1]
    with h5py.File(shard) as f:
        offset = f["frames"].id.get_chunk_info(3).byte_offset
    data = bytearray(shard.read_bytes())
    data[offset:offset + 40] = bytes(40)   # zero the start of a scene's compressed chunk
    shard.write_bytes(bytes(data))
    code, err = jumpdata(capsys, "export", cameras_dataset, "--format", "gqn-tfrecord", "--out", tmp_path / "new")
    assert code != 0 and err.count("\n") == 1 and shard.name in err, err
    assert list((tmp_path / "new").iterdir()) == []
