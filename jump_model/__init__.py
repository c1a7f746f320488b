"""JUMP ("Consistent Jumpy Predictions for Videos and Scenes"), its baselines, their training and evaluation,
read from scene shards. The tree shows the jobs (docs/architecture.md has a line per file):

    names.py      model kinds, devices, run-folder files, metric names and JSON keys, label names (stdlib only)
    config.py     the model's settings (what a checkpoint needs) and the run's settings, presets
    schedules.py  the pixel-variance schedule text format
    data.py       training examples from a shard folder: random context and target views per scene
    runtime.py    the device check, the one seed function, bf16 and compiler checks
    run_folder.py a run's config.json and checkpoint.pt
    sample.py     jumpy predictions of a trained run as pictures
    nets/         the networks: blocks, the model interface, JUMP, the baselines, make_model
    training/     the training loop (one process per device, DDP under torchrun), its held-out figures and log
    eval/         `jumpdata eval`: the report, the metric plug-ins and their registry, the plots
    probes/       ground-truth probes: the networks and reading (what eval needs), their training, story checks
    pretrained/   shipped models: their folders and cards, recipes, remade test scenes, packaging, make weights

Import the modules you need (`from jump_model.training import train`); importing this
package itself loads nothing, so torch is only loaded by the code that uses it.
"""
