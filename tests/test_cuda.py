"""JUMP on a CUDA GPU: forward, backward, bf16 autocast, torch.compile (one graph whatever the view counts),
sampling, a checkpoint round trip and the train/resume/sample commands.

Marked `cuda`. Without a GPU they are skipped, unless JUMPDATA_REQUIRE_CUDA=1 (bench/gpu_check.sh sets it):
then each one fails, so a GPU machine whose CUDA is broken cannot pass by skipping. JUMPDATA_TEST_DEVICE=cpu
runs the same tests on the CPU (to check the tests themselves on a machine without a GPU).
"""

import os

import pytest
import torch
from torch._dynamo.utils import counters

from jump_model.nets import JUMP
from model_scenes import make_square_dataset
from test_model import random_batch, tiny_config
from test_model_training import jumpdata

DEVICE = torch.device(os.environ.get("JUMPDATA_TEST_DEVICE", "cuda"))
REQUIRED = os.environ.get("JUMPDATA_REQUIRE_CUDA") == "1"

pytestmark = pytest.mark.cuda


@pytest.fixture(autouse=True)
def device_or_skip():
    """Skip (or fail, with JUMPDATA_REQUIRE_CUDA=1) when the device is CUDA and there is none."""
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        if REQUIRED:
            pytest.fail(f"JUMPDATA_REQUIRE_CUDA=1 but torch {torch.__version__} sees no CUDA GPU")
        pytest.skip("no CUDA GPU")


def on_device(batch: dict) -> dict:
    return {k: v.to(DEVICE) for k, v in batch.items()}


def model_and_batch(kind="time"):
    torch.manual_seed(0)
    return JUMP(tiny_config(kind)).to(DEVICE), on_device(random_batch(kind))


@pytest.mark.parametrize("kind", ["time", "camera"])
def test_forward_and_backward_on_the_device(kind):
    model, batch = model_and_batch(kind)
    out = model(batch, 0.5)
    assert all(v.device.type == DEVICE.type and torch.isfinite(v) for v in out.values())
    out["loss"].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and g.device.type == DEVICE.type and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_bf16_autocast_gives_the_float32_loss_within_bf16_precision():
    model, batch = model_and_batch()
    torch.manual_seed(1)
    full = model(batch, 0.5)["loss"]
    torch.manual_seed(1)
    with torch.autocast(DEVICE.type, dtype=torch.bfloat16):
        half = model(batch, 0.5)
        half["loss"].backward()
    assert torch.isfinite(half["loss"]) and half["loss"].dtype == torch.float32
    assert abs(half["loss"].item() - full.item()) < 0.02 * abs(full.item())
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_torch_compile_matches_eager_forward_and_trains():
    model, batch = model_and_batch()
    compiled = torch.compile(model)
    variance = torch.tensor(0.5, device=DEVICE)
    torch.manual_seed(2)
    eager = model(batch, variance)["loss"]
    torch.manual_seed(2)
    out = compiled(batch, variance)
    torch.testing.assert_close(out["loss"], eager, rtol=1e-3, atol=1e-2)
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_a_compiled_step_is_one_graph_whatever_the_view_counts():
    model, batch = model_and_batch()
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(model, fullgraph=True)
    g = torch.Generator().manual_seed(4)
    for _ in range(4):   # other random context and target counts at every step
        for key in ("context_mask", "target_mask"):
            most = batch[key].shape[1]
            counts = torch.randint(1, most + 1, (len(batch[key]), 1), generator=g)
            batch[key] = (torch.arange(most) < counts).to(DEVICE)
        compiled(batch, torch.tensor(0.5, device=DEVICE))["loss"].backward()
    assert not counters["graph_break"] and counters["stats"]["unique_graphs"] == 1
    torch._dynamo.reset()


def test_sampling_on_the_device_is_consistent_per_z():
    model, batch = model_and_batch()
    model.eval()
    frames = model.sample(batch["context_frames"], batch["context_viewpoints"], batch["target_viewpoints"],
                          batch["context_mask"])
    b, t = batch["target_viewpoints"].shape[:2]
    assert frames.device.type == DEVICE.type and frames.shape == (b, t, 3, 16, 16)
    assert 0 <= float(frames.min()) and float(frames.max()) <= 1


def test_a_checkpoint_from_the_device_loads_weights_only_and_gives_the_same_outputs(tmp_path):
    model, batch = model_and_batch()
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    again = JUMP(tiny_config("time"))
    again.load_state_dict(torch.load(tmp_path / "weights.pt", map_location="cpu", weights_only=True))
    again.to(DEVICE)
    torch.manual_seed(3)
    expected = model(batch, 0.5)["loss"]
    torch.manual_seed(3)
    torch.testing.assert_close(again(batch, 0.5)["loss"], expected)


def test_train_resume_and_sample_commands_on_the_device(tmp_path, capsys):
    data = tmp_path / "squares"
    make_square_dataset(data)
    run = tmp_path / "run"
    common = ["--device", DEVICE.type, "--workers", "0", "--log-every", "1", "--eval-every", "4",
              "--sample-every", "4", "--checkpoint-every", "2"]
    code, err = jumpdata(capsys, "train", data, "--preset", "tiny", "--batch-size", "4", "--steps", "2",
                         "--out", run, *common)
    assert code == 0, err
    code, err = jumpdata(capsys, "train", data, "--resume", "--steps", "4", "--out", run, *common)
    assert code == 0, err
    ckpt = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert ckpt["step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    code, err = jumpdata(capsys, "sample", run, "--samples", "2", "--out", tmp_path / "s.png")
    assert code == 0, err
    assert (tmp_path / "s.png").stat().st_size > 0 and (run / "samples_000004.png").is_file()
