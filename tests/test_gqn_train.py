"""Item 4 of the GQN work: an imported GQN dataset trains with the dice preset's camera handling (JUMP and the
camera baselines) and `jumpdata show` draws it."""

import json
import math

import pytest
from gqn_sources import write_gqn_dataset
from PIL import Image
from test_bad_input import jumpdata

from gqn_records.importer import import_gqn
from gqn_records.layout import DEEPMIND_CAMERA, PYTORCH_PORTS_CAMERA

STEPS = ["--steps", "2", "--batch-size", "2", "--log-every", "1", "--sample-every", "2", "--eval-every", "2",
         "--checkpoint-every", "2", "--device", "cpu", "--workers", "0"]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A tiny imported GQN dataset: 6 train and 2 test scenes of 6 views of 16x16."""
    root = tmp_path_factory.mktemp("gqn")
    write_gqn_dataset(root / "src", "tinyrooms", {"train": [4, 2], "test": [2]}, views=6, size=16)
    import_gqn(root / "src", "tinyrooms", root / "shards", workers=1)
    return root


@pytest.mark.parametrize("model", ["jump", "gqn", "badj"])
def test_training_on_imported_gqn_data_with_the_dice_preset(imported, capsys, model):
    out = imported / f"run-{model}"
    code, err = jumpdata(capsys, "train", imported / "shards", "--model", model, "--out", out, *STEPS)   # no --preset
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "dice"            # a gqn dataset gets the dice preset, not salesman's
    assert config["model"]["viewpoint_kind"] == "camera" and config["model"]["image_size"] == 16
    assert config["model"]["camera_encoding"] == PYTORCH_PORTS_CAMERA
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines if "loss" in m][-1] == 2
    assert all(math.isfinite(m["loss"]) for m in lines if "loss" in m)


def test_show_draws_an_imported_dataset(imported, capsys):
    picture = imported / "rooms.png"
    code, err = jumpdata(capsys, "show", imported / "shards", "--scenes", "0-2", "--scale", "2", "--out", picture)
    assert code == 0, err
    with Image.open(picture) as image:   # 3 rows of scenes, 6 views across, each view 32x32 (grid lines between)
        width, height = image.size
    assert 6 * 32 <= width < 6 * 32 + 20 and 3 * 32 <= height < 3 * 32 + 20


def test_mazes_sized_frames_train_once_resized_at_import(tmp_path, capsys):
    write_gqn_dataset(tmp_path / "src", "tinymazes", {"train": [3], "test": [1]}, views=6, size=84)
    code, err = jumpdata(capsys, "train", *_imported(tmp_path, capsys, []), "--out", tmp_path / "run84", *STEPS)
    assert code != 0 and "frames of 84x84 do not fit preset 'dice'" in err
    code, err = jumpdata(capsys, "train", *_imported(tmp_path, capsys, ["--size", "64"]), "--out", tmp_path / "run",
                         *STEPS)
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["image_size"] == 64


def _imported(tmp_path, capsys, options: list) -> list:
    """Import tmp_path/src's tinymazes with `options` into a folder of its own; return train's data arguments."""
    out = tmp_path / ("shards" + "".join(options))
    code, err = jumpdata(capsys, "import-gqn", tmp_path / "src", "--dataset", "tinymazes", "--out", out,
                         "--workers", "1", *options)
    assert code == 0, err
    return [out, "--dataset", "tinymazes"]


def test_a_config_naming_another_camera_encoding_is_refused():
    from jump_model.config import ModelConfig
    from scene_shards.common import UserError
    assert ModelConfig(viewpoint_kind="camera", camera_encoding=PYTORCH_PORTS_CAMERA).validate()
    with pytest.raises(UserError, match="camera-encoding 'deepmind-7.*pytorch-ports-7"):   # a hand-edited config.json
        ModelConfig.from_dict({"viewpoint_kind": "camera", "camera_encoding": DEEPMIND_CAMERA}).validate()
    with pytest.raises(UserError, match="for time viewpoints"):
        ModelConfig(viewpoint_kind="time", camera_encoding=PYTORCH_PORTS_CAMERA).validate()
