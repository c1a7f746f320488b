"""2D story videos (the JUMP paper's "narratives"): shape vocabulary, stories, rasteriser, generator spec.

    from narratives import make_spec, STORIES
    spec = make_spec("salesman", frames=None, size=64, name=None)   # a scene_shards.GeneratorSpec
"""
from .spec import make_spec, scene_maker
from .stories import STORIES, Storyboard, story

__all__ = ["STORIES", "Storyboard", "make_spec", "scene_maker", "story"]
