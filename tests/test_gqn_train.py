"""Item 4 of the GQN work: an imported GQN dataset trains with the dice preset's camera handling (JUMP and the
camera baselines) and `jumpdata show` draws it."""

import json
import math

import pytest
from gqn_sources import write_gqn_dataset
from PIL import Image
from test_bad_input import jumpdata

from gqn_records.importer import import_gqn

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
    code, err = jumpdata(capsys, "train", imported / "shards", "--preset", "dice", "--model", model, "--out", out,
                         *STEPS)
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["viewpoint_kind"] == "camera" and config["model"]["image_size"] == 16
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
