"""The trainer: loop.py (`train`, its phases), held_out.py (the held-out figures logged while training),
metrics_log.py (metrics.jsonl), distributed.py (DDP under torchrun, Ctrl-C between steps)."""

from .loop import TrainingDiverged, TrainResult, train

__all__ = ["TrainResult", "TrainingDiverged", "train"]
