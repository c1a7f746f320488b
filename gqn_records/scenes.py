"""One GQN record <-> one scene: `frames` (JPEG images) and `cameras` (raw 5-vectors) of an Example.

JPEGs are decoded and encoded by libjpeg-turbo through simplejpeg (the decoded pixels are those PIL gives for
the same file); frames are RGB, cameras float32 (x, y, z, yaw, pitch) per view, radians (layout.RAW_CAMERA).
"""

import numpy as np
import simplejpeg
from PIL import Image

from scene_shards.common import UserError

from .example import bytes_values, decode_example, encode_example, float_values
from .framing import frame_record
from .layout import CAMERA_PARAMS, CAMERAS_KEY, FRAMES_KEY

JPEG_SUBSAMPLING = "444"   # what export writes: no chroma subsampling, so small coloured details survive
#: How `import-gqn --size` resizes a frame (recorded in the manifest's config as "resize").
RESIZE = "area: PIL Image.resize with the BOX filter (each pixel the mean of the source pixels it covers)"


def _feature(features: dict, key: str, kind: str, where: str):
    if key not in features:
        raise UserError(f"{where} has no '{key}' feature (not a GQN record)")
    if features[key][0] != kind:
        raise UserError(f"{where}: its '{key}' feature is a {features[key][0]} list, not a {kind} list")
    return features[key][1]


def resize_frame(image: np.ndarray, size: int) -> np.ndarray:
    """Return the RGB frame `image` uint8 [H, W, 3] resized to uint8 [size, size, 3] by RESIZE (deterministic)."""
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BOX))


def record_to_scene(data, views: int, frame_size: int, where: str, size: int = None,
                    keep_jpegs: bool = False) -> dict:
    """Return the scene of one record: {"frames": uint8 [V, S, S, 3], "viewpoints": float32 [V, 5], "labels": {}},
    S = `size` (each frame resized by resize_frame) or, None, frame_size. keep_jpegs: "frames" is instead the
    list of the record's V JPEG files (bytes), each decoded and checked all the same.

    `where` names the record in errors ("FILE: record R"). Raises UserError (one line) when the record is not
    an Example, holds other than `views` frames or `views * 5` camera values, or a frame is not a JPEG of
    frame_size x frame_size pixels.
    """
    try:
        features = decode_example(data)
        jpegs = bytes_values(_feature(features, FRAMES_KEY, "bytes", where))
        cameras = float_values(_feature(features, CAMERAS_KEY, "float", where))
    except ValueError as e:
        raise UserError(f"{where} is not a valid tf.train.Example ({e})") from None
    if len(jpegs) != views:
        raise UserError(f"{where} holds {len(jpegs)} frames, expected {views}")
    if cameras.size != views * CAMERA_PARAMS:
        raise UserError(f"{where} holds {cameras.size} camera values, expected {views} x {CAMERA_PARAMS} = "
                        f"{views * CAMERA_PARAMS}")
    side = size or frame_size
    frames = np.empty((views, side, side, 3), np.uint8)
    for i, jpeg in enumerate(jpegs):
        try:
            image = simplejpeg.decode_jpeg(jpeg, colorspace="RGB")
        except (ValueError, RuntimeError) as e:
            raise UserError(f"{where}: frame {i} is not a readable JPEG image ({e})") from None
        if image.shape != (frame_size, frame_size, 3):
            raise UserError(f"{where}: frame {i} is {image.shape[1]}x{image.shape[0]} pixels, expected "
                            f"{frame_size}x{frame_size}")
        frames[i] = image if side == frame_size else resize_frame(image, side)
    return {"frames": [bytes(j) for j in jpegs] if keep_jpegs else frames,
            "viewpoints": cameras.reshape(views, CAMERA_PARAMS), "labels": {}}


def frame_size_of(data, where: str) -> tuple:
    """Return (views, frame side) of the first record of a dataset the table does not know (its first frame's
    size). Raises UserError when the record is not a GQN record or its first frame is not a square JPEG."""
    try:
        jpegs = bytes_values(_feature(decode_example(data), FRAMES_KEY, "bytes", where))
        height, width, _, _ = simplejpeg.decode_jpeg_header(jpegs[0]) if jpegs else (0, 0, None, None)
    except (ValueError, RuntimeError) as e:
        raise UserError(f"{where}: cannot read its first frame ({e})") from None
    if not jpegs or height != width:
        raise UserError(f"{where}: its first frame is not a square image ({width}x{height}); not a GQN dataset")
    return len(jpegs), height


def scene_to_record(frames: np.ndarray, cameras: np.ndarray, quality: int) -> bytes:
    """Return one framed TFRecord record of a scene: frames uint8 [V, H, W, 3] as JPEGs of `quality` (4:4:4),
    cameras float32 [V, 5] as the flat float list `cameras`."""
    jpegs = [simplejpeg.encode_jpeg(np.ascontiguousarray(f), quality=quality, colorspace="RGB",
                                    colorsubsampling=JPEG_SUBSAMPLING) for f in frames]
    return frame_record(encode_example({FRAMES_KEY: jpegs, CAMERAS_KEY: np.asarray(cameras, np.float32).ravel()}))
