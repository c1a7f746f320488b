"""scene_shards.files.FileGroup: a report and its pictures appear together or not at all."""

import errno

import pytest

from scene_shards.files import FileGroup


def written(folder):
    return sorted(p.name for p in folder.iterdir())


def test_every_file_appears_when_all_were_written(tmp_path):
    (tmp_path / "r.json").write_text("old")
    with FileGroup() as group:
        group.temporary(tmp_path / "r.json").write_text("new")
        group.temporary(tmp_path / "r.png").write_bytes(b"png")
        assert not (tmp_path / "r.png").exists() and (tmp_path / "r.json").read_text() == "old"   # not yet
    assert written(tmp_path) == ["r.json", "r.png"] and (tmp_path / "r.json").read_text() == "new"


def test_a_failure_while_writing_leaves_nothing_and_names_the_file(tmp_path):
    (tmp_path / "r.json").write_text("old")
    with pytest.raises(OSError, match=f"cannot write {tmp_path}/r.png: No space left on device") as e:
        with FileGroup() as group:
            group.temporary(tmp_path / "r.json").write_text("new")
            group.temporary(tmp_path / "r.png").write_bytes(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert e.value.errno == errno.ENOSPC
    assert written(tmp_path) == ["r.json"] and (tmp_path / "r.json").read_text() == "old"


def test_a_final_name_taken_by_a_folder_stops_every_file(tmp_path):
    (tmp_path / "r.png").mkdir()
    with pytest.raises(IsADirectoryError, match=f"cannot write {tmp_path}/r.png: a folder has that name"):
        with FileGroup() as group:
            group.temporary(tmp_path / "r.json").write_text("new")
            group.temporary(tmp_path / "r.png").write_bytes(b"png")
    assert written(tmp_path) == ["r.png"] and not any((tmp_path / "r.png").iterdir())


def test_any_other_error_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        with FileGroup() as group:
            group.temporary(tmp_path / "r.json").write_text("new")
            raise ValueError("a figure is NaN")
    assert written(tmp_path) == []
