"""2D story videos (the JUMP paper's "narratives"): shape vocabulary, stories, rasteriser, generator spec.

    from narratives import make_spec, STORIES
    spec = make_spec("salesman", frames=None, size=64, name=None)   # a scene_shards.GeneratorSpec

Importing the package loads nothing (its names load spec.py or stories.py, and numpy, on first use), so the
standard-library modules `label_names` and `vocabulary` can be read without numpy.
"""

__all__ = ["STORIES", "Storyboard", "make_spec", "scene_maker", "story"]
_HOMES = {"make_spec": "spec", "scene_maker": "spec", "STORIES": "stories", "Storyboard": "stories", "story": "stories"}


def __getattr__(name: str):  # noqa: V103 (the module hook of PEP 562)
    """Load the package's names from their modules on first use."""
    if name in _HOMES:
        from importlib import import_module
        return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'narratives' has no attribute '{name}'")
