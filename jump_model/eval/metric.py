"""The plug-in interface of a `jumpdata eval` metric, and the Study every metric of one call reads.

A metric is a subclass of Metric in the file of its family (video.py, dice.py, digit_agreement.py, story.py),
registered under its name in registry.py. `report.measure` makes one Study, then for each chosen metric: `check()` (all of
them before any measurement), `units()` (for the progress bar), `measure(progress)` (its JSON object) and
`picture_data()` (the data of the pictures it leaves, drawn by the functions in its `pictures`).
"""

from abc import ABC, abstractmethod
from pathlib import Path

from scene_shards.common import UserError

from .. import names


class Study:
    """What one `eval` call measures, shared by its metrics: the runs, the test scenes (a ShardDataset), the
    settings (report.EvalSettings), the probe (ProbeConfig, network) or None, and what several metrics derive
    once (`shared`)."""

    def __init__(self, runs: list, scenes, settings, probe=None):
        self.runs, self.scenes, self.settings = runs, scenes, settings
        self.probe_cfg, self.probe = probe if probe is not None else (None, None)
        if settings.scenes is not None and settings.scenes > len(scenes):
            raise UserError(f"--scenes {settings.scenes}: the test split of '{scenes.name}' holds {len(scenes)} "
                            f"scenes")
        self.indices = list(range(settings.scenes or len(scenes)))
        self._picture_names = dict(zip((id(r) for r in runs), picture_names(runs)))
        self._shared = {}

    def picture_name(self, run) -> str:
        """Return the name of one of the study's runs in pictures."""
        return self._picture_names[id(run)]

    def shared(self, key: str, make):
        """Return make() the first time `key` is asked for, the same object afterwards."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]


def picture_names(runs: list) -> list:
    """The runs' names in pictures: model kind and folder name, the full path where two would look alike."""
    short = [f"{run.kind} {Path(run.path).name}" for run in runs]
    return [name if short.count(name) == 1 else f"{run.kind} {run.path}" for name, run in zip(short, runs)]


def probe_missing(metric: str, dataset: str) -> UserError:
    """Return the error for probe metric `metric` asked for on `dataset` without a probe."""
    return UserError(f"metric {metric} reads sampled frames with a probe: give --probe FOLDER (make one with "
                     f"jumpdata probe train DATA --dataset {dataset} --out FOLDER)")


class Progress:
    """Counts work units across all metrics and runs and reports them to on_progress(done, total, text)."""

    def __init__(self, on_progress, total: int):
        self.on_progress, self.total, self.done, self.text = on_progress, total, 0, None

    def step(self) -> None:
        """One unit done."""
        self.done += 1
        if self.on_progress:
            self.on_progress(self.done, self.total, self.text)


class Metric(ABC):
    """One metric of `jumpdata eval`. Class attributes say what it is; the methods measure it on a Study."""

    name: str                 # its name in the registry, on the command line and in the JSON
    figures: tuple            # the figures of its runs[] entries, in the order the table prints them
    viewpoint_kind: str       # the data it applies to: "time" (videos) or "camera" (3D scenes)
    labels: tuple = ()        # label names the dataset must carry
    needs: str                # what a dataset must be for it, as an error message says it
    probe_kind: str = None    # the probe kind (`jumpdata probe train`) it reads frames with, or None
    default_samples: int = None   # its --samples when not given (None: it draws no samples)
    pictures: dict = {}       # picture file suffix -> the plots.py function drawing picture_data()[suffix]

    def __init__(self, study: Study):
        self.study = study

    @classmethod
    def applies(cls, viewpoint_kind: str, labels) -> bool:
        """Return True if the metric applies to a dataset with this viewpoint kind and these label names."""
        return cls.viewpoint_kind == viewpoint_kind and all(label in labels for label in cls.labels)

    def samples(self) -> int:
        """The --samples of this metric (its default_samples when not given)."""
        return self.study.settings.samples or self.default_samples

    def header(self, scenes: int) -> dict:
        """The top of its JSON: metric, dataset, split, the number of scenes measured."""
        return {names.METRIC: self.name, names.DATASET: self.study.scenes.name, names.SPLIT: names.TEST,
                names.SCENES: scenes}

    def check(self) -> None:
        """Raise UserError when the settings or the data do not fit the metric (called before any measurement)."""

    @abstractmethod
    def units(self) -> int:
        """Return the number of progress units `measure` reports over all runs."""

    @abstractmethod
    def measure(self, progress: Progress) -> dict:
        """Return the metric's JSON object (header, settings, runs[]), reporting each unit to progress.step()."""

    def picture_data(self) -> dict:
        """Return {picture file suffix: its data} after `measure` (none by default)."""
        return {}
