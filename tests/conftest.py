import sys
import time
from pathlib import Path

import pytest

from dice3d import make_spec as dice_spec
from scene_shards import generate_dataset

sys.path.insert(0, str(Path(__file__).parent))  # test helpers such as toy_generator

#: Seconds after which a test that waits for a state gives up, as a guard against a hang only: a test waits for
#: a state (a file, a line) and never for a time, so on a loaded machine it waits longer and still passes.
HANG_GUARD_S = 900


def wait_for(condition, proc, poll_s: float = 0.02) -> None:
    """Wait until `condition()` is true while the subprocess `proc` runs; fail if `proc` exits first (or after
    HANG_GUARD_S, a hang)."""
    start = time.monotonic()
    while not condition():
        code = proc.poll()
        assert code is None, f"the process ended (status {code}) before the awaited state"
        assert time.monotonic() - start < HANG_GUARD_S, "hang: the awaited state never came"
        time.sleep(poll_s)


@pytest.fixture
def one_thread():
    """Run a test's small models on one thread: on a shared, loaded CPU two threads are many times slower."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# The datasets of the eval tests (test_eval.py, test_eval_known_answers.py); a module defining its own wins.

@pytest.fixture(scope="module")
def dice(tmp_path_factory):
    """A tiny dice dataset: 16x16, 20 views, 4 train and 16 test scenes."""
    folder = tmp_path_factory.mktemp("dice")
    generate_dataset(dice_spec(digits=10, views=20, size=16), folder, n=4, test_n=16, seed=0, workers=1)
    return folder


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    """Moving-square videos of 8 frames at 16x16 (time viewpoints)."""
    from model_scenes import make_square_dataset
    folder = tmp_path_factory.mktemp("squares")
    make_square_dataset(folder, kind="time", views=8, n=8, test_n=6)
    return folder
