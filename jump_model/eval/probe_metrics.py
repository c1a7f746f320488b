"""What the probe metrics of `jumpdata eval` share, `digit-agreement` (digit_agreement.py) and `story`
(story.py): sampled frames read by a ground-truth probe (jump_model/probes/nets.py; docs/probes.md).

Sampled numbers are functions of (seed, scene index), as in sampling.per_scene, so every model is measured on
the same draws and a rerun gives the same figures.
"""

from .. import names
from ..probes.nets import check_probe_data, check_probe_fits
from .metric import probe_missing
from .sampling import model_device


def probe_of(study, metric) -> tuple:
    """Return the study's (ProbeConfig, network) after checking it is the probe `metric` reads with, trained on
    the study's dataset (UserError otherwise); the network is moved to the runs' device."""
    scenes = study.scenes
    if study.probe is None or study.settings.probe is None:
        raise probe_missing(metric.name, scenes.name)
    check_probe_fits(study.probe_cfg, study.settings.probe, metric.probe_kind, scenes.name, scenes.frame_shape[0])
    check_probe_data(study.probe_cfg, study.settings.probe, scenes.manifest, scenes.folder)
    study.probe.to(model_device(study.runs[0].model))
    return study.probe_cfg, study.probe


def probe_header(metric, probe_cfg) -> dict:
    """The probe metrics' settings: the probe folder and its held-out accuracy, the samples."""
    return {names.PROBE: str(metric.study.settings.probe), names.PROBE_ACCURACY: probe_cfg.test_accuracy,
            names.SAMPLES: metric.samples()}
