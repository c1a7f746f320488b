"""The dice generator as a scene_shards.GeneratorSpec: validated options, manifest config, per-worker scene maker."""

import numpy as np

from scene_shards import GeneratorSpec
from scene_shards.common import UserError

from .cameras import FOV_DEG, sample_cameras
from .digits import load_bank
from .label_names import CUBE_ORIENTATION, DIGIT_CLASSES, VISIBLE_FACES
from .render import DiceRoom, check_renderer
from .scene import CEILING_COLOR, CUBE_SIZES, ROOM_HALF, TEXTURE_POOL, WALL_HEIGHT, sample_scene

SIZE_RANGE = (8, 1024)
MAX_VIEWS = 1000   # cameras per scene (the paper uses a few tens); scene memory is bounded by the driver too


def labels(views: int) -> dict:
    """The dice labels, declared once: {name: (dtype name, per-scene shape)} for `views` views.

    Each name is a DiceScene field or one of DERIVED_LABELS; docs/dice.md says what each holds."""
    return {"digits": ("int16", (6,)), DIGIT_CLASSES: ("int8", (6,)), "cube_position": ("float32", (3,)),
            CUBE_ORIENTATION: ("float32", (4,)), "cube_size": ("float32", ()), "wall_colors": ("float32", (4, 3)),
            "floor_color": ("float32", (3,)), "light_position": ("float32", (3,)),
            VISIBLE_FACES: ("float32", (views, 6)),
            # beyond the labels every dice dataset needs: the rest of the scene description
            "cube_color": ("float32", (3,)), "wall_textures": ("int8", (4,)), "floor_texture": ("int8", ())}


#: Labels that are not DiceScene fields: computed from the bank and the renderer in the scene maker.
DERIVED_LABELS = (DIGIT_CLASSES, VISIBLE_FACES)


def make_spec(digits: int, views: int, size: int, mnist: str | None = None, name: str | None = None,
              renderer: str = "tiny") -> GeneratorSpec:
    """Return the scene_shards.GeneratorSpec of dice-room scenes: `views` views of `size` x `size` px per scene, digits
    from a balanced bank of `digits` MNIST digits (shipped sample, or the IDX files at `mnist`), dataset `name`
    (default "dice"), rendered by `renderer` ("tiny" or "egl"). Raises UserError on bad input."""
    if not 1 <= views <= MAX_VIEWS:
        raise UserError(f"--views must be between 1 and {MAX_VIEWS} (got {views})")
    if not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
        raise UserError(f"--size must be between {SIZE_RANGE[0]} and {SIZE_RANGE[1]} pixels (got {size})")
    check_renderer(renderer)
    bank = load_bank(digits, mnist)
    config = {"digits": digits, "mnist": bank.source.removeprefix("mnist:") if mnist else None,
              "digit_source": bank.source, "digit_classes": bank.classes.tolist(), "views": views, "size": size,
              "fov_deg": FOV_DEG, "renderer": renderer, "room_half": ROOM_HALF, "wall_height": WALL_HEIGHT,
              "ceiling_color": list(CEILING_COLOR),
              "cube_sizes": list(CUBE_SIZES), "textures": TEXTURE_POOL,
              "face_order": ["+x", "-x", "+y", "-y", "+z", "-z"], "quaternion_order": "xyzw"}
    return GeneratorSpec(
        dataset=name or "dice", generator="dice", config=config, frame_shape=(size, size, 3),
        views_per_scene=views, viewpoint_kind="camera",
        labels=labels(views), scene_maker=scene_maker,
        extra_datasets={"digit_bank/images": bank.images, "digit_bank/classes": bank.classes})


def scene_maker(config: dict):
    """Build this worker's PyBullet room for the manifest `config` of make_spec and return make(rng) -> scene.

    scene = {"frames": uint8 [V, size, size, 3], "viewpoints": float32 [V, 5] (x, y, z, yaw, pitch),
    "labels": the dice labels}; it depends only on `config` and `rng`.
    """
    bank = load_bank(config["digits"], config["mnist"])
    room = DiceRoom(bank.images, config["size"], config["fov_deg"], config["renderer"])
    names = labels(config["views"])

    def make(rng: np.random.Generator) -> dict:
        scene = sample_scene(rng, len(bank))
        poses = sample_cameras(rng, scene, config["views"])
        frames, visible = room.render(scene, poses)
        derived = dict(zip(DERIVED_LABELS, (bank.classes[scene.digits], visible)))
        return {"frames": frames, "viewpoints": poses,
                "labels": {name: derived[name] if name in derived else getattr(scene, name) for name in names}}

    return make
