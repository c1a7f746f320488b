"""The metrics of `jumpdata eval`, registered by name: the one place a metric's name meets its class.

Standard library only: the command line lists the names without loading torch; a metric's module is imported
when it is measured. Adding a metric is one file (a subclass of metric.Metric, listed in the PLUGINS tuple at its
end) and one line here.
"""

from importlib import import_module

from .. import names

REGISTRY = {   # metric name -> the module of jump_model.eval whose PLUGINS hold its Metric subclass
    names.MIN_MSE: "video",
    names.NELBO: "dice",
    names.CONSISTENCY: "dice",
    names.SPEED: "video",
    names.DIGIT_AGREEMENT: "digit_agreement",
    names.STORY: "story",
}
METRICS = tuple(REGISTRY)


def metric_class(name: str):
    """Return the Metric subclass registered under `name` (KeyError for an unknown name)."""
    plugins = import_module(f"{__package__}.{REGISTRY[name]}").PLUGINS
    return next(cls for cls in plugins if cls.name == name)
