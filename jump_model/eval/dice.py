"""The dice metrics, on the views of a hidden cube face (hidden_face.py): `nelbo` (figure 5b) and `consistency`
(section 4: KL1 and KL3, the posterior given one or three views of the hidden face).

    dice_picks          the scenes the dice metrics measure (shared by every dice metric of one call)
    nelbo_per_scene     negative ELBO of the views of a hidden cube face
    kl_per_scene        KL1 and KL3
"""

import numpy as np
import torch

from scene_shards.common import UserError

from .. import names
from .figures import entry, figure
from .hidden_face import TARGET_VIEWS, select_scenes
from .metric import Metric
from .plots import save_hidden_face_picture
from .sampling import draw_views, model_device, per_scene, sample_chunks, scene_batch

DEFAULT_DICE_CONTEXT = 3      # at most 3 context views (the dice preset's context)
MIN_QUALIFIED = 10            # fewer qualifying dice scenes than this is too few for an interval
PICTURE_SCENES, PICTURE_SAMPLES = 2, 4   # pictures: scenes shown, samples per run and scene
PICTURE_SEED = 1              # the seed of the pictures' draws (the figures use 0)
CAMERA_SCENES = f"camera scenes with the {names.FACE_LABEL} label (jumpdata dice)"


def dice_picks(study) -> list:
    """Return the HiddenFace of every qualifying scene of the study (computed once per study). UserError when a
    run has no latent of the whole scene or fewer than MIN_QUALIFIED scenes qualify."""
    def select():
        if any(r.kind == names.AUTOREGRESSIVE for r in study.runs):
            raise UserError("the dice metrics need a latent of the whole scene: the ar model has none")
        picks = select_scenes(study.scenes, study.indices, dice_context(study))
        if len(picks) < MIN_QUALIFIED:
            raise UserError(
                f"only {len(picks)} of {len(study.indices)} test scenes of '{study.scenes.name}' have context views "
                f"hiding a side face and {TARGET_VIEWS} views showing it (at least {MIN_QUALIFIED} needed): "
                f"generate more test scenes (--test-n) or more views per scene (jumpdata dice --views 20)")
        return picks
    return study.shared("dice_picks", select)


def dice_context(study) -> int:
    """Return the most context views of the dice metrics (--context-frames, default DEFAULT_DICE_CONTEXT);
    UserError when they leave fewer than TARGET_VIEWS other views in the study's scenes."""
    context, views = study.settings.context_frames or DEFAULT_DICE_CONTEXT, study.scenes.views_per_scene
    if context + TARGET_VIEWS > views:
        raise UserError(f"--context-frames {context}: the scenes of '{study.scenes.name}' have {views} views, and "
                        f"the dice metrics need {TARGET_VIEWS} target views beside the context (at most "
                        f"{views - TARGET_VIEWS})")
    return context


def pick_batch(scenes, pick, targets: int, n: int, device) -> dict:
    """A batch of `n` copies of one HiddenFace pick's scene: its context views, its first `targets` target views."""
    return scene_batch(scenes.frames(pick.scene), scenes.viewpoints(pick.scene), list(pick.context),
                       list(pick.targets[:targets]), n, device)


@torch.no_grad()
def nelbo_per_scene(model, scenes, picks, samples: int, pixel_variance: float, seed: int = 0,
                    on_scene=None) -> np.ndarray:
    """Per HiddenFace pick: the negative ELBO (nats) of all its target views given its context, at the fixed
    `pixel_variance`, averaged over `samples` posterior samples. Returns float64 [len(picks)]."""
    device = model_device(model)

    def nelbo(pick):
        return sum(float(model.scene_losses(pick_batch(scenes, pick, len(pick.targets), n, device),
                                            pixel_variance)["nelbo"].double().sum())
                   for n in sample_chunks(samples)) / samples

    return np.array(per_scene(picks, lambda p: p.scene, nelbo, seed, on_scene))


@torch.no_grad()
def kl_per_scene(model, scenes, picks, samples: int, seed: int = 0, on_scene=None) -> tuple:
    """Per HiddenFace pick: KL1, the KL (nats) from the posterior given its first target view to the prior given
    its context, and KL3, the same with all its target views; each averaged over `samples` posterior samples.

    Returns (kl1, kl3), float64 [len(picks)] each.
    """
    device = model_device(model)

    def kl_pair(pick):
        sums = {1: 0.0, len(pick.targets): 0.0}
        for targets in sums:
            for n in sample_chunks(samples):
                sums[targets] += float(model.kl(pick_batch(scenes, pick, targets, n, device)).double().sum())
        return sums[1] / samples, sums[len(pick.targets)] / samples

    pairs = per_scene(picks, lambda p: p.scene, kl_pair, seed, on_scene)
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


class DiceMetric(Metric):
    """A metric on the dice selection: its JSON records the scenes checked, the samples and the target views."""

    viewpoint_kind, labels, needs, default_samples = "camera", (names.FACE_LABEL,), CAMERA_SCENES, 30

    def check(self) -> None:
        self.picks = dice_picks(self.study)

    def units(self) -> int:
        return len(self.picks) * len(self.study.runs)

    def dice_header(self) -> dict:
        """The top of the JSON, with the scene count checked and the selection's settings."""
        return {**self.header(len(self.picks)), names.SCENES_CHECKED: len(self.study.indices),
                names.SAMPLES: self.samples(), names.CONTEXT_FRAMES: dice_context(self.study),
                names.TARGET_VIEWS: TARGET_VIEWS}


class Nelbo(DiceMetric):
    """nelbo: the negative ELBO of the three views of the hidden face, at the first run's eval_pixel_variance."""

    name, figures = names.NELBO, ("nelbo",)

    def measure(self, progress) -> dict:
        variance, entries = float(self.study.runs[0].cfg.eval_pixel_variance), []
        for run in self.study.runs:
            progress.text = f"nelbo {run.path}"
            per_scene = nelbo_per_scene(run.model, self.study.scenes, self.picks, self.samples(), variance,
                                        on_scene=progress.step)
            entries.append(entry(run, nelbo=figure(per_scene)))
        return {**self.dice_header(), names.PIXEL_VARIANCE: variance, names.RUNS: entries}


class Consistency(DiceMetric):
    """consistency: KL1, KL3, their ratio and the spread of KL3 - KL1; pictures sampled views of the hidden face."""

    name, figures = names.CONSISTENCY, ("kl1", "kl3", "ratio", "kl3_minus_kl1_sd")
    pictures = {"hidden_face": save_hidden_face_picture}

    def measure(self, progress) -> dict:
        entries = []
        for run in self.study.runs:
            progress.text = f"consistency {run.path}"
            kl1, kl3 = kl_per_scene(run.model, self.study.scenes, self.picks, self.samples(), on_scene=progress.step)
            both = np.stack([kl1, kl3], axis=1)
            entries.append(entry(
                run, kl1=figure(kl1), kl3=figure(kl3),
                ratio=figure(both, lambda v: v[:, 1].mean() / v[:, 0].mean()),
                kl3_minus_kl1_sd=figure(both, lambda v: (v[:, 1] - v[:, 0]).std(ddof=1))))
        return {**self.dice_header(), names.RUNS: entries}

    def picture_data(self) -> dict:
        """Sampled views of the hidden face: per shown scene a dict with the context and true target views (uint8
        [n, H, W, 3]) and, per run, samples uint8 [PICTURE_SAMPLES, TARGET_VIEWS, H, W, 3] (one z per sample for
        a jumpy model)."""
        study, shown = self.study, []
        for pick in self.picks[:PICTURE_SCENES]:
            frames, views = study.scenes.frames(pick.scene), study.scenes.viewpoints(pick.scene)
            ctx, tgt = list(pick.context), list(pick.targets)
            rows = dict(zip((study.picture_name(run) for run in study.runs), per_scene(
                study.runs, lambda run: pick.scene,
                lambda run: draw_views(run.model, frames, views, ctx, tgt, PICTURE_SAMPLES), PICTURE_SEED)))
            shown.append({"scene": pick.scene, "face": pick.face, "context": frames[ctx], "truth": frames[tgt],
                          "samples": rows})
        return {"hidden_face": shown}


PLUGINS = (Nelbo, Consistency)   # the metrics this file registers (registry.py)
