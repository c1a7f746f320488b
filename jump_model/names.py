"""The names jump_model shares with its users: model kinds, devices, run-folder files, metric names and the JSON
keys of `jumpdata eval`, probe kinds, and the label names it reads (imported from the generators).

Standard library only, so the command line can use them without loading torch or numpy. Which metrics exist,
and what each needs and reports, is in jump_model/eval/registry.py and each metric's class.

A metric's JSON (docs/reproduce.md):

    {"metric": "consistency", "dataset": "dice", "split": "test", "scenes": 400, <settings>,
     "runs": [{"run": "runs/dice", "model": "jump", "seed": 0, "kl1": 4.2, "kl1_ci95": [4.0, 4.4], "kl1_n": 400,
               ...}, ...],
     "models": [{"model": "jump", "runs": [...], "seeds": [0, 1, 2], "kl1": ..., "kl1_ci95": ..., "kl1_n": 3}],
     "differences": [{"models": ["jump", "gqn"], "kl1": ..., "kl1_ci95": ..., "kl1_n": 400}]}
"""

from dice3d.label_names import CUBE_ORIENTATION, DIGIT_CLASSES, VISIBLE_FACES
from gqn_records.layout import PYTORCH_PORTS_CAMERA
from narratives.label_names import POSITIONS

# The model kinds (`jumpdata train --model`); `ar` is the only one without a jumpy sampler or a global latent.
MODEL_KINDS = ("jump", "gqn", "factored", "badj", "ar")   # their classes: jump_model.nets.MODEL_CLASSES
AUTOREGRESSIVE = "ar"
DEVICES = ("auto", "cpu", "cuda")              # --device; runtime.resolve_device maps them to torch devices
# The 7-vector nets.blocks.encode_viewpoints makes of a raw camera (docs/format.md, "Camera conventions"); a run on
# camera data records it in config.json's model settings as "camera_encoding"
CAMERA_ENCODING = PYTORCH_PORTS_CAMERA

# A run folder and a probe folder (run_folder.py, probes/nets.py; docs/model.md)
CONFIG_FILE, CHECKPOINT_FILE, METRICS_FILE = "config.json", "checkpoint.pt", "metrics.jsonl"

METRIC, DATASET, SPLIT, SCENES, RUNS, RUN, MODEL = "metric", "dataset", "split", "scenes", "runs", "run", "model"
TEST = "test"         # the split every metric measures
STEP = "step"         # runs[] entry: the training step the run's checkpoint reached
# the settings a metric records beside its figures
SAMPLES, CONTEXT_FRAMES, FRAMES, REPEATS, DEVICE = "samples", "context_frames", "frames", "repeats", "device"
SCENES_CHECKED, TARGET_VIEWS, PIXEL_VARIANCE = "scenes_checked", "target_views", "pixel_variance"
NELBO_CURVE = "nelbo_curve"   # nelbo: [{"pixel_variance": v, "nelbo": ..., "nelbo_ci95": ..., "nelbo_n": ...}]
# consistency: per selected scene in "views" what its later target views show that the context and the first
# target do not (hidden_face.py): [{"scene", "face", "context", "targets", "new_area", "new_walls", "measured"}];
# the scenes measured are those with nothing new ("scenes"), of "scenes_selected"
NEW_AREA, NEW_WALLS, VIEWS, MEASURED = "new_area", "new_walls", "views", "measured"
SCENES_SELECTED = "scenes_selected"
SCENE, FACE, CONTEXT, TARGETS = "scene", "face", "context", "targets"
PROBE, PROBE_ACCURACY, STORY_NAME = "probe", "probe_accuracy", "story"   # the probe metrics' settings
REPORT = "metrics"   # the key of the list of metric objects when one `eval` computes several
CI95 = "_ci95"       # suffix of a figure's 95% interval: "<figure>_ci95": [low, high]
COUNT = "_n"         # suffix of the number of units (scenes, videos, timed calls, seeds) that interval is over
CURVE = "_curve"     # suffix of a figure along a setting: "nelbo_curve": [{"pixel_variance": v, "nelbo": ...}]
SEED = "seed"        # runs[] entry: the run's training seed (jumpdata train --seed)
# Several runs of one model (seeds.py): a "models" entry per model, the mean over its runs with an interval over
# seeds; "differences" between two models paired by scene.
MODELS, DIFFERENCES, KIND, SEEDS = "models", "differences", "kind", "seeds"

MIN_MSE, NELBO, CONSISTENCY, SPEED = "min-mse", "nelbo", "consistency", "speed"
DIGIT_AGREEMENT, STORY = "digit-agreement", "story"   # read by a ground-truth probe (docs/probes.md)

BATCH = "batch"          # speed: the batch size of a runs entry (one entry per run and batch size)
REFERENCE = "reference"  # speed: the `ar` run a jumpy run's speedup is measured against
REFERENCE_FIGURES = ("autoregressive_ms",)   # speed: the reference's figures, repeated in a jumpy run's entry

# The probe metrics' rows beside the runs: the probe reading the true frames (its ceiling) and, for
# digit-agreement, independent uniformly random classes (the floor). Their `model` names:
TRUTH, RANDOM = "truth", "random"

# The labels the metrics and probes read, as the generators declare them (dice3d/spec.py, narratives/stories.py)
FACE_LABEL, DIGIT_LABEL, ORIENTATION_LABEL = VISIBLE_FACES, DIGIT_CLASSES, CUBE_ORIENTATION
POSITION_LABEL = POSITIONS

# The probe kinds (`jumpdata probe train`)
DIGIT_PROBE, SHAPE_PROBE = "digit", "shapes"
