"""What makes each baseline the one its paper defines: gqn is Eslami et al. 2018's GQN (a latent per query view
drawn inside the generator's roll-out, r and v fed at every step, the inference core and the prior reading the
generator's state; badj the same network), old `gqn` runs load as `factored`, ar trains on the whole video after
its context with a skip from the last seen frame and free bits, and eval refuses an ar run below the KL floor."""

import json
import warnings

import pytest
import torch

from jump_model.config import new_run_config
from jump_model.data import training_examples
from jump_model.eval.latent_use import KL_FLOOR, kl_per_frame
from jump_model.nets import BADJ, GQN, Factored, make_model
from jump_model.nets.blocks import TOWER_CHANNELS, broadcast, encode_viewpoints, frames_to_images
from jump_model.run_folder import load_checkpoint, load_run, plan_run, save_checkpoint, write_config
from jump_model.training import train
from model_scenes import facts, make_square_dataset
from scene_shards import open_dataset
from scene_shards.common import Note, UserError
from test_baselines import B, T, scene_batch, small_model
from model_scenes import FAST
from test_model_training import jumpdata, one_line_error


pytestmark = pytest.mark.usefixtures("one_thread")   # conftest.py


@pytest.fixture(scope="module")
def squares(tmp_path_factory):
    folder = tmp_path_factory.mktemp("squares")
    make_square_dataset(folder, kind="time")
    return folder


def recorded_inputs(module, calls: list):
    """Record the positional inputs of every call of `module` into `calls`; returns the hook's handle."""
    return module.register_forward_pre_hook(lambda m, args: calls.append([a.detach().clone() for a in args]))


@pytest.mark.parametrize("kind", ["gqn", "badj"])
def test_gqn_draws_a_latent_per_query_at_every_generator_step_from_r_v_and_the_generator_state(kind):
    model, batch = small_model(kind), scene_batch()
    assert type(model) is {"gqn": GQN, "badj": BADJ}[kind] and isinstance(model, GQN)
    generator, prior, inference = [], [], []
    outputs = []
    handles = [recorded_inputs(model.generator, generator), recorded_inputs(model.prior_head, prior),
               recorded_inputs(model.inference, inference),
               model.generator.register_forward_hook(lambda m, args, out: outputs.append(out[0].detach().clone()))]
    model.terms(batch, 0.5)
    for handle in handles:
        handle.remove()
    cfg, nt = model.cfg, model.cfg.nt
    assert len(generator) == len(prior) == len(inference) == nt
    # r and v: every step's generator input begins with the same conv of [r, v_query], one row per target slot
    r = model.represent(batch["context_frames"], batch["context_viewpoints"], batch["context_mask"])
    _, v, packing = model.target_slots(batch)
    x = model.to_hidden(torch.cat([r.index_select(0, packing.scene), broadcast(v, r.shape[-1])], dim=1)).detach()
    for step in generator:
        assert step[0].shape[0] == B * T                                   # a latent for every query view
        torch.testing.assert_close(step[0][:, :cfg.nf_enc], x)
        assert step[0].shape[1] == cfg.nf_enc + cfg.ni_z                    # then that step's z
    latents = torch.stack([step[0][:, cfg.nf_enc:] for step in generator])
    assert not torch.equal(latents[0], latents[1])                          # drawn anew inside the roll-out
    # the prior and the inference core read the generator's state before the step (zero before the first)
    states = [torch.zeros_like(outputs[0])] + outputs[:-1]
    for step, state in enumerate(states):
        torch.testing.assert_close(prior[step][0], state)
        torch.testing.assert_close(inference[step][0][:, cfg.nf_enc:cfg.nf_enc + cfg.nf_to_hidden], state)


def test_gqn_and_badj_are_one_network_the_factored_model_is_jumps_blocks():
    gqn, badj = small_model("gqn"), small_model("badj")
    assert gqn.state_dict().keys() == badj.state_dict().keys()
    factored = small_model("factored")
    assert {"prior.head.weight", "posterior.head.weight"} <= factored.state_dict().keys()
    assert not any(k.startswith("renderer.") for k in gqn.state_dict())   # GQN's own canvas, no JUMP renderer


def old_style(run):
    """Turn a factored run folder into one written before gqn meant Eslami et al.'s GQN, in config.json and in
    the checkpoint's own config: kind "gqn", no model.kind_names and no model.free_bits (added since)."""
    def aged(values):
        model = {k: v for k, v in values["model"].items() if k not in ("kind_names", "free_bits")}
        return {**values, "model": {**model, "kind": "gqn"}}
    (run / "config.json").write_text(json.dumps(aged(json.loads((run / "config.json").read_text()))))
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    torch.save({**ckpt, "config": aged(ckpt["config"])}, run / "checkpoint.pt")


def test_an_old_gqn_run_loads_as_factored_with_one_note(squares, tmp_path, capsys):
    run = tmp_path / "old-gqn"
    train(plan_run(squares, preset="tiny", model="factored", steps=2, **FAST), run)
    old_style(run)
    with pytest.warns(Note, match="loads as --model factored"):
        cfg, model, step = load_run(run)
    assert cfg.model.kind == "factored" and type(model) is Factored and step == 2
    code, err = jumpdata(capsys, "sample", run, "--samples", 1, "--out", tmp_path / "s.png")
    assert code == 0 and (tmp_path / "s.png").is_file()
    notes = [line for line in err.splitlines() if line.startswith("jumpdata: note:")]
    assert len(notes) == 1 and "trained when --model gqn meant the factored model" in notes[0], err
    with pytest.warns(Note):
        resumed = plan_run(squares, out=run, resume=True, steps=3)
    assert resumed.model.kind == "factored"
    train(resumed, run, resume=True)                                       # continues as factored, config renamed
    stored = json.loads((run / "config.json").read_text())["model"]
    assert (stored["kind"], stored["kind_names"]) == ("factored", 2)
    new = tmp_path / "gqn"
    train(plan_run(squares, preset="tiny", model="gqn", steps=1, **FAST), new)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)
        assert type(load_run(new)[1]) is GQN                               # today's gqn runs: no note


def test_ar_trains_on_the_whole_video_after_its_context_and_reconstructs_every_predicted_frame(squares):
    cfg = new_run_config(facts(views=6), "tiny", model="ar")
    assert (cfg.context, cfg.targets) == (3, 3)                            # 6 views: 3 context, then the rest
    assert new_run_config(facts(views=6), "tiny", model="ar", context=2).targets == 4
    cfg = plan_run(squares, preset="tiny", model="ar", **FAST)
    examples = training_examples(cfg, open_dataset(squares, "squares", "test"), shuffle=False)
    for g in range(8):
        ex = examples[g]
        k = int(ex["context_mask"].sum())
        assert ex["target_mask"].all()                                     # every frame after the context
        times = list(ex["context_viewpoints"][:k, 0]) + list(ex["target_viewpoints"][:, 0])
        assert times == list(range(int(times[0]), int(times[0]) + k + cfg.targets))
        if k == cfg.context:
            assert times == list(range(6))                                 # the whole video
    model, batch = small_model("ar"), scene_batch()
    t = model.terms(batch, 0.5)
    frames = batch["context_mask"].sum(1) + batch["target_mask"].sum(1) - 1   # all but each scene's first view
    assert torch.equal(t["pixels"], (frames * 3 * 8 * 8).float())


def test_ar_renders_every_frame_with_the_features_of_the_last_frame_it_saw():
    model, batch = small_model("ar"), scene_batch()
    calls = []
    handle = recorded_inputs(model.renderer, calls)
    context, times = batch["context_frames"], batch["context_viewpoints"]
    model.sample(context, times, torch.tensor([[4.0], [6.0]])[None].expand(B, 2, 1))
    handle.remove()
    last = model.tower(frames_to_images(context[:, -1]), encode_viewpoints(times[:, -1], model.cfg))
    skip = model.skip(last)
    assert len(calls) == 2 + 4                                             # frames 1, 2 of the context, then 3..6
    for z, _ in calls:
        assert z.shape[1] == model.cfg.nt * model.cfg.ni_z + TOWER_CHANNELS
        torch.testing.assert_close(z[:, -TOWER_CHANNELS:], skip)


def test_free_bits_set_each_predicted_frames_kl_term_and_are_for_ar_only():
    torch.manual_seed(0)
    model = make_model(new_run_config(facts(size=8, views=5), "tiny", model="ar", free_bits=1e3).model)
    batch = scene_batch()
    torch.manual_seed(1)
    out = model(batch, 0.5)
    torch.manual_seed(1)
    t = model.terms(batch, 0.5)
    frames = batch["context_mask"].sum(1) + batch["target_mask"].sum(1) - 1
    torch.testing.assert_close(out["loss"], (t["nll"] + 1e3 * frames).mean())
    torch.testing.assert_close(out["kl"], t["kl"].mean())                   # the figure is the true KL
    assert new_run_config(facts(), "tiny", model="ar").model.free_bits == 2.0
    with pytest.raises(UserError, match="free-bits .* is for --model ar only"):
        new_run_config(facts(), "tiny", model="jump", free_bits=1.0)


def collapsed_ar_run(data, out):
    """An ar run whose prior and posterior heads give the same Gaussian everywhere: its KL is exactly 0."""
    cfg = plan_run(data, preset="tiny", model="ar", **FAST)
    model = make_model(cfg.model)
    with torch.no_grad():
        for head in (model.prior.head, model.posterior.head):
            head.weight.zero_()
        model.posterior.head.bias.copy_(model.prior.head.bias)
    out.mkdir()
    write_config(out, cfg)
    save_checkpoint(out, model, torch.optim.Adam(model.parameters()), 0, cfg)
    return out


def test_eval_refuses_an_ar_run_below_the_kl_floor_unless_told(squares, tmp_path, capsys):
    run = collapsed_ar_run(squares, tmp_path / "ar")
    cfg, model, _ = load_run(run)
    assert kl_per_frame(type("Run", (), {"cfg": cfg, "model": model}), open_dataset(squares, "squares", "test")) == 0
    args = ("eval", run, "--metric", "min-mse", "--samples", 1, "--scenes", 2, "--context-frames", 3)
    one_line_error(*jumpdata(capsys, *args, "--out", tmp_path / "r.json"), f"below the floor of {KL_FLOOR}")
    assert not (tmp_path / "r.json").exists()
    code, err = jumpdata(capsys, *args, "--allow-low-kl", "--out", tmp_path / "r.json")
    assert code == 0 and (tmp_path / "r.json").is_file()
    notes = [line for line in err.splitlines() if line.startswith("jumpdata: note:")]
    assert len(notes) == 1 and "no fair baseline" in notes[0], err
    assert load_checkpoint(run)["step"] == 0
