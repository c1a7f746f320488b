"""The data fingerprint: the same for the same data however it was made, and naming what differs for other data
under the same name (another size, story, seed, scene count, or a shard altered behind its checksum)."""

import json

import pytest
from toy_generator import toy_spec

from scene_shards import UserError, data_fingerprint, fingerprint_differences, generate_dataset
from scene_shards.fingerprint import check_same_data
from scene_shards.manifest import load_manifest


def fingerprint(folder, name="toy"):
    return data_fingerprint(load_manifest(folder / f"{name}.json"))


def make(folder, n=20, seed=3, workers=1, shard_size=7, **spec):
    generate_dataset(toy_spec(**spec), folder, n=n, test_n=4, seed=seed, workers=workers, shard_size=shard_size,
                     version="9.9")
    return fingerprint(folder)


def test_the_same_data_has_the_same_fingerprint_whoever_made_it(tmp_path):
    a = make(tmp_path / "a")
    b = make(tmp_path / "b", workers=2)
    m = json.loads((tmp_path / "b" / "toy.json").read_text())
    m["jumpdata_version"] = "0.0"   # another jumpdata writing the same bytes
    (tmp_path / "b" / "toy.json").write_text(json.dumps(m))
    assert a == fingerprint(tmp_path / "b") and fingerprint_differences(a, b) == []
    assert set(a) == {"digest", "generator", "seed", "config", "frame_shape", "views_per_scene", "viewpoint_kind",
                      "splits"}
    assert a["frame_shape"] == [8, 8, 3] and a["views_per_scene"] == 3 and a["splits"]["train"]["scenes"] == 20
    assert json.loads(json.dumps(a)) == a and len(a["digest"]) == 64


def test_other_data_under_the_same_name_is_named_fact_by_fact(tmp_path):
    base = make(tmp_path / "base")
    assert fingerprint_differences(base, make(tmp_path / "size", size=9)) == [
        "config.size 8 vs 9", "frame_shape [8, 8, 3] vs [9, 9, 3]"]
    assert fingerprint_differences(base, make(tmp_path / "views", views=4)) == [
        "config.views 3 vs 4", "views_per_scene 3 vs 4"]
    assert fingerprint_differences(base, make(tmp_path / "seed", seed=4)) == ["seed 3 vs 4"]
    assert fingerprint_differences(base, make(tmp_path / "more", n=27)) == ["train scenes 20 vs 27"]
    assert fingerprint_differences(base, make(tmp_path / "sharded", shard_size=5)) == [
        "train shards (other files: regenerated or altered)"]   # the 4 test scenes fit one shard either way


def test_a_shard_altered_behind_its_checksum_changes_its_split_only(tmp_path):
    base = make(tmp_path / "d")
    m = json.loads((tmp_path / "d" / "toy.json").read_text())
    m["splits"]["test"]["shards"][0]["sha256"] = "0" * 64   # what a refreshed checksum of an altered shard does
    (tmp_path / "d" / "toy.json").write_text(json.dumps(m))
    assert fingerprint_differences(base, fingerprint(tmp_path / "d")) == [
        "test shards (other files: regenerated or altered)"]


def test_an_older_record_is_compared_on_the_facts_it_has(tmp_path):
    base = make(tmp_path / "base")
    other = make(tmp_path / "other", size=9, seed=5)
    known = {"frame_shape": [8, 8, 3], "views_per_scene": 3}   # what an old run's config knows of its data
    assert fingerprint_differences(known, other) == ["frame_shape [8, 8, 3] vs [9, 9, 3]"]
    assert fingerprint_differences(known, base) == []


def test_a_digest_that_differs_with_every_fact_equal_is_still_a_difference(tmp_path):
    base = make(tmp_path / "base")
    assert fingerprint_differences(dict(base, digest="f" * 64), base) == [
        f"digest ffffffffffff vs {base['digest'][:12]}"]


def test_other_data_is_refused_in_one_line_naming_the_holder_and_the_folder(tmp_path):
    base = make(tmp_path / "base")
    check_same_data(base, load_manifest(tmp_path / "base" / "toy.json"), tmp_path / "base", "runs/r", "run")
    make(tmp_path / "other", seed=4)
    with pytest.raises(UserError) as e:
        check_same_data(base, load_manifest(tmp_path / "other" / "toy.json"), tmp_path / "other", "runs/r", "run")
    assert str(e.value) == (f"runs/r was trained on other data than 'toy' in {tmp_path / 'other'}: seed 3 vs 4 "
                            f"(run vs data)")


def test_nested_config_values_are_named_by_their_path():
    recorded = {"config": {"size": 32, "vocabulary": {"radii": [2.0, 3.0], "colors": 7}}}
    found = {"config": {"size": 32, "vocabulary": {"radii": [4.0, 6.0], "colors": 7}}}
    assert fingerprint_differences(recorded, found) == ["config.vocabulary.radii [2.0, 3.0] vs [4.0, 6.0]"]
