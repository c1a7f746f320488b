"""A tiny generator for testing the shard machinery without the real generators."""

import numpy as np

from scene_shards import GeneratorSpec


def make_toy_maker(config):
    """Return make(rng) -> a scene of `views` noisy frames of `size` x `size` with a bright square at a random place
    (the noise in runs of 4 equal pixels, so that the frames shrink when deflated, as real frames do)."""
    views, size = config["views"], config["size"]

    def make(rng):
        frames = np.repeat(rng.integers(0, 40, size=(views, size, size // 4 + 1, 3), dtype=np.uint8), 4, axis=2)
        frames = np.ascontiguousarray(frames[:, :, :size])
        x, y = rng.integers(0, size - 2, size=2)
        frames[:, y:y + 2, x:x + 2] = 255
        return {"frames": frames, "viewpoints": np.arange(views, dtype=np.float32)[:, None],
                "labels": {"corner": np.array([x, y], np.int16)}}

    return make


def toy_spec(views=3, size=8, name="toy"):
    """Return a GeneratorSpec of the toy generator."""
    return GeneratorSpec(dataset=name, generator="toy", config={"views": views, "size": size},
                         frame_shape=(size, size, 3), views_per_scene=views, viewpoint_kind="time",
                         labels={"corner": ("int16", (2,))}, scene_maker=make_toy_maker)
