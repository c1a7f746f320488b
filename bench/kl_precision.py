"""How far the KL the trainer optimises under bf16 autocast is from the same KL in float32.

    python bench/kl_precision.py [FOLDER] [--steps 150] [--batches 8]

When FOLDER holds no run yet (or is not given: a temporary folder), it writes a small 32x32 salesman set into
FOLDER/data and trains a tiny JUMP run (`--preset tiny`, bf16 autocast where the CPU computes bf16 natively)
into FOLDER/run. Then, for the first `--batches` held-out batches
(the trainer's own held-out picks), it computes the per-scene KL of `model.terms` twice with the same posterior
noise: under the trainer's bf16 autocast and with autocast off (the reference), and prints the mean KL of each,
the mean absolute difference per scene and the largest. Run it on two checkouts (before and after a change to
the latent heads) with the same RUN to compare the same weights.
"""

import argparse
import sys
import tempfile
from pathlib import Path

# Run as `python bench/kl_precision.py`, this file's folder comes first on sys.path, and bench/narratives.py
# would hide the narratives package: the repository root replaces it.
sys.path[:] = [str(Path(__file__).resolve().parents[1])] + [
    p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from jump_model.names import CHECKPOINT_FILE
from jump_model.data import open_test_split, to_device
from jump_model.run_folder import load_run, plan_run
from jump_model.runtime import capabilities, derived_seed
from jump_model.training import train
from jump_model.training.held_out import training_examples
from narratives import make_spec
from scene_shards import generate_dataset


def tiny_run(folder: Path, steps: int) -> None:
    """Write a small salesman set into folder/data and train a tiny JUMP run on it for `steps` steps into
    folder/run."""
    generate_dataset(make_spec("salesman", size=32, frames=12), folder / "data", n=256, test_n=32, workers=1)
    cfg = plan_run(folder / "data", preset="tiny", steps=steps, workers=0, log_every=50, eval_every=steps,
                   sample_every=10 ** 9, checkpoint_every=steps)
    train(cfg, folder / "run")


@torch.no_grad()
def kl_pairs(run: Path, batches: int) -> tuple:
    """Return (kl under bf16 autocast, kl in float32), float64 [scenes] each, on the run's held-out batches with
    the same noise for both."""
    cfg, model, _ = load_run(run)
    model.eval()
    examples = training_examples(cfg, open_test_split(cfg), shuffle=False)
    n = min(len(examples), batches * cfg.batch_size)
    low, full = [], []
    for b, start in enumerate(range(0, n, cfg.batch_size)):
        batch = to_device(torch.utils.data.default_collate(
            [examples[i] for i in range(start, min(start + cfg.batch_size, n))]), torch.device("cpu"))
        for out, amp in ((low, True), (full, False)):
            torch.manual_seed(derived_seed(cfg.seed, b))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                out.append(model.terms(batch, cfg.eval_pixel_variance)["kl"].double().numpy())
    return np.concatenate(low), np.concatenate(full)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args()
    print(f"bf16 native on this CPU: {capabilities(torch.device('cpu')).bf16_native}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        run = folder / "run"
        if not (run / CHECKPOINT_FILE).is_file():
            tiny_run(folder, args.steps)
        low, full = kl_pairs(run, args.batches)
    diff = np.abs(low - full)
    print(f"{len(full)} held-out scenes of {run}")
    print(f"KL float32 (reference): mean {full.mean():.4f} nats per scene")
    print(f"KL bf16 autocast:       mean {low.mean():.4f} nats per scene")
    print(f"|bf16 - float32| per scene: mean {diff.mean():.4f}, max {diff.max():.4f} nats "
          f"({diff.mean() / full.mean():.2%} of the mean KL)")


if __name__ == "__main__":
    main()
