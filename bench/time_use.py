"""Does a video run's renderer use the time viewpoint? A diagnostic of the story runs (docs/model.md, "Why the
actor does not move"), not a speed benchmark.

    python bench/time_use.py RUN [--split train] [--scenes 0,1,2,3] [--context 0,1,2] [--targets 5,11,17]
                             [--out FILE.png]

For each scene: the posterior's latent given the context frames and the target frames (its means: no noise),
rendered at every frame time 0..V-1. Prints per scene the KL of that posterior (nats), the MSE of the rendering
at the target times and at all times (pixels in [0, 1]), and the mean absolute change between consecutive
rendered frames beside the true video's; then, as references for the MSE, a static picture of each video: its
time average (the best frame that does not depend on time) and its median (the resting shapes without the
actor). A renderer that ignores time changes its frames far less than the video does and scores near the time
average. `--out` draws, per scene, the rendered row above the true row.
"""

import argparse
import sys
from pathlib import Path

# Run as `python bench/time_use.py`, this file's folder comes first on sys.path, and bench/narratives.py would
# hide the narratives package: the repository root replaces it.
sys.path[:] = [str(Path(__file__).resolve().parents[1])] + [
    p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from jump_model.data import open_split  # noqa: E402
from jump_model.eval.sampling import scene_batch  # noqa: E402
from jump_model.nets.blocks import frames_to_images  # noqa: E402
from jump_model.run_folder import load_run  # noqa: E402


def indices(text: str) -> list:
    """Parse "0,1,2" -> [0, 1, 2]."""
    return [int(x) for x in text.split(",")]


@torch.no_grad()
def rendered_video(model, frames, viewpoints, context: list, targets: list) -> tuple:
    """The posterior's mean latent of one video given `context` and `targets` (frame indices), rendered at every
    frame: returns (images float [V, 3, H, W] in [0, 1], KL in nats)."""
    frames, viewpoints = np.asarray(frames), np.asarray(viewpoints, dtype=np.float32)
    batch = scene_batch(frames, viewpoints, context, targets, 1, torch.device("cpu"))
    z, kl = model.posterior_kl(batch, model.target_slots(batch), noise=False)
    return model.render(z, torch.as_tensor(viewpoints)[None])[0], float(kl[0])


def change(video) -> float:
    """Mean absolute change between consecutive frames of a video [V, ...]."""
    return float((video[1:] - video[:-1]).abs().mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--split", default="train")
    p.add_argument("--scenes", default="0,1,2,3")
    p.add_argument("--context", default="0,1,2")
    p.add_argument("--targets", default="5,11,17")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg, model, step = load_run(args.run)
    scenes = open_split(cfg, args.split, args.run)
    context, targets = indices(args.context), indices(args.targets)
    rows, sums = [], {"kl": [], "target mse": [], "mse": [], "change": [], "true change": [], "time average": [],
                      "median": []}
    print(f"{args.run} (step {step}), {args.split} scenes {args.scenes}, context {context}, targets {targets}")
    for i in indices(args.scenes):
        truth = frames_to_images(torch.as_tensor(np.asarray(scenes.frames(i))))
        images, kl = rendered_video(model, scenes.frames(i), scenes.viewpoints(i), context, targets)
        err = ((images - truth) ** 2).mean((1, 2, 3))
        figures = {"kl": kl, "target mse": float(err[targets].mean()), "mse": float(err.mean()),
                   "change": change(images), "true change": change(truth),
                   "time average": float(((truth - truth.mean(0)) ** 2).mean()),
                   "median": float(((truth - truth.median(0).values) ** 2).mean())}
        print(f"  scene {i}: " + ", ".join(f"{k} {v:.4f}" for k, v in figures.items()))
        for k, v in figures.items():
            sums[k].append(v)
        rows += [torch.cat(list(images), 2), torch.cat(list(truth), 2)]
    print("  mean: " + ", ".join(f"{k} {np.mean(v):.4f}" for k, v in sums.items()))
    if args.out:
        from PIL import Image
        picture = (torch.cat(rows, 1).permute(1, 2, 0).numpy() * 255).clip(0, 255).astype(np.uint8)
        Image.fromarray(picture).resize((picture.shape[1] * 2, picture.shape[0] * 2), Image.NEAREST).save(args.out)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
