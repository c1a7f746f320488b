"""The fast roll-outs compute the model as written step by step: ConvLSTMRollout against the cell's forward,
the renderer against an explicit canvas loop, the DRAW roll-out against Draw.step (float64, random weights)."""

import pytest
import torch
import torch.nn.functional as F

from jump_model.nets import JUMP
from jump_model.nets.blocks import ConvLSTMCell, broadcast
from jump_model.nets.draw import gaussian_kl
from model_scenes import model_config


def randomised(module):
    """Give every parameter of `module` random values (float64) so no zero-initialised bias hides a mistake."""
    module.double()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.2)
    return module


def test_rollout_equals_stepping_the_cell_with_the_full_input():
    cell = randomised(ConvLSTMCell(5 + 3, 4, 3))
    g = torch.Generator().manual_seed(2)
    fixed = torch.randn(2, 5, 6, 6, generator=g, dtype=torch.float64)
    xs = [None] + [torch.randn(2, 3, 6, 6, generator=g, dtype=torch.float64) for _ in range(3)]
    run = cell.rollout(fixed)
    h = c = torch.zeros(2, 4, 6, 6, dtype=torch.float64)
    for x in xs:
        h, c = cell(torch.cat([fixed, torch.zeros(2, 3, 6, 6, dtype=torch.float64) if x is None else x], dim=1), h, c)
        torch.testing.assert_close(run.step(x), h)
        torch.testing.assert_close(run.c, c)


def model(kind="time", nt=3):
    cfg = model_config(kind, nt=nt)
    return randomised(JUMP(cfg)), cfg


@pytest.mark.parametrize("kind,nt", [("time", 3), ("camera", 3), ("time", 1), ("time", 2)])
def test_renderer_equals_the_explicit_canvas_loop(kind, nt):
    jump, cfg = model(kind, nt)
    r = jump.renderer
    g = torch.Generator().manual_seed(3)
    size = 16 // 4 // cfg.stride_to_hidden
    z = torch.randn(2, cfg.nt * cfg.ni_z, size, size, generator=g, dtype=torch.float64)
    v = torch.randn(2, 3, 1 if kind == "time" else 7, generator=g, dtype=torch.float64)
    fixed = torch.cat([z.repeat_interleave(3, dim=0), broadcast(v.flatten(0, 1), size)], dim=1)
    h = c = torch.zeros(6, cfg.nf_to_hidden, size, size, dtype=torch.float64)
    canvas = torch.zeros(6, cfg.nf_to_obs, size * cfg.stride_to_obs, size * cfg.stride_to_obs, dtype=torch.float64)
    for _ in range(cfg.nt):
        h, c = r.cell(torch.cat([fixed, r.read(canvas)], dim=1), h, c)
        canvas = canvas + r.write(h)
    expected = torch.sigmoid(r.to_image(canvas)).unflatten(0, (2, 3))   # float64 in, float64 out
    torch.testing.assert_close(r(z, v), expected)


def test_latents_equal_stepping_draw_with_the_full_input():
    jump, cfg = model()
    g = torch.Generator().manual_seed(4)
    r = torch.randn(2, 32, 4, 4, generator=g, dtype=torch.float64)
    e = torch.randn(2, 32, 4, 4, generator=g, dtype=torch.float64)
    torch.manual_seed(5)
    z_fast, kl_fast = jump.latents(r, e)

    torch.manual_seed(5)
    xp, hp, cp = jump.prior.start(r)
    xq, hq, cq = jump.posterior.start(torch.cat([r, e], dim=1))
    z, zs, kl = torch.zeros(2, cfg.ni_z, *xp.shape[2:], dtype=torch.float64), [], 0
    for _ in range(cfg.nt):
        pm, ps, hp, cp = jump.prior.step(xp, z, hp, cp)
        qm, qs, hq, cq = jump.posterior.step(xq, z, hq, cq)
        kl = kl + gaussian_kl(qm, qs, pm, ps).flatten(1).sum(1)
        z = (qm + qs * torch.randn_like(qs)).double()
        zs.append(z)
    torch.testing.assert_close(z_fast, torch.cat(zs, dim=1))
    torch.testing.assert_close(kl_fast, kl)


def test_read_of_write_is_read_after_write():
    jump, cfg = model()
    r = jump.renderer
    h = torch.randn(2, cfg.nf_to_hidden, 4, 4, dtype=torch.float64)
    weight, bias = r.read_of_write()
    expected = r.read(r.write(h)) - r.read.bias[:, None, None]
    torch.testing.assert_close(F.conv2d(h, weight, bias), expected)
