"""GQN TFRecords for the tests, written with the `tfrecord` package and PIL, independent of gqn_records."""

import io
from pathlib import Path

import numpy as np
from PIL import Image
from tfrecord import TFRecordWriter


def gqn_scene(rng, views: int, size: int) -> tuple:
    """Return (frames uint8 [V, S, S, 3], cameras float32 [V, 5]): a smooth room-like picture per view (a
    floor/wall gradient and a coloured block that moves with the view), and random raw cameras."""
    y, x = np.mgrid[0:size, 0:size] / size
    frames = np.empty((views, size, size, 3), np.uint8)
    wall, block = rng.integers(40, 215, size=3), rng.integers(0, 255, size=3)
    for v in range(views):
        image = np.stack([wall[c] * (0.6 + 0.4 * y) for c in range(3)], -1)
        left = int((v / views) * size * 0.6)
        image[size // 3: size // 3 + size // 4, left: left + size // 4] = block
        frames[v] = image.astype(np.uint8)
    cameras = rng.uniform(-np.pi, np.pi, size=(views, 5)).astype(np.float32)
    return frames, cameras


def jpeg(frame: np.ndarray, quality: int = 95) -> bytes:
    """Return the JPEG bytes of one uint8 [H, W, 3] frame, encoded by PIL (4:4:4)."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, "JPEG", quality=quality, subsampling=0)
    return buffer.getvalue()


def write_records(path, scenes: list, views=None) -> None:
    """Write `scenes` [(frames, cameras)] as GQN Examples into the TFRecord file `path`."""
    writer = TFRecordWriter(str(path))
    for frames, cameras in scenes:
        writer.write({"frames": ([jpeg(f) for f in frames], "byte"), "cameras": (cameras.ravel().tolist(), "float")})
    writer.close()


def gqn_name(index: int, count: int) -> str:
    """DeepMind's file name of file `index` (1-based) of `count`, written out again here."""
    width = len(str(count))
    return f"{str(index).zfill(width)}-of-{str(count).zfill(width)}.tfrecord"


def write_gqn_dataset(root, dataset: str, records: dict, views: int = 4, size: int = 16, seed: int = 0) -> dict:
    """Write a gqn-datasets folder root/dataset/split/ with records[split][i] scenes in file i+1; return
    {split: [(frames, cameras)] of every scene in order}."""
    rng = np.random.default_rng(seed)
    written = {}
    for split, per_file in records.items():
        folder = Path(root) / dataset / split
        folder.mkdir(parents=True, exist_ok=True)
        written[split] = []
        for i, count in enumerate(per_file, start=1):
            scenes = [gqn_scene(rng, views, size) for _ in range(count)]
            write_records(folder / gqn_name(i, len(per_file)), scenes)
            written[split] += scenes
    return written
