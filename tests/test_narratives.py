"""The narrative videos: each story means what it says, in its labels and in its pixels."""

import numpy as np
import pytest

from narratives import STORIES, Storyboard, make_spec
from narratives import vocabulary as vocab
from narratives.layout import EDGE_PX, arrival_frames
from narratives.raster import render
from scene_shards import UserError, generate_dataset, open_dataset


def scenes(story, count, frames=None, size=64, seed=0):
    """Yield (storyboard, frames uint8 [V, size, size, 3]) of scenes 0..count-1 of `story`."""
    frames = frames or STORIES[story].default_frames
    for j in range(count):
        board = STORIES[story].draw(np.random.default_rng([seed, 0, j]), frames, size)
        yield board, render(board, size)


def radii(board, size):
    """Return float [S]: the bounding radius in px of each shape of `board`."""
    return vocab.radii_px(size)[board.sizes]


def edge_gaps(board, size, frame, shape):
    """Return float [S]: edge-to-edge distance (bounding circles, px) from `shape` to every shape in `frame`."""
    centres = board.positions[frame].astype(np.float64)
    r = radii(board, size)
    return np.hypot(*(centres - centres[shape]).T) - r - r[shape]


def colour_at(image, point):
    """Return the RGB of the pixel containing `point` (x, y) of `image` [H, W, 3] as a tuple."""
    return tuple(int(c) for c in image[int(point[1]), int(point[0])])


def shows(image, point, colour_index):
    """Return True if the pixel containing `point` shows palette colour `colour_index`, up to the
    anti-aliasing of the smallest shapes at 32 px, which may not cover their centre pixel fully."""
    return np.abs(np.array(colour_at(image, point)) - vocab.PALETTE[colour_index].astype(int)).max() <= 40


def without_actor(board):
    """Return the storyboard of the shapes other than the actor (all of which stay put in the salesman)."""
    return Storyboard(board.kinds[1:], board.sizes[1:], board.positions[:, 1:], board.colors[:, 1:],
                      board.order)


@pytest.mark.parametrize("frames,size", [(21, 64), (40, 64), (5, 64), (21, 32), (12, 100)])
def test_salesman_actor_visits_each_shape_in_the_stored_order(frames, size):
    gap = vocab.gap_px(size)
    for board, video in scenes("salesman", 25, frames, size):
        order = board.order.tolist()
        assert sorted(order) == [1, 2, 3, 4]
        still = render(without_actor(board), size)[0]           # the four shapes that stay put
        for k, frame in enumerate(arrival_frames(frames, 4)):
            gaps = edge_gaps(board, size, frame, 0)
            target = order[k]
            # labels: the actor stops `gap` px from the visited shape, clearly nearer to it than to any other
            assert gaps[target] == pytest.approx(gap, abs=1e-3)
            assert all(gaps[j] >= 2 * gap - 1e-3 for j in range(1, 5) if j != target)
            # pixels: what differs from the still shapes is the actor, where the labels put it, next to the target
            change = np.abs(video[frame].astype(int) - still).sum(axis=-1)
            rows, cols = np.indices(change.shape) + 0.5
            cx, cy = (change * cols).sum() / change.sum(), (change * rows).sum() / change.sum()
            assert np.hypot(*(board.positions[frame, 0] - (cx, cy))) < 0.5
            seen = np.hypot(*(board.positions[frame, 1:] - (cx, cy)).T) - radii(board, size)[1:]
            assert 1 + int(np.argmin(seen)) == target
            assert shows(video[frame], board.positions[frame, 0], board.colors[frame, 0])
            assert shows(video[frame], board.positions[frame, target], board.colors[frame, target])


def test_salesman_only_the_actor_moves_and_it_moves_smoothly():
    for board, video in scenes("salesman", 30):
        positions = board.positions.astype(np.float64)
        assert (positions[:, 1:] == positions[0, 1:]).all()
        assert (board.colors == board.colors[0]).all()
        begin = 0
        for end in arrival_frames(21, 4):
            leg = positions[begin: end + 1, 0]
            direction = leg[-1] - leg[0]
            along = (leg - leg[0]) @ direction / (direction @ direction)
            # straight line from stop to stop, never turning back, easing in and out
            assert np.allclose(leg, leg[0] + along[:, None] * direction, atol=1e-3)
            steps = np.diff(along)
            assert (steps > 0).all() and steps[0] < steps[len(steps) // 2] > steps[-1]
            begin = end
        # the video shows the motion: consecutive frames differ, the still shapes never change
        assert all((video[v] != video[v + 1]).any() for v in range(20))


@pytest.mark.parametrize("frames", [12, 3, 7, 30])
def test_color_reaction_target_changes_colour_once_after_the_actor_arrives(frames):
    size = 64
    arrival = (frames + 1) // 2 - 1
    for board, video in scenes("color_reaction", 25, frames, size):
        target, new, change = board.order.tolist()
        assert target == 1 and change == arrival + 1
        colours = board.colors[:, 1]
        assert (colours[:change] == colours[0]).all() and (colours[change:] == new).all() and new != colours[0]
        assert (board.colors[:, [0, 2, 3]] == board.colors[0, [0, 2, 3]]).all()
        # the actor moves until it arrives next to the target, then stays there
        actor = board.positions[:, 0]
        assert (np.diff(actor[: arrival + 1], axis=0) != 0).any(axis=1).all()
        assert (actor[arrival:] == actor[arrival]).all()
        assert edge_gaps(board, size, arrival, 0)[1] == pytest.approx(vocab.gap_px(size), abs=1e-3)
        assert (board.positions[:, 1:] == board.positions[0, 1:]).all()
        # pixels: the target shows its old colour up to the arrival and its new colour from the next frame on
        centre = board.positions[0, 1]
        shown = [colour_at(video[v], centre) for v in range(frames)]
        old_rgb, new_rgb = tuple(vocab.PALETTE[colours[0]]), tuple(vocab.PALETTE[new])
        assert shown == [old_rgb] * change + [new_rgb] * (frames - change)


def test_the_whole_vocabulary_is_used_and_visible():
    kinds, sizes, colours, new_colours = set(), set(), set(), set()
    rgb_seen = set()
    for story in STORIES:
        for board, video in scenes(story, 150):
            kinds |= set(board.kinds.tolist())
            sizes |= set(board.sizes.tolist())
            colours |= set(board.colors.ravel().tolist())
            if story == "color_reaction":
                new_colours.add(int(board.order[1]))
            rgb_seen |= set(map(tuple, np.unique(video[::5].reshape(-1, 3), axis=0).tolist()))
    assert kinds == set(range(4)) and sizes == set(range(4)) and colours == set(range(12))
    assert new_colours == set(range(12))
    assert {tuple(c) for c in vocab.PALETTE.tolist()} <= rgb_seen
    assert len(vocab.KINDS) == 4 and len(vocab.SIZE_FRACTIONS) == 4 and len(vocab.COLORS) == 12


def test_colours_are_distinct_from_each_other_and_from_the_background():
    palette = vocab.PALETTE.astype(float)
    apart = np.linalg.norm(palette[:, None] - palette[None], axis=-1)
    assert apart[~np.eye(12, dtype=bool)].min() > 60
    assert np.linalg.norm(palette - np.array(vocab.BACKGROUND), axis=-1).min() > 150
    assert len(set(vocab.COLOR_NAMES)) == 12


def test_kinds_and_sizes_are_told_apart_in_the_pixels():
    size = 64
    areas = {}
    for kind in range(4):
        for s in range(4):
            board = Storyboard(np.array([kind, 0], np.int8), np.array([s, 0], np.int8),
                               np.array([[[32.3, 32.6], [8.0, 8.0]], [[32.3, 32.6], [8.5, 8.0]]], np.float32),
                               np.zeros((2, 2), np.int8) + 11, np.zeros(1, np.int8))
            image = render(board, size)[0].astype(float)
            image[:16, :16] = 0                                    # drop the second shape
            areas[kind, s] = image[..., 0].sum() / 245
    for kind in range(4):
        assert all(areas[kind, s] < areas[kind, s + 1] for s in range(3))       # bigger sizes cover more
    # at one size the kinds have different areas (circle, square, triangle, pentagon)
    assert len({round(areas[k, 3]) for k in range(4)}) == 4


@pytest.mark.parametrize("story,frames,size", [("salesman", 21, 64), ("salesman", 5, 32),
                                               ("color_reaction", 12, 64), ("color_reaction", 3, 32)])
def test_shapes_never_leave_the_frame(story, frames, size):
    background = np.array(vocab.BACKGROUND, np.uint8)
    for board, video in scenes(story, 60, frames, size):
        r = radii(board, size)[None, :, None]
        assert (board.positions >= r + EDGE_PX - 1e-4).all() and (board.positions <= size - r - EDGE_PX + 1e-4).all()
        for border in (video[:, 0], video[:, -1], video[:, :, 0], video[:, :, -1]):
            assert (border == background).all()


def test_starting_positions_do_not_overlap():
    for story in STORIES:
        for board, _ in scenes(story, 60):
            for s in range(len(board.kinds)):
                gaps = np.delete(edge_gaps(board, 64, 0, s), s)
                assert (gaps > 0).all()


@pytest.mark.parametrize("story", sorted(STORIES))
def test_scene_arrays_match_the_spec_and_are_a_pure_function_of_the_rng(story):
    spec = make_spec(story, None, 64, None)
    make = spec.scene_maker(spec.config)
    frames = STORIES[story].default_frames
    first = make(np.random.default_rng([7, 0, 3]))
    for j in range(5):                                             # whatever happened before in the worker...
        make(np.random.default_rng([7, 0, j + 10]))
    again = spec.scene_maker(spec.config)(np.random.default_rng([7, 0, 3]))
    assert first["frames"].dtype == np.uint8 and first["frames"].shape == (frames, 64, 64, 3)
    assert first["viewpoints"].dtype == np.float32
    assert first["viewpoints"][:, 0].tolist() == list(range(frames))
    assert first["frames"].tobytes() == again["frames"].tobytes()
    for name, (dtype, shape) in spec.labels.items():
        assert first["labels"][name].dtype == np.dtype(dtype) and first["labels"][name].shape == shape
        assert first["labels"][name].tobytes() == again["labels"][name].tobytes()
    other = make(np.random.default_rng([7, 0, 4]))
    assert other["frames"].tobytes() != first["frames"].tobytes()


@pytest.mark.parametrize("story,frames,size", [("salesman", 21, 64), ("color_reaction", 12, 64), ("salesman", 5, 100)])
def test_a_scene_is_the_same_drawn_alone_or_in_any_block(story, frames, size):
    # the driver draws blocks of scenes whose makeup depends on --shard-size and on resuming
    spec = make_spec(story, frames, size, None)
    make_all, make = spec.block_maker(spec.config), spec.scene_maker(spec.config)
    rngs = lambda seeds: [np.random.default_rng([2, 0, j]) for j in seeds]  # noqa: E731
    block, reordered = make_all(rngs(range(20))), make_all(rngs([19, 3] + list(range(4, 8))))
    for j, scene in enumerate(block):
        alone = make(np.random.default_rng([2, 0, j]))
        assert scene["frames"].shape == (frames, size, size, 3) and scene["frames"].flags.c_contiguous
        assert scene["frames"].tobytes() == alone["frames"].tobytes()
        assert all(scene["labels"][k].tobytes() == alone["labels"][k].tobytes() for k in spec.labels)
    for j, scene in zip([19, 3] + list(range(4, 8)), reordered):
        assert scene["frames"].tobytes() == block[j]["frames"].tobytes()


def test_spec_names_and_config():
    spec = make_spec("salesman", None, 64, None)
    assert spec.dataset == "salesman" and spec.generator == "narratives" and spec.views_per_scene == 21
    assert spec.viewpoint_kind == "time" and spec.frame_shape == (64, 64, 3)
    assert spec.config["story"] == "salesman" and spec.config["frames"] == 21 and spec.config["size"] == 64
    assert [c["name"] for c in spec.config["vocabulary"]["colors"]] == list(vocab.COLOR_NAMES)
    named = make_spec("color_reaction", 20, 48, "reaction20")
    assert named.dataset == "reaction20" and named.views_per_scene == 20 and named.frame_shape == (48, 48, 3)
    assert named.labels["order"] == ("int8", (3,)) and named.labels["positions"] == ("float32", (20, 4, 2))


@pytest.mark.parametrize("args,words", [
    (("dance", None, 64), ["unknown story 'dance'", "salesman", "color_reaction"]),
    (("salesman", 4, 64), ["--frames 4", "between 5 and"]),
    (("color_reaction", 2, 64), ["--frames 2", "between 3 and"]),
    (("salesman", 251, 64), ["--frames 251"]),
    (("salesman", None, 31), ["--size 31", "too small", "--size 32"]),
])
def test_bad_input_raises_a_clear_user_error(args, words):
    with pytest.raises(UserError) as caught:
        make_spec(*args, None)
    assert all(w in str(caught.value) for w in words)


def test_generated_shards_hold_the_scenes_and_labels_whatever_the_workers(tmp_path):
    spec = make_spec("color_reaction", None, 32, None)
    generate_dataset(spec, tmp_path / "one", n=6, test_n=2, seed=5, workers=1, shard_size=4)
    generate_dataset(spec, tmp_path / "two", n=6, test_n=2, seed=5, workers=2, shard_size=3)
    one, two = open_dataset(tmp_path / "one", split="train"), open_dataset(tmp_path / "two", split="train")
    try:
        assert len(one) == 6 and one.views_per_scene == 12 and one.viewpoint_kind == "time"
        make = spec.scene_maker(spec.config)
        for i in range(6):
            stored, fresh, other = one.scene(i), make(np.random.default_rng([5, 0, i])), two.scene(i)
            assert stored["frames"].tobytes() == fresh["frames"].tobytes() == other["frames"].tobytes()
            for name in ("kinds", "sizes", "positions", "colors", "order"):
                assert stored["labels"][name].dtype == fresh["labels"][name].dtype
                assert stored["labels"][name].tobytes() == fresh["labels"][name].tobytes() == \
                    other["labels"][name].tobytes()
    finally:
        one.close()
        two.close()
