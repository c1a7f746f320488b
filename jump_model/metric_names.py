"""The names of `jumpdata eval`: metrics, the figures each reports, the JSON keys, and which data each applies to.

Standard library only, so the command line can list the metrics without loading torch.

A metric's JSON (docs/reproduce.md):

    {"metric": "consistency", "dataset": "dice", "split": "test", "scenes": 400, <settings>,
     "runs": [{"run": "runs/dice", "model": "jump", "kl1": 4.2, "kl1_ci95": [4.0, 4.4], ...}, ...]}
"""

METRIC, DATASET, SPLIT, SCENES, RUNS, RUN, MODEL = "metric", "dataset", "split", "scenes", "runs", "run", "model"
STEP = "step"         # runs[] entry: the training step the run's checkpoint reached
# the settings a metric records beside its figures
SAMPLES, CONTEXT_FRAMES, FRAMES, REPEATS, DEVICE = "samples", "context_frames", "frames", "repeats", "device"
SCENES_CHECKED, TARGET_VIEWS, PIXEL_VARIANCE = "scenes_checked", "target_views", "pixel_variance"
PROBE, PROBE_ACCURACY, STORY_NAME = "probe", "probe_accuracy", "story"   # the probe metrics' settings
REPORT = "metrics"   # the key of the list of metric objects when one `eval` computes several
CI95 = "_ci95"       # suffix of a figure's 95% interval: "<figure>_ci95": [low, high]

MIN_MSE, NELBO, CONSISTENCY, SPEED = "min-mse", "nelbo", "consistency", "speed"
DIGIT_AGREEMENT, STORY = "digit-agreement", "story"   # read by a ground-truth probe (docs/probes.md)
METRICS = (MIN_MSE, NELBO, CONSISTENCY, SPEED, DIGIT_AGREEMENT, STORY)

# The figures of each metric, in the order the table prints them.
FIGURES = {
    MIN_MSE: ("min_mse",),
    NELBO: ("nelbo",),
    CONSISTENCY: ("kl1", "kl3", "ratio", "kl3_minus_kl1_sd"),
    SPEED: ("jumpy_ms", "autoregressive_ms", "speedup"),
    DIGIT_AGREEMENT: ("agreement", "accuracy"),
    STORY: ("coherent",),
}
BATCH = "batch"          # speed: the batch size of a runs entry (one entry per run and batch size)
REFERENCE = "reference"  # speed: the `ar` run a jumpy run's speedup is measured against
REFERENCE_FIGURES = ("autoregressive_ms",)   # speed: the reference's figures, repeated in a jumpy run's entry

# The probe metrics' rows beside the runs: the probe reading the true frames (its ceiling) and, for
# digit-agreement, independent uniformly random classes (the floor). Their `model` names:
TRUTH, RANDOM = "truth", "random"

# The viewpoint kind and the labels each metric needs: forward prediction, speed and the story are about
# videos, the hidden cube face about camera scenes that carry the dice room's labels.
METRIC_VIEWPOINTS = {MIN_MSE: "time", SPEED: "time", NELBO: "camera", CONSISTENCY: "camera",
                     DIGIT_AGREEMENT: "camera", STORY: "time"}
FACE_LABEL, DIGIT_LABEL, POSITION_LABEL = "visible_faces", "digit_classes", "positions"
ORIENTATION_LABEL = "cube_orientation"
METRIC_LABELS = {NELBO: (FACE_LABEL,), CONSISTENCY: (FACE_LABEL,), DIGIT_AGREEMENT: (FACE_LABEL, DIGIT_LABEL),
                 STORY: (POSITION_LABEL,)}
METRIC_NEEDS = {   # what a dataset must be for the metric, as an error message says it
    MIN_MSE: "videos (time viewpoints)", SPEED: "videos (time viewpoints)",
    NELBO: f"camera scenes with the {FACE_LABEL} label (jumpdata dice)",
    CONSISTENCY: f"camera scenes with the {FACE_LABEL} label (jumpdata dice)",
    DIGIT_AGREEMENT: f"camera scenes with the {FACE_LABEL} and {DIGIT_LABEL} labels (jumpdata dice)",
    STORY: "narrative videos (jumpdata narratives)",
}

# The probe kind (`jumpdata probe train`) each probe metric reads its frames with.
DIGIT_PROBE, SHAPE_PROBE = "digit", "shapes"
PROBE_METRICS = {DIGIT_AGREEMENT: DIGIT_PROBE, STORY: SHAPE_PROBE}

# The model kinds (`jumpdata train --model`); `ar` is the only one without a jumpy sampler or a global latent.
AUTOREGRESSIVE = "ar"


def metrics_for(viewpoint_kind: str, labels) -> list:
    """Return the metric names that apply to a dataset with this viewpoint kind and these label names."""
    return [m for m in METRICS if METRIC_VIEWPOINTS[m] == viewpoint_kind
            and all(label in labels for label in METRIC_LABELS.get(m, ()))]
