"""The model class of each kind (config.MODEL_KINDS): the one place a kind's name meets its class."""

import torch

from .baselines import AR, BADJ, GQN
from .config import MODEL_KINDS, ModelConfig
from .model import JUMP

MODEL_CLASSES = {"jump": JUMP, "gqn": GQN, "badj": BADJ, "ar": AR}
assert tuple(MODEL_CLASSES) == MODEL_KINDS


def make_model(cfg: ModelConfig) -> torch.nn.Module:
    """Return a freshly initialised model of kind cfg.kind (JUMP, GQN, BADJ or AR) for `cfg`."""
    return MODEL_CLASSES[cfg.kind](cfg)
