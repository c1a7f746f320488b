"""Where is a story run's story lost: in the renderer or in the prior? A diagnostic of the story runs
(docs/model.md, "Where the story is lost"), not a speed benchmark.

    python bench/story_gap.py (RUN --probe PROBE | --pretrained NAME) [--scenes 100] [--context-frames 3]
                              [--per-latent 3] [--seed 0]

Per test video, its first `--context-frames` frames are the context and every later frame is predicted four
ways, each joined to the true context, read by the shape probe and judged as `eval --metric story` judges a
sample (probes/story_checks.py):

    truth          the true video
    posterior      the posterior's mean latent given the context and the true later frames, `--per-latent` of
                   them at a time (as many as it trains with: a sum over more is one it never saw), rendered at
                   those frames; a ceiling set by the renderer and the latent
    prior mean     the prior's mean latent given the context (one per video), rendered at every later frame
    prior sample   one latent drawn from the prior (one per video): what `eval --metric story` reads

Prints one row per way: the mean over the videos of `coherent` and the story's graded parts, with a 95%
bootstrap interval over the videos. The posterior's latents differ between the groups of frames, so its
`coherent` and, in color_reaction, `changed_once` are lower bounds.
"""

import argparse
import sys
from pathlib import Path

# Run as `python bench/story_gap.py`, this file's folder comes first on sys.path, and bench/narratives.py would
# hide the narratives package: the repository root replaces it.
sys.path[:] = [str(Path(__file__).resolve().parents[1])] + [
    p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from narratives.spec import STORY_KEY  # noqa: E402

from jump_model.data import open_test_split  # noqa: E402
from jump_model.eval.figures import bootstrap_ci95  # noqa: E402
from jump_model.eval.sampling import as_uint8_frames, scene_batch  # noqa: E402
from jump_model.eval.story import columns, judged  # noqa: E402
from jump_model.pretrained.catalog import CARD_PROBE, PROBE, read_card, shipped_folder  # noqa: E402
from jump_model.pretrained.use import open_pretrained  # noqa: E402
from jump_model.probes.nets import load_probe, read_frames  # noqa: E402
from jump_model.probes.story_checks import CHECKS, read_video  # noqa: E402
from jump_model.run_folder import load_run  # noqa: E402

WAYS = ("truth", "posterior", "prior mean", "prior sample")
CPU = torch.device("cpu")


@torch.no_grad()
def predictions(model, frames, viewpoints, context: int, per_latent: int) -> dict:
    """The later frames of one video (frames uint8 [V, H, W, 3], viewpoints [V, D]) given its first `context`:
    {way: uint8 [V - context, H, W, 3]} for the posterior, the prior's mean and a prior sample (see the module)."""
    ctx, later = list(range(context)), list(range(context, len(frames)))
    posterior = []
    for start in range(0, len(later), per_latent):
        batch = scene_batch(frames, viewpoints, ctx, later[start:start + per_latent], 1, CPU)
        z, _ = model.posterior_kl(batch, model.target_slots(batch), noise=False)
        posterior.append(model.render(z, batch["target_viewpoints"]))
    batch = scene_batch(frames, viewpoints, ctx, later, 1, CPU)
    r = model.batch_context(batch)
    rendered = {"posterior": torch.cat(posterior, dim=1)}
    for way, noise in (("prior mean", False), ("prior sample", True)):
        rendered[way] = model.render(model.latents(r, noise=noise)[0], batch["target_viewpoints"])
    return {way: as_uint8_frames(images)[0] for way, images in rendered.items()}


def story_gap(model, probe, scenes, count: int, context: int, per_latent: int, story: str) -> dict:
    """Judge the first `count` test videos of `scenes` four ways (WAYS): returns {way: {part: float64 [count]}}."""
    rows = {way: [] for way in WAYS}
    for i in range(count):
        frames, viewpoints, labels = scenes.frames(i), scenes.viewpoints(i), scenes.labels(i)
        videos = {"truth": frames, **{way: np.concatenate([frames[:context], later]) for way, later in
                                      predictions(model, frames, viewpoints, context, per_latent).items()}}
        for way, video in videos.items():
            kinds, colours = read_frames(probe, video)
            rows[way].append(judged(read_video(kinds, colours, labels), labels, story, context))
    return {way: columns(judgements) for way, judgements in rows.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", nargs="?")
    p.add_argument("--probe", help="the shape probe folder (with RUN)")
    p.add_argument("--pretrained", help="a shipped model, read with its card's probe")
    p.add_argument("--scenes", type=int, default=100)
    p.add_argument("--context-frames", type=int, default=3)
    p.add_argument("--per-latent", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if (a.run is None) == (a.pretrained is None) or (a.run is not None and a.probe is None):
        p.error("give RUN --probe PROBE, or --pretrained NAME")
    if a.pretrained:
        shipped = open_pretrained(a.pretrained, a.scenes)
        model, scenes = shipped.model, shipped.scenes
        probe_folder = shipped_folder(read_card(shipped_folder(a.pretrained))[CARD_PROBE], PROBE)
    else:
        cfg, model, _ = load_run(a.run)
        scenes, probe_folder = open_test_split(cfg, a.run), a.probe
    story = scenes.manifest.get("config", {}).get(STORY_KEY)
    if story not in CHECKS:
        p.error(f"the run's data are not narrative videos (story {story!r})")
    torch.manual_seed(a.seed)
    gap = story_gap(model, load_probe(probe_folder)[1], scenes, a.scenes, a.context_frames, a.per_latent, story)
    print(f"{story}, {a.scenes} test videos, {a.context_frames} context frames, posterior {a.per_latent} frames "
          f"per latent, seed {a.seed}: mean [95% interval over the videos]")
    for way, parts in gap.items():
        print(f"{way:13s} " + "  ".join(f"{name} {values.mean():.3f} {np.round(bootstrap_ci95(values), 3).tolist()}"
                                        for name, values in parts.items()))


if __name__ == "__main__":
    main()
