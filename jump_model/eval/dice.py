"""The dice metrics, on the views of a hidden cube face (hidden_face.py): `nelbo` (figure 5b) and `consistency`
(section 4: KL1 and KL3, the posterior given one or three views of the hidden face).

    dice_picks          the scenes the dice metrics measure (shared by every dice metric of one call)
    nelbo_terms         KL and squared error of the views of a hidden cube face, nelbo_at a pixel variance
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
from ..nets.blocks import gaussian_nll
from .sampling import draw_views, model_device, per_scene, sample_chunks, scene_batch

DEFAULT_DICE_CONTEXT = 3      # at most 3 context views (the dice preset's context)
MIN_QUALIFIED = 10            # fewer qualifying dice scenes than this is too few for an interval
PICTURE_SCENES, PICTURE_SAMPLES = 2, 4   # pictures: scenes shown, samples per run and scene
PICTURE_SEED = 1              # the seed of the pictures' draws (the figures use 0)
CURVE_VARIANCES = (0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 2.0)   # nelbo_curve's pixel variances, with two more
PAPER_VARIANCE, PAPER_IMAGE_SIZE = 0.9, 64                 # the end of the paper's dice schedule, at 64x64
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
def nelbo_terms(model, scenes, picks, samples: int, pixel_variance: float, seed: int = 0, on_scene=None) -> dict:
    """Per HiddenFace pick, over `samples` posterior samples of all its target views given its context: the mean
    KL (nats) and the mean sum of squared errors of the posterior's reconstruction (pixels in [0, 1]), with the
    number of pixel values they sum over. The models read `pixel_variance` only in their NLL, so the KL and the
    squared errors give the NELBO at any variance (nelbo_at).

    Returns {"kl": float64 [N], "sq": float64 [N], "values": float64 [N]}; nelbo_at() makes the NELBO of them."""
    device = model_device(model)

    def terms(pick):
        kl = sq = 0.0
        for n in sample_chunks(samples):
            losses = model.scene_losses(pick_batch(scenes, pick, len(pick.targets), n, device), pixel_variance)
            kl += float(losses["kl"].double().sum())
            sq += float((losses["mse"].double() * pick_values(scenes, pick)).sum())
        return kl / samples, sq / samples, pick_values(scenes, pick)

    rows = np.array(per_scene(picks, lambda p: p.scene, terms, seed, on_scene), np.float64).reshape(-1, 3)
    return {"kl": rows[:, 0], "sq": rows[:, 1], "values": rows[:, 2]}


def pick_values(scenes, pick) -> int:
    """The number of pixel values (pixels x channels) of a pick's target views."""
    return len(pick.targets) * int(np.prod(scenes.frame_shape))


def nelbo_at(terms: dict, pixel_variance: float) -> np.ndarray:
    """Per scene the negative ELBO (nats) at `pixel_variance` of nelbo_terms' figures: KL + the Gaussian NLL of
    the squared errors. Returns float64 [N]."""
    return terms["kl"] + gaussian_nll(terms["sq"], terms["values"], pixel_variance)


def curve_variances(headline: float, image_size: int) -> list:
    """The pixel variances of nelbo_curve: CURVE_VARIANCES, the headline's and the paper's 0.9 at 64x64 scaled
    to `image_size` (the same weight of the summed squared errors against the KL: 0.9 x size^2 / 64^2), sorted."""
    scaled = PAPER_VARIANCE * image_size ** 2 / PAPER_IMAGE_SIZE ** 2
    return sorted({round(v, 6) for v in (*CURVE_VARIANCES, headline, scaled)})


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
    """nelbo: the negative ELBO of the three views of the hidden face at the first run's eval_pixel_variance, its
    KL and NLL, and the NELBO at the variances of curve_variances."""

    name, figures = names.NELBO, ("nelbo", "kl", "nll")

    def measure(self, progress) -> dict:
        variance, entries = float(self.study.runs[0].cfg.eval_pixel_variance), []
        curve = curve_variances(variance, self.study.scenes.frame_shape[0])
        for run in self.study.runs:
            progress.text = f"nelbo {run.path}"
            terms = nelbo_terms(run.model, self.study.scenes, self.picks, self.samples(), variance,
                                on_scene=progress.step)
            nll = gaussian_nll(terms["sq"], terms["values"], variance)
            points = [(names.PIXEL_VARIANCE, v, figure(nelbo_at(terms, v))) for v in curve]
            entries.append(entry(run, curves={names.NELBO_CURVE: points}, nelbo=figure(terms["kl"] + nll),
                                 kl=figure(terms["kl"]), nll=figure(nll)))
        return {**self.dice_header(), names.PIXEL_VARIANCE: variance, names.RUNS: entries}


class Consistency(DiceMetric):
    """consistency: KL1, KL3, their ratio and the spread of KL3 - KL1, on the selected scenes whose later target
    views show nothing the context and the first target do not (so a consistent model gives KL3 = KL1);
    pictures sampled views of the hidden face."""

    name, figures = names.CONSISTENCY, ("kl1", "kl3", "ratio", "kl3_minus_kl1_sd")
    pictures = {"hidden_face": save_hidden_face_picture}

    def check(self) -> None:
        self.selected = dice_picks(self.study)
        self.picks = [p for p in self.selected if p.new_area == 0 and p.new_walls == 0]
        if len(self.picks) < MIN_QUALIFIED:
            raise UserError(
                f"only {len(self.picks)} of {len(self.selected)} selected test scenes of '{self.study.scenes.name}' "
                f"have later views of the hidden face that show nothing new (no cube face, no wall the context and "
                f"the first view do not show; at least {MIN_QUALIFIED} needed): generate more views per scene "
                f"(jumpdata dice --views 20) or more test scenes (--test-n)")

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
        views = [{names.SCENE: p.scene, names.FACE: p.face, names.CONTEXT: list(p.context),
                  names.TARGETS: list(p.targets), names.NEW_AREA: p.new_area, names.NEW_WALLS: p.new_walls,
                  names.MEASURED: p in self.picks} for p in self.selected]
        return {**self.dice_header(), names.SCENES_SELECTED: len(self.selected), names.VIEWS: views,
                names.RUNS: entries}

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
