"""The training metrics log: metrics.jsonl in the run folder (and TensorBoard events when it is installed)."""

import json
from pathlib import Path

from scene_shards.files import atomic_open

from ..names import METRICS_FILE


def tensorboard_writer(out: Path):
    """Return a TensorBoard SummaryWriter for `out`, or None when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out))


def logged_step(line: str) -> float:
    """Return the step of a metrics.jsonl line; infinity for a damaged line (e.g. cut short by a full disk or a
    kill -9 while appended), so a resume drops it with the lines past its checkpoint."""
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return float("inf")


class MetricsLog:
    """Appends metrics lines to metrics.jsonl (and TensorBoard) on rank 0; a no-op on other ranks."""

    def __init__(self, out: Path, active: bool):
        self.path = out / METRICS_FILE
        self.active = active
        self.board = tensorboard_writer(out) if active else None

    def drop_after(self, step: int) -> None:
        """Remove lines past `step` (logged after the checkpoint a resumed run starts from), atomically."""
        if not self.active or not self.path.is_file():
            return
        keep = [line for line in self.path.read_text().splitlines(keepends=True) if logged_step(line) <= step]
        with atomic_open(self.path) as f:
            f.write("".join(keep))

    def write(self, record: dict) -> None:
        """Append one JSON object (one line)."""
        if not self.active:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.board is not None:
            for k, v in record.items():
                if k != "step":
                    self.board.add_scalar(k, v, record["step"])
            self.board.flush()

    def close(self) -> None:
        """Close the TensorBoard writer, if any."""
        if self.board is not None:
            self.board.close()
