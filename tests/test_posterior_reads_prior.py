"""`posterior_reads_prior`: a JUMP whose posterior DRAW steps also read the prior chain's state (convolutional
DRAW's encoder reading its decoder). It starts as the plain model, its posterior then depends on the prior's
state while the prior does not change, and it is a setting of JUMP alone (it learns:
test_model.test_overfits_one_batch)."""

import json

import pytest
import torch

from jump_model.config import ModelConfig
from jump_model.nets import JUMP
from model_scenes import make_square_dataset, model_config
from scene_shards.common import UserError
from test_model import random_batch
from test_model_training import jumpdata, one_line_error


def twin_models():
    """A plain JUMP and one that reads the prior, with the same weights everywhere they share."""
    torch.manual_seed(0)
    plain = JUMP(model_config("time"))
    reading = JUMP(model_config("time", posterior_reads_prior=True))
    missing, unexpected = reading.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["posterior.read_prior.weight"] and unexpected == []
    return plain, reading


def test_it_starts_as_the_plain_model():
    plain, reading = twin_models()
    batch = random_batch("time")
    assert torch.allclose(plain.kl(batch, noise=False), reading.kl(batch, noise=False), atol=1e-5)
    torch.manual_seed(3)
    a = plain(batch, 0.1)["loss"]
    torch.manual_seed(3)
    b = reading(batch, 0.1)["loss"]
    assert torch.allclose(a, b, rtol=1e-5)


def test_its_posterior_reads_the_prior_state_and_the_prior_is_unchanged():
    plain, reading = twin_models()
    with torch.no_grad():
        reading.posterior.read_prior.weight.normal_(0, 0.1)
    batch = random_batch("time")
    assert not torch.allclose(plain.kl(batch, noise=False), reading.kl(batch, noise=False), atol=1e-3)
    context = [batch[k] for k in ("context_frames", "context_viewpoints", "context_mask")]
    r = plain.represent(*context)
    assert torch.equal(plain.latents(r, noise=False)[0], reading.latents(r, noise=False)[0])
    # the gradient reaches the new convolution from the first step on
    reading(batch, 0.1)["loss"].backward()
    assert reading.posterior.read_prior.weight.grad.abs().sum() > 0


def test_it_is_a_true_false_setting_of_jump_alone():
    with pytest.raises(UserError, match="for --model jump only"):
        ModelConfig(kind="gqn", posterior_reads_prior=True).validate()
    with pytest.raises(UserError, match="posterior_reads_prior must be of type bool"):
        ModelConfig.from_dict({"kind": "jump", "posterior_reads_prior": "yes"})


def test_a_config_without_the_key_reads_as_off():
    assert ModelConfig.from_dict({"kind": "jump"}).posterior_reads_prior is False


def test_train_takes_the_flag_and_refuses_it_for_a_baseline_in_one_line(tmp_path, capsys):
    make_square_dataset(tmp_path / "squares", n=4, test_n=2)
    one_line_error(*jumpdata(capsys, "train", tmp_path / "squares", "--model", "gqn", "--posterior-reads-prior",
                             "--out", tmp_path / "refused"), "posterior-reads-prior is for --model jump only")
    assert not (tmp_path / "refused").exists()
    code, err = jumpdata(capsys, "train", tmp_path / "squares", "--preset", "tiny", "--posterior-reads-prior",
                         "--steps", "2", "--batch-size", "2", "--workers", "0", "--out", tmp_path / "run")
    assert code in (0, None), err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["model"]["posterior_reads_prior"] is True
