"""The metrics of `jumpdata eval`, registered by name: the one place a metric's name meets its class.

Standard library only: the command line lists the names without loading torch; a metric's module is imported
when it is measured. Adding a metric is one file (a subclass of metric.Metric) and one line here.
"""

from importlib import import_module

from .. import names

REGISTRY = {   # metric name -> "module:class" of its plug-in, in jump_model.eval
    names.MIN_MSE: "video:MinMse",
    names.NELBO: "dice:Nelbo",
    names.CONSISTENCY: "dice:Consistency",
    names.SPEED: "video:Speed",
    names.DIGIT_AGREEMENT: "probe_metrics:DigitAgreement",
    names.STORY: "probe_metrics:Story",
}
METRICS = tuple(REGISTRY)


def metric_class(name: str):
    """Return the Metric subclass registered under `name` (KeyError for an unknown name)."""
    module, cls = REGISTRY[name].split(":")
    return getattr(import_module(f"{__package__}.{module}"), cls)
