"""The networks: the blocks (blocks.py), the DRAW latent chain (draw.py), the interface every model implements
(interface.py), JUMP (jump.py) and the baselines (baselines.py: gqn, factored, badj; ar.py: ar). `make_model` is
the one place a kind's name (config.MODEL_KINDS) meets its class.
"""

from ..config import MODEL_KINDS, ModelConfig
from .ar import AR
from .baselines import BADJ, GQN, Factored
from .interface import SceneModel
from .jump import JUMP

MODEL_CLASSES = {"jump": JUMP, "gqn": GQN, "factored": Factored, "badj": BADJ, "ar": AR}
assert tuple(MODEL_CLASSES) == MODEL_KINDS


def make_model(cfg: ModelConfig) -> SceneModel:
    """Return a freshly initialised model of kind cfg.kind (JUMP, GQN, Factored, BADJ or AR) for `cfg`."""
    return MODEL_CLASSES[cfg.kind](cfg)
