"""The trainer's held-out figures: NELBO and prediction error on the first test scenes, every eval_every steps.
(Not `jumpdata eval`, which measures finished runs: jump_model/eval.)"""

import torch

from ..config import RunConfig
from ..data import to_device, training_examples
from ..nets.blocks import frames_to_images, masked_sum
from ..runtime import derived_seed

EVAL_STREAM = 104   # tag of the model-noise stream of the held-out figures


class HeldOutFigures:
    """Held-out figures on the first `eval_scenes` test scenes with fixed context/target picks and noise, at the
    run's fixed `eval_pixel_variance` (so they compare across steps and runs of the same preset)."""

    KEYS = ("eval_nelbo", "eval_kl", "eval_nll", "eval_recon_mse", "eval_pred_mse")

    def __init__(self, cfg: RunConfig, scenes, device: torch.device):
        self.cfg, self.device, self.scenes = cfg, device, scenes
        n = min(cfg.eval_scenes, len(self.scenes))
        self.examples = training_examples(cfg, scenes, shuffle=False)
        self.batches = [list(range(i, min(i + cfg.batch_size, n))) for i in range(0, n, cfg.batch_size)]

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module) -> dict:
        """Return the means over the evaluation scenes (all in float32) of: eval_nelbo, eval_kl, eval_nll (nats per
        scene), eval_recon_mse (per pixel, the posterior's reconstruction of the targets) and eval_pred_mse (per
        pixel, the targets sampled from the prior given the context: a prediction error)."""
        model.eval()
        totals, count = dict.fromkeys(self.KEYS, 0.0), 0
        for b, idx in enumerate(self.batches):
            torch.manual_seed(derived_seed(self.cfg.seed, EVAL_STREAM, b))
            batch = to_device(torch.utils.data.default_collate([self.examples[i] for i in idx]), self.device)
            figures = self.batch_figures(model, batch)
            for k in self.KEYS:
                totals[k] += float(figures[k].sum())
            count += len(idx)
        model.train()
        return {k: v / count for k, v in totals.items()}

    def batch_figures(self, model: torch.nn.Module, batch: dict) -> dict:
        """Return the per-scene figures (KEYS, each float32 [B]) of one batch."""
        losses = model.scene_losses(batch, self.cfg.eval_pixel_variance)
        truth, mask, query = frames_to_images(batch["target_frames"]), batch["target_mask"], \
            batch["target_viewpoints"]
        query = torch.where(mask[..., None], query, query[:, :1])   # padding asks for the first target again
        predicted = model.sample(batch["context_frames"], batch["context_viewpoints"], query, batch["context_mask"])
        per_view = (predicted - truth).square().flatten(2).mean(2)                      # [B, T]
        scene_pred = masked_sum(per_view, mask) / mask.sum(1)
        return {"eval_nelbo": losses["nelbo"], "eval_kl": losses["kl"], "eval_nll": losses["nll"],
                "eval_recon_mse": losses["mse"], "eval_pred_mse": scene_pred}
