"""JUMP ("Consistent Jumpy Predictions for Videos and Scenes"), its baselines and their training, read from
scene shards.

Modules, in the order data flows through them:

    config      the model's settings (what a checkpoint needs) and the run's settings, presets
    data        training examples from a shard folder: random context and target views per scene
    model       the JUMP network, top to bottom: representation, DRAW prior/posterior, renderer, loss
    baselines   the baselines gqn, badj and ar, built from model.py's blocks
    models      the class of each model kind (--model)
    schedules   the pixel-variance schedule text format
    train       the training loop (one process per device, DDP under torchrun)
    run_folder  a run's config.json and checkpoint.pt
    sample      jumpy predictions of a trained run as pictures

Import the modules you need (`from jump_model.train import train`); importing this
package itself loads nothing, so torch is only loaded by the code that uses it.
"""
