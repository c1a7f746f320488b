"""The MNIST dice room: a PyBullet room holding a cube with an MNIST digit on each face, seen from many cameras.

    from dice3d import make_spec
    spec = make_spec(digits=100, views=10, size=64)   # a scene_shards.GeneratorSpec

Modules: `digits` (the balanced MNIST digit bank), `scene` (the plain-data scene
description, sampled from an RNG), `geometry` and `cameras` (cube poses, camera
poses), `textures` and `shadows` (surfaces and the shadow pass), `render`
(the PyBullet renderer and face visibility), `spec` (the generator as a
GeneratorSpec: options, manifest config, labels, per-worker scene maker).
Nothing here imports torch. Importing the package loads nothing: `make_spec` and `scene_maker` load `spec`
(and with it numpy and the PyBullet renderer) when first used, so code that reads only the geometry or the
label names (evaluation) never loads pybullet.
"""

__all__ = ["make_spec", "scene_maker"]


def __getattr__(name: str):  # noqa: V103 (the module hook of PEP 562)
    """Load `make_spec` and `scene_maker` from spec.py on first use."""
    if name in __all__:
        from . import spec
        return getattr(spec, name)
    raise AttributeError(f"module 'dice3d' has no attribute '{name}'")
