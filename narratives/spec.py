"""The narratives generator as a scene_shards.GeneratorSpec: validated options, manifest config, per-scene maker."""
import numpy as np

from scene_shards import GeneratorSpec
from scene_shards.common import UserError

from . import vocabulary as vocab
from .raster import render_all
from .stories import STORIES, label_spec

STORY_KEY = "story"   # the manifest config's key naming the story (read by jumpdata eval's story metric)

#: Longest video: color_reaction stores the frame of its change in an int8 label.
MAX_FRAMES = 250


def _story(name):
    """Return the registered Story called `name`; raise UserError listing the known ones otherwise."""
    if name not in STORIES:
        raise UserError(f"unknown story '{name}'; choose one of: {', '.join(sorted(STORIES))}")
    return STORIES[name]


def make_spec(story, frames=None, size=64, name=None):
    """Return the scene_shards.GeneratorSpec of `story` videos of `frames` frames (None: the story's default)
    of `size` x `size` px, named `name` (None: the story's name).  Raises UserError on bad input."""
    chosen = _story(story)
    frames = chosen.default_frames if frames is None else frames
    if not chosen.min_frames <= frames <= MAX_FRAMES:
        raise UserError(f"--frames {frames} does not fit story '{story}': it needs between "
                        f"{chosen.min_frames} and {MAX_FRAMES} frames (default {chosen.default_frames})")
    vocab.check_size(size)
    shapes = chosen.shapes
    return GeneratorSpec(
        dataset=name or story,
        generator="narratives",
        config={STORY_KEY: story, "frames": frames, "size": size, "shapes": shapes,
                "vocabulary": vocab.describe(size)},
        frame_shape=(size, size, 3),
        views_per_scene=frames,
        viewpoint_kind="time",
        labels=label_spec(frames, shapes),
        scene_maker=scene_maker,
        block_maker=block_maker,
    )


def block_maker(config):
    """Return make_all(rngs) -> [scene, ...] for the manifest `config` of make_spec, one scene per random
    generator of `rngs`: scene = {"frames": uint8 [V, size, size, 3], "viewpoints": float32 [V, 1] (the
    frame index), "labels": the storyboard's labels}.  The scenes are drawn together, which is faster;
    each is the same whatever the other generators in `rngs`."""
    story, frames, size = _story(config[STORY_KEY]), config["frames"], config["size"]
    viewpoints = np.arange(frames, dtype=np.float32)[:, None]

    def make_all(rngs):
        boards = [story.draw(rng, frames, size) for rng in rngs]
        return [{"frames": video, "viewpoints": viewpoints.copy(), "labels": board.labels()}
                for board, video in zip(boards, render_all(boards, size))]

    return make_all


def scene_maker(config):
    """Return make(rng) -> scene for the manifest `config` of make_spec: the scene block_maker's make_all
    draws for `rng` (see there)."""
    make_all = block_maker(config)
    return lambda rng: make_all([rng])[0]
