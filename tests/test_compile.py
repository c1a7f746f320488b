"""--compile compiles once: a 50-step training run whose scenes draw different view counts at every step gives one
graph, no graph break and no recompile (torch._dynamo's counters), and so does a short run of every baseline; the
sampling path of every model likewise
compiles to one graph that serves scene after scene. Slow (a minute or more of compiling on a CPU): run with
-m slow; `make gpu-check` runs them. Skipped where torch.compile has no C++ compiler to use."""

import shutil

import pytest
import torch
from torch._dynamo.utils import counters

from jump_model.names import MODEL_KINDS
from jump_model.nets import make_model
from jump_model.run_folder import plan_run
from jump_model.training import train
from model_scenes import make_square_dataset, model_config
from test_model_training import jumpdata

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on the CPU needs a C++ compiler")]


@pytest.fixture(autouse=True)
def fresh_counters():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


def compiled_once():
    """Assert torch._dynamo compiled exactly one graph, with no graph break and no recompile."""
    assert not counters["graph_break"], dict(counters["graph_break"])
    assert counters["stats"]["unique_graphs"] == 1
    assert counters["frames"]["total"] == counters["frames"]["ok"] <= 1


def test_a_compiled_50_step_run_compiles_once_and_samples_compiled(tmp_path, capsys):
    make_square_dataset(tmp_path / "squares")
    cfg = plan_run(tmp_path / "squares", preset="tiny", steps=50, batch_size=4, context=3, targets=3, workers=0,
                   log_every=10, eval_every=50, sample_every=10**6, checkpoint_every=50, eval_scenes=4,
                   compile=True, device="cpu")
    train(cfg, tmp_path / "run")   # every step draws 1..3 context and 1..3 target views per scene
    compiled_once()
    torch._dynamo.reset()
    counters.clear()
    code, err = jumpdata(capsys, "sample", tmp_path / "run", "--compile", "--samples", "3",
                         "--out", tmp_path / "s.png")
    assert code == 0, err
    assert (tmp_path / "s.png").stat().st_size > 0
    compiled_once()


@pytest.mark.parametrize("kind", [k for k in MODEL_KINDS if k != "jump"])
def test_a_compiled_run_of_every_baseline_compiles_once(kind, tmp_path):
    make_square_dataset(tmp_path / "squares")
    cfg = plan_run(tmp_path / "squares", preset="tiny", model=kind, steps=8, batch_size=4, context=3,
                   targets={"badj": 1, "ar": 3}.get(kind, 3), workers=0, log_every=4, eval_every=8,
                   sample_every=10**6, checkpoint_every=8, eval_scenes=4, compile=True, device="cpu")
    train(cfg, tmp_path / "run")   # every step draws other view counts per scene (ar: other context lengths)
    compiled_once()


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_sampling_compiles_once_for_every_model(kind):
    torch.manual_seed(0)
    model = make_model(model_config("time", model=kind, size=16, views=6, **({"targets": 1} if kind == "badj"
                                                                             else {}))).eval()
    model.compile_sampling(lambda fn: torch.compile(fn, fullgraph=True))
    for scene in range(3):   # other frames and context times each time, the same shapes (and ar's roll length)
        g = torch.Generator().manual_seed(scene)
        frames = torch.randint(0, 256, (4, 2, 16, 16, 3), dtype=torch.uint8, generator=g)
        out = model.sample(frames, torch.tensor([[float(scene % 2)], [1.0]]).expand(4, 2, 1),
                           torch.tensor([[3.0], [4.0], [5.0]]).expand(4, 3, 1))
        assert out.shape == (4, 3, 3, 16, 16) and torch.isfinite(out).all()
    compiled_once()
