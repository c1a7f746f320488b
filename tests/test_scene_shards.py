"""The shard format and the generation driver, exercised with a tiny toy generator."""

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from toy_generator import toy_spec

from scene_shards import UserError, generate_dataset, open_dataset, verify_dataset
from scene_shards.files import sha256_of
from scene_shards.manifest import resolve_dataset

ROOT = Path(__file__).resolve().parents[1]


def make(folder, workers=1, shard_size=7, n=40, test_n=5, **kw):
    return generate_dataset(toy_spec(**kw), folder, n=n, test_n=test_n, seed=3, workers=workers,
                            shard_size=shard_size)


def all_scenes(folder, split="train"):
    ds = open_dataset(folder, split=split)
    return [ds.scene(i) for i in range(len(ds))]


def test_layout_dtypes_and_manifest(tmp_path):
    manifest = make(tmp_path, shard_size=16)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["toy-test-00000-of-00001.h5", "toy-train-00000-of-00003.h5", "toy-train-00001-of-00003.h5",
                     "toy-train-00002-of-00003.h5", "toy.json"]
    on_disk = json.loads((tmp_path / "toy.json").read_text())
    assert on_disk == manifest
    assert on_disk["splits"]["train"]["scenes"] == 40 and on_disk["viewpoint_kind"] == "time"
    with h5py.File(tmp_path / "toy-train-00001-of-00003.h5") as f:
        assert f["frames"].dtype == np.uint8 and f["frames"].shape == (16, 3, 8, 8, 3)
        assert f["frames"].chunks == (1, 3, 8, 8, 3) and f["frames"].compression == "gzip"
        assert f["viewpoints"].dtype == np.float32 and f["viewpoints"].shape == (16, 3, 1)
        assert f["labels/corner"].dtype == np.int16
        assert f.attrs["first_scene"] == 16 and f.attrs["split"] == "train" and f.attrs["shard_count"] == 3


def test_scene_is_the_seeded_rng_draw(tmp_path):
    from toy_generator import make_toy_maker
    make(tmp_path)
    ds = open_dataset(tmp_path, split="test")
    expected = make_toy_maker({"views": 3, "size": 8})(np.random.default_rng([3, 1, 4]))
    assert np.array_equal(ds.frames(4), expected["frames"])
    assert np.array_equal(ds.frames(4, views=[2, 0]), expected["frames"][[2, 0]])


def test_same_bytes_for_any_worker_count_and_shard_size(tmp_path):
    make(tmp_path / "a", workers=1, shard_size=7)
    make(tmp_path / "b", workers=2, shard_size=7)
    make(tmp_path / "c", workers=2, shard_size=40)
    make(tmp_path / "d", workers=3, shard_size=7)   # two pool workers beside the driver
    for f in (tmp_path / "a").glob("*.h5"):
        assert sha256_of(f) == sha256_of(tmp_path / "b" / f.name) == sha256_of(tmp_path / "d" / f.name)
    a, c = all_scenes(tmp_path / "a"), all_scenes(tmp_path / "c")
    for x, y in zip(a, c):
        assert x["frames"].tobytes() == y["frames"].tobytes()
        assert x["labels"]["corner"].tolist() == y["labels"]["corner"].tolist()


def test_rerun_keeps_complete_shards_and_remakes_damaged_ones(tmp_path):
    make(tmp_path)
    victim = tmp_path / "toy-train-00002-of-00006.h5"
    kept = tmp_path / "toy-train-00001-of-00006.h5"
    mtime = kept.stat().st_mtime_ns
    good = sha256_of(victim)
    victim.write_bytes(victim.read_bytes()[:100])
    make(tmp_path)
    assert kept.stat().st_mtime_ns == mtime
    assert sha256_of(victim) == good


def test_rerun_with_other_settings_is_refused_and_keeps_data(tmp_path):
    make(tmp_path)
    before = {p.name: sha256_of(p) for p in tmp_path.iterdir()}
    with pytest.raises(UserError, match="other settings"):
        make(tmp_path, size=9)
    assert {p.name: sha256_of(p) for p in tmp_path.iterdir()} == before


def test_verification_names_truncated_and_altered_shards(tmp_path):
    make(tmp_path)
    assert verify_dataset(tmp_path, "toy") == []
    truncated = tmp_path / "toy-train-00000-of-00006.h5"
    truncated.write_bytes(truncated.read_bytes()[:-10])
    altered = tmp_path / "toy-test-00000-of-00001.h5"
    data = bytearray(altered.read_bytes())
    data[len(data) // 2] ^= 1
    altered.write_bytes(bytes(data))
    problems = verify_dataset(tmp_path, "toy")
    assert len(problems) == 2
    assert any(truncated.name in p for p in problems) and any(altered.name in p for p in problems)


def test_reader_refuses_incomplete_and_ambiguous_folders(tmp_path):
    make(tmp_path)
    m = json.loads((tmp_path / "toy.json").read_text())
    m["splits"]["train"]["shards"].pop()
    (tmp_path / "toy.json").write_text(json.dumps(m))
    with pytest.raises(UserError, match="incomplete"):
        open_dataset(tmp_path)
    make(tmp_path, name="other")
    with pytest.raises(UserError, match="several datasets"):
        resolve_dataset(tmp_path)
    assert resolve_dataset(tmp_path, "other") == "other"
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no"):
        resolve_dataset(tmp_path / "empty")


def test_reader_pickles_without_open_files(tmp_path):
    import pickle
    make(tmp_path)
    ds = open_dataset(tmp_path)
    first = ds.frames(0)
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._handles == {} and np.array_equal(clone.frames(0), first)


# ------------------------------------------------------------------ command line

def jumpdata(*args, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_show_names_a_corrupt_shard_in_one_line(tmp_path):
    make(tmp_path)
    shard = tmp_path / "toy-train-00000-of-00006.h5"
    shard.write_bytes(shard.read_bytes()[:2000])
    r = jumpdata("show", tmp_path, "--scenes", "0", "--out", tmp_path / "x.png")
    assert r.returncode != 0 and shard.name in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_info_reports_and_catches_damage(tmp_path):
    make(tmp_path)
    ok = jumpdata("info", tmp_path)
    assert ok.returncode == 0 and "toy" in ok.stdout and "40 scenes" in ok.stdout
    shard = tmp_path / "toy-train-00003-of-00006.h5"
    shard.write_bytes(shard.read_bytes()[:-1])
    bad = jumpdata("info", tmp_path)
    assert bad.returncode != 0 and shard.name in bad.stdout
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


@pytest.mark.parametrize("args, message", [
    (["info", "{tmp}/nothere"], "not a folder"),
    (["info", "{tmp}"], "no jumpdata dataset"),
    (["show", "{tmp}", "--out", "{tmp}/x.png"], "no jumpdata dataset"),
    (["narratives", "--n", "0", "--out", "{tmp}"], "--n"),
    (["narratives", "--workers", "0", "--out", "{tmp}"], "--workers"),
    (["narratives", "--story", "nonsense", "--n", "5", "--out", "{tmp}/d"], "unknown story"),
    (["narratives", "--size", "8", "--n", "5", "--out", "{tmp}/d"], "--size"),
    (["narratives", "--frames", "2", "--n", "5", "--out", "{tmp}/d"], "--frames"),
    (["narratives", "--n", "5", "--out", "{tmp}/afile"], "is a file"),
    (["narratives", "--size", "5000", "--n", "5", "--out", "{tmp}/d"], "--size"),
    (["narratives", "--seed", "-1", "--n", "5", "--out", "{tmp}/d"], "--seed"),
    (["show", "{tmp}", "--scenes", "3-", "--out", "{tmp}/x.png"], "no jumpdata dataset"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    (tmp_path / "afile").write_text("keep")
    r = jumpdata(*[a.format(tmp=tmp_path) for a in args])
    assert r.returncode != 0
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_show_writes_png_and_gif_and_refuses_bad_out(tmp_path):
    make(tmp_path / "d")
    r = jumpdata("show", tmp_path / "d", "--scenes", "0-2,5", "--out", tmp_path / "g.png", "--scale", "3")
    assert r.returncode == 0, r.stderr
    from PIL import Image
    with Image.open(tmp_path / "g.png") as im:  # 4 rows of 3 views, 8 px * 3, 2 px gaps
        assert im.size == (3 * 24 + 2 * 2, 4 * 24 + 3 * 2)
    assert jumpdata("show", tmp_path / "d", "--out", tmp_path / "a.gif").returncode == 0
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 3
    for out, message in [(tmp_path, "folder"), (tmp_path / "x.jpg", ".png"), (tmp_path / "no/x.png", "exist")]:
        r = jumpdata("show", tmp_path / "d", "--out", out)
        assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr
    r = jumpdata("show", tmp_path / "d", "--scenes", "0-99", "--out", tmp_path / "x.png")
    assert r.returncode != 0 and "out of range" in r.stderr


def test_generator_refuses_out_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("keep me")
    with pytest.raises(UserError, match="is a file"):
        make(f)
    assert f.read_text() == "keep me"


@pytest.mark.parametrize("name", ["a/b", "", ".hidden", "x" * 101])
def test_bad_dataset_names_are_refused(tmp_path, name):
    with pytest.raises(UserError, match="not allowed"):
        make(tmp_path, name=name)
    assert list(tmp_path.iterdir()) == []


def test_a_successful_narratives_run_and_version(tmp_path):
    r = jumpdata("narratives", "--n", "3", "--test-n", "1", "--size", "32", "--workers", "1", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "salesman: 3 train + 1 test scenes" in r.stdout
    assert open_dataset(tmp_path, "salesman").frames(2).shape == (21, 32, 32, 3)
    assert jumpdata("--version").stdout.startswith("jumpdata ")


def test_failed_first_run_does_not_block_the_corrected_one(tmp_path):
    def broken(config):
        raise RuntimeError("generator bug")
    spec = toy_spec()
    spec.scene_maker = broken
    with pytest.raises(UserError, match="train scene 0 of 'toy' failed: RuntimeError: generator bug"):
        generate_dataset(spec, tmp_path, n=5, test_n=1, seed=3, workers=1)
    assert (tmp_path / "toy.json").exists()
    make(tmp_path, size=9)  # other settings go ahead: the failed run completed no shard
    assert verify_dataset(tmp_path, "toy") == []


def test_stale_temporaries_of_this_dataset_only_are_removed(tmp_path):
    stale = tmp_path / ".toy-train-00000-of-00006.h5.tmp-999999999"
    other = tmp_path / ".toy2-train-00000-of-00001.h5.tmp-999999999"
    stale.write_text("x")
    other.write_text("x")
    make(tmp_path)
    assert not stale.exists() and other.exists()


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("splits"), "has no splits"),
    (lambda m: m["splits"]["train"]["shards"][0].update(file="../elsewhere.h5"), "not one of its shards"),
    (lambda m: m["splits"]["test"].pop("shard_count"), "shard_count"),
])
def test_damaged_manifests_are_named(tmp_path, change, message):
    make(tmp_path)
    m = json.loads((tmp_path / "toy.json").read_text())
    change(m)
    (tmp_path / "toy.json").write_text(json.dumps(m))
    with pytest.raises(UserError, match=message):
        open_dataset(tmp_path)
    r = jumpdata("info", tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_a_corrupt_chunk_is_named_when_read(tmp_path):
    make(tmp_path, shard_size=40)
    shard = tmp_path / "toy-train-00000-of-00001.h5"
    with h5py.File(shard) as f:
        offset = f["frames"].id.get_chunk_info(3).byte_offset
    data = bytearray(shard.read_bytes())
    data[offset:offset + 40] = bytes(40)  # zero the start of scene 3's compressed chunk
    shard.write_bytes(bytes(data))
    ds = open_dataset(tmp_path)
    assert ds.frames(2).shape == (3, 8, 8, 3)
    with pytest.raises(UserError, match=shard.name):
        ds.frames(3)


def test_label_values_must_fit_their_dtype():
    from scene_shards.writer import check_scene
    spec = toy_spec()
    scene = spec.scene_maker(spec.config)(np.random.default_rng(0))
    scene["labels"]["corner"] = np.array([40000, 1])
    with pytest.raises(ValueError, match="outside the range of int16"):
        check_scene(scene, spec)


def test_show_defaults_to_the_first_scenes_of_a_small_split_and_parses_ranges_lazily(tmp_path):
    from scene_shards.pictures import parse_indices
    make(tmp_path, n=3, test_n=2)
    r = jumpdata("show", tmp_path, "--split", "test", "--out", tmp_path / "t.png")
    assert r.returncode == 0, r.stderr
    with pytest.raises(UserError, match="out of range"):
        parse_indices("0-999999999999", 3)       # refused before any list is built
    with pytest.raises(UserError, match="cannot read"):
        parse_indices("3-", 10)
    assert parse_indices("0,2,4-5", 6) == [0, 2, 4, 5]


def test_help_does_not_import_torch():
    code = "import sys, cli\ntry:\n    cli.main.main(['--help'], standalone_mode=False)\nfinally:\n" \
           "    print('torch' in sys.modules, 'numpy' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip().splitlines()[-1] == "False False"


def test_a_shard_too_big_to_assemble_in_memory_is_refused_before_anything_is_written(tmp_path):
    spec = toy_spec(views=10, size=512)   # 7.5 MiB a scene: 1000 scenes a shard would need 7.3 GiB
    with pytest.raises(UserError, match=r"one shard, assembled in memory, could take up to 7\.3 GiB; use "
                                        r"--shard-size 546 or less"):
        generate_dataset(spec, tmp_path / "big", n=2000, test_n=10, seed=0, workers=1, shard_size=1000)
    assert not (tmp_path / "big").exists() or not any((tmp_path / "big").iterdir())
