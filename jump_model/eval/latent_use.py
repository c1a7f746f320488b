"""The KL floor of `jumpdata eval`: an `ar` run whose latent is out of use (its KL per predicted frame below
KL_FLOOR nats, so its samples are nearly one) is no fair baseline, and eval stops with one line unless the user
asks for it anyway (`--allow-low-kl`; then one note says so after the table). docs/model.md, "Baselines".
"""

import warnings

import torch
from torch.utils.data import default_collate

from scene_shards.common import Note, UserError

from .. import names
from ..data import to_device, training_examples
from .sampling import model_device

KL_FLOOR = 0.1       # nats per predicted frame: below it an ar run's latent counts as out of use
FLOOR_SCENES = 32    # the first test scenes its KL is measured on
FLOOR_SEED = 0       # torch's seed for the posterior samples of that measurement


@torch.no_grad()
def kl_per_frame(run, scenes, count: int = FLOOR_SCENES) -> float:
    """Return the mean KL per predicted frame (nats) of `run` (anything with .cfg and .model) on the windows it trains
    on (data.training_examples), taken from the first `count` scenes of `scenes` (its test split), one posterior
    sample each with torch seeded by FLOOR_SEED."""
    examples = training_examples(run.cfg, scenes, shuffle=False)
    batch = to_device(default_collate([examples[i] for i in range(min(count, len(scenes)))]), model_device(run.model))
    torch.manual_seed(FLOOR_SEED)
    return float(run.model.kl_per_view(batch).mean())


def check_kl_floor(runs: list, scenes, allow: bool = False) -> None:
    """For every ar run among `runs`: raise UserError (one line) when its kl_per_frame is below KL_FLOOR, or with
    allow=True warn a scene_shards.common.Note instead (the report goes on, the note says the run is no fair
    baseline)."""
    for run in runs:
        if run.kind != names.AUTOREGRESSIVE:
            continue
        kl = kl_per_frame(run, scenes)
        if kl >= KL_FLOOR:
            continue
        text = (f"{run.path}: its KL is {kl:.3g} nats per predicted frame, below the floor of {KL_FLOOR}: its latent "
                f"is out of use (its samples are nearly one), so it is no fair baseline")
        if not allow:
            raise UserError(f"{text}; train it with --free-bits (docs/model.md), or pass --allow-low-kl to report "
                            f"it anyway")
        warnings.warn(f"{text} (reported as asked by --allow-low-kl)", Note)
