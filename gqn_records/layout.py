"""The gqn-datasets layout (deepmind/gqn-datasets, data_reader.py), its datasets, and the camera conventions.

    <root>/<dataset>/<train|test>/<i>-of-<N>.tfrecord     i = 1..N, both zero-padded to the width of N

Each record is an Example with `frames`, a bytes list of `sequence_size` JPEG images of
frame_size x frame_size pixels, and `cameras`, a float list of sequence_size * 5 raw values.
"""

import re
from collections import namedtuple

GqnDataset = namedtuple("GqnDataset", ["frame_size", "sequence_size", "train_files", "test_files"])

#: DeepMind's datasets: frame side in pixels, views per scene, files per split (data_reader.py).
GQN_DATASETS = {
    "jaco": GqnDataset(64, 11, 3600, 400),
    "mazes": GqnDataset(84, 300, 1080, 120),
    "rooms_free_camera_with_object_rotations": GqnDataset(128, 10, 2034, 226),
    "rooms_ring_camera": GqnDataset(64, 10, 2160, 240),
    "rooms_free_camera_no_object_rotations": GqnDataset(64, 10, 2160, 240),
    "shepard_metzler_5_parts": GqnDataset(64, 15, 900, 100),
    "shepard_metzler_7_parts": GqnDataset(64, 15, 900, 100),
}

FRAMES_KEY, CAMERAS_KEY = "frames", "cameras"
CAMERA_PARAMS = 5
FILE_NAME = re.compile(r"(\d+)-of-(\d+)\.tfrecord")

#: The camera conventions, named as the metadata of imports and exports records them (docs/format.md).
RAW_CAMERA = "raw-5: [x, y, z, yaw, pitch], radians"
DEEPMIND_CAMERA = "deepmind-7: [x, y, z, sin yaw, cos yaw, sin pitch, cos pitch]"
PYTORCH_PORTS_CAMERA = "pytorch-ports-7: [x, y, z, cos yaw, sin yaw, cos pitch, sin pitch]"


def file_name(index: int, count: int) -> str:
    """Return the name of file `index` (1-based) of `count`, e.g. file_name(7, 2160) == '0007-of-2160.tfrecord'."""
    width = len(str(count))
    return f"{index:0{width}d}-of-{count:0{width}d}.tfrecord"


def parse_file_name(name: str):
    """Return (index, count) of a gqn-datasets file name written by file_name, or None for any other name."""
    match = FILE_NAME.fullmatch(name)
    if match is None:
        return None
    index, count = int(match[1]), int(match[2])
    return (index, count) if file_name(index, count) == name else None
