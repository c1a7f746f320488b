"""The TFRecord framing and tf.train.Example codec of gqn_records, checked against protobuf's own Example class
and the `tfrecord` package's CRC (both independent of the code under test)."""

import struct

import numpy as np
import pytest
from tfrecord import example_pb2
from tfrecord.writer import TFRecordWriter

from gqn_records.example import bytes_values, decode_example, float_values
from gqn_records.framing import index_records
from gqn_records.scenes import record_to_scene, scene_to_record
from scene_shards.common import UserError


def test_exported_records_are_examples_protobuf_parses_with_valid_checksums(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(3, 8, 8, 3), dtype=np.uint8)
    cameras = rng.normal(size=(3, 5)).astype(np.float32)
    record = scene_to_record(frames, cameras, quality=90)
    length = struct.unpack("<Q", record[:8])[0]
    data = record[12:12 + length]
    assert len(record) == 12 + length + 4
    assert record[8:12] == TFRecordWriter.masked_crc(record[:8]) and record[-4:] == TFRecordWriter.masked_crc(data)
    example = example_pb2.Example.FromString(data)
    feature = example.features.feature
    assert len(feature["frames"].bytes_list.value) == 3
    assert np.array_equal(np.array(feature["cameras"].float_list.value, np.float32), cameras.ravel())
    scene = record_to_scene(data, 3, 8, "r")
    assert np.array_equal(scene["viewpoints"], cameras) and np.abs(scene["frames"].astype(int) - frames).mean() < 40


def test_decoder_reads_what_protobuf_writes_unknown_features_and_unpacked_floats():
    example = example_pb2.Example()
    feature = example.features.feature
    feature["frames"].bytes_list.value.extend([b"a", b"", b"\xff" * 300])
    feature["cameras"].float_list.value.extend([1.5, -2.0, 3.25])
    feature["label"].int64_list.value.extend([7, -1])
    features = decode_example(example.SerializeToString())
    assert set(features) == {"frames", "cameras", "label"} and features["label"][0] == "int64"
    assert bytes_values(features["frames"][1]) == [b"a", b"", b"\xff" * 300]
    assert float_values(features["cameras"][1]).tolist() == [1.5, -2.0, 3.25]
    unpacked = b"".join(b"\x0d" + struct.pack("<f", v) for v in (0.5, 4.0))   # field 1, wire type 5, twice
    assert float_values(unpacked).tolist() == [0.5, 4.0]


@pytest.mark.parametrize("data", [b"\x0a\x05abc", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x0b"])
def test_malformed_examples_raise_value_error(data):
    with pytest.raises(ValueError):
        decode_example(data)


def test_index_of_an_empty_file_and_of_a_header_cut_short(tmp_path):
    empty = tmp_path / "empty.tfrecord"
    empty.write_bytes(b"")
    offsets, lengths = index_records(empty)
    assert offsets.size == 0 and lengths.size == 0
    cut = tmp_path / "cut.tfrecord"
    cut.write_bytes(b"\x01\x02\x03")
    with pytest.raises(UserError, match=r"cut.tfrecord: record 0 is truncated \(the file ends inside its header\)"):
        index_records(cut)
