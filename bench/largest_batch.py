"""The largest training batch that fits on the device, per preset: one eager training step (forward, backward,
Adam) at the run's default precision on made-up 64x64 scenes, batch sizes doubled until one runs out of memory,
then bisected.

    python bench/largest_batch.py [--presets salesman,dice] [--device cuda] [--size 64] [--most 4096]
                                  [--figures FILE]

The static step computes every context and target slot whatever the masks, so the memory a batch needs does not
depend on how many views its scenes draw: the figure holds for any batch of that size. Prints one line per preset
(and appends a row to --figures, see bench/run_figures.py).
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run_figures import append_row  # noqa: E402
from jump_model.config import DataFacts, new_run_config  # noqa: E402
from jump_model.nets import make_model  # noqa: E402
from jump_model.runtime import capabilities, choose_precision, resolve_device  # noqa: E402
from jump_model.training.loop import Optimisation  # noqa: E402

START = 16   # the first batch size tried


def preset_config(preset: str, size: int):
    """Return the RunConfig of `preset` for a made-up dataset of size x size frames and 21 time views (salesman)
    or camera views (dice)."""
    camera = preset == "dice"
    facts = DataFacts(dataset=preset, generator="dice" if camera else "narratives", data_dir="/nowhere",
                      manifest="/nowhere/x.json", image_size=size, views_per_scene=21,
                      viewpoint_kind="camera" if camera else "time", position_scale=1.0)
    return new_run_config(facts, preset)


def made_up_batch(cfg, batch: int, device: torch.device) -> dict:
    """A batch of `batch` random scenes with every context and target slot real, on `device`."""
    view = 1 if cfg.model.viewpoint_kind == "time" else 5
    size = cfg.model.image_size
    slots = lambda n: {"frames": torch.randint(0, 256, (batch, n, size, size, 3), dtype=torch.uint8, device=device),
                       "viewpoints": torch.rand(batch, n, view, device=device),
                       "mask": torch.ones(batch, n, dtype=torch.bool, device=device)}
    ctx, tgt = slots(cfg.context), slots(cfg.targets)
    return {**{f"context_{k}": v for k, v in ctx.items()}, **{f"target_{k}": v for k, v in tgt.items()}}


def fits(cfg, batch: int, device: torch.device, precision) -> bool:
    """Return True if one training step at `batch` runs on `device` without running out of memory."""
    model = make_model(cfg.model).to(device)
    step = Optimisation(model, model, cfg, precision, device)
    try:
        step(made_up_batch(cfg, batch, device), torch.tensor(0.5, device=device))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return True
    except torch.OutOfMemoryError:
        return False
    finally:
        del model, step
        if device.type == "cuda":
            torch.cuda.empty_cache()


def largest_batch(cfg, device: torch.device, precision, most: int) -> tuple:
    """Return (the largest batch size that fits, up to `most`; True when `most` itself fits). Doubles from START,
    then bisects between the last size that fit and the first that did not."""
    good, bad = 0, None
    size = min(START, most)
    while bad is None and good < most:
        if fits(cfg, size, device, precision):
            good, size = size, min(2 * size, most)
        else:
            bad = size
    while bad is not None and bad - good > max(1, good // 16):   # within about 6%
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(cfg, middle, device, precision) else (good, middle)
    return good, good == most


def main():
    """Parse arguments; print (and append to --figures) the largest batch of each preset."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="salesman,dice")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, default=64, help="frame size (pixels)")
    parser.add_argument("--most", type=int, default=4096, help="largest batch tried (the CLI's --batch-size limit)")
    parser.add_argument("--figures", help="append a row per preset to this figures file")
    args = parser.parse_args()
    device = resolve_device(args.device)
    precision = choose_precision(capabilities(device), amp=True)
    print(f"device {device}; {precision.line}")
    for preset in args.presets.split(","):
        cfg = preset_config(preset, args.size)
        batch, capped = largest_batch(cfg, device, precision, args.most)
        shown = f">={batch}" if capped else str(batch)
        print(f"{preset}: largest batch {shown} ({args.size}x{args.size}, context {cfg.context}, targets "
              f"{cfg.targets}){' (the most tried)' if capped else ''}", flush=True)
        append_row(args.figures, {"name": f"{preset}, largest batch", "largest_batch": shown})


if __name__ == "__main__":
    main()
