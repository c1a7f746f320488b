"""The MNIST dice room: a PyBullet room holding a cube with an MNIST digit on each face, seen from many cameras.

    from dice3d import make_spec
    spec = make_spec(digits=100, views=10, size=64)   # a scene_shards.GeneratorSpec

Modules: `digits` (the balanced MNIST digit bank), `scene` (the plain-data scene
description, sampled from an RNG), `geometry` and `cameras` (cube poses, camera
poses), `textures` and `shadows` (surfaces and the shadow pass), `render`
(the PyBullet renderer and face visibility), `spec` (the generator as a
GeneratorSpec: options, manifest config, labels, per-worker scene maker).
Nothing here imports torch.
"""
from .spec import make_spec, scene_maker

__all__ = ["make_spec", "scene_maker"]
