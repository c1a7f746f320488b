"""Hand-built models with known answers for the eval tests: one that samples the true frames, one that samples
black frames (a constant image), one that samples each view independently (the truth or black, even odds) and one
that samples each set of views at once (all true or all black) (all follow the model interface `jumpdata eval` uses: cfg.kind, parameters(), sample(...)), and a
shape probe that reads true frames perfectly."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jump_model.config import ModelConfig
from jump_model.nets.blocks import gaussian_nll
from jump_model.probes.training import dice_targets, shape_targets
from narratives import vocabulary as vocab


class Oracle(nn.Module):
    """Samples the true frames: it knows every test scene, found by its first context frame, and returns the
    views whose viewpoints equal the queried ones."""

    def __init__(self, scenes, kind: str = "jump", seed: int = 0):
        super().__init__()
        self.cfg, self.seed = ModelConfig(kind=kind), seed   # seed: another "training run" draws other coins
        self.anchor = nn.Parameter(torch.zeros(()))
        self.scenes = {frame.tobytes(): (scenes.frames(i), scenes.viewpoints(i))
                       for i in range(len(scenes)) for frame in scenes.frames(i)}

    def sample(self, context_frames, context_viewpoints, query_viewpoints, context_mask=None):
        out = []
        for frames, queries in zip(context_frames, query_viewpoints):
            video, views = self.scenes[frames[0].cpu().numpy().tobytes()]
            index = [int(np.flatnonzero((views == q).all(axis=1))[0]) for q in queries.cpu().numpy()]
            out.append(torch.from_numpy(video[index]).movedim(-1, -3).float() / 255.0)
        return torch.stack(out)

    def scene_losses(self, batch, pixel_variance):
        """Per scene: KL 0 (it needs no latent), its samples of the targets as the reconstruction."""
        images = self.sample(batch["context_frames"], batch["context_viewpoints"], batch["target_viewpoints"])
        sq = (images - batch["target_frames"].movedim(-1, -3).float() / 255.0).square().flatten(1).sum(1)
        values = images[0].numel()
        kl, nll = torch.zeros(len(sq)), gaussian_nll(sq, values, torch.tensor(float(pixel_variance)))
        return {"nelbo": kl + nll, "kl": kl, "nll": nll, "mse": sq / values}


class Blank(Oracle):
    """Samples black frames."""

    def sample(self, context_frames, context_viewpoints, query_viewpoints, context_mask=None):
        return super().sample(context_frames, context_viewpoints, query_viewpoints) * 0


class Coins(Oracle):
    """Even-odds coins from torch's random state, shifted by the model's seed."""

    def coins(self, shape) -> torch.Tensor:
        """Return bool [shape], True with probability 1/2."""
        g = torch.Generator().manual_seed(int(torch.randint(2 ** 62, ())) + self.seed)
        return torch.rand(shape, generator=g) < 0.5


class PerViewCoin(Coins):
    """Samples each query view independently: the true frame or a black one, with even odds (torch's random
    state): a factored model."""

    def sample(self, context_frames, context_viewpoints, query_viewpoints, context_mask=None):
        truth = super().sample(context_frames, context_viewpoints, query_viewpoints)
        return truth * self.coins(truth.shape[:2])[..., None, None, None]


class SetCoin(Coins):
    """Samples each set of query views at once: all true or all black, with even odds: consistent and diverse."""

    def sample(self, context_frames, context_viewpoints, query_viewpoints, context_mask=None):
        truth = super().sample(context_frames, context_viewpoints, query_viewpoints)
        return truth * self.coins(truth.shape[:1])[:, None, None, None, None]


class PerfectShapeProbe(nn.Module):
    """A shape probe that reads every true frame of `scenes` perfectly (its maps come from the labels, rims as
    background) and any other frame as background only. Outputs one-hot logits like a ShapeProbe."""

    def __init__(self, scenes):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.maps = {}
        for i in range(len(scenes)):
            frames, labels = scenes.frames(i), scenes.labels(i)
            for t, frame in enumerate(frames):
                self.maps[frame.tobytes()] = [np.maximum(m, 0) for m in shape_targets(frame, labels, t)]

    def forward(self, frames):
        size = frames.shape[1:3]
        none = [np.zeros(size, np.int64)] * 2
        maps = [self.maps.get(f.cpu().numpy().tobytes(), none) for f in frames]
        return tuple(F.one_hot(torch.from_numpy(np.stack([m[part] for m in maps])), classes).movedim(-1, 1).float()
                     for part, classes in ((0, len(vocab.KINDS) + 1), (1, len(vocab.COLORS) + 1)))


class PerfectDigitProbe(nn.Module):
    """A digit probe that reads every true view of `scenes` as its dice_targets class (its largest side face's
    digit) and any other frame as class 0. Outputs one-hot logits like a DigitProbe."""

    def __init__(self, scenes):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))
        self.classes = {}
        for i in range(len(scenes)):
            for frame, digit in zip(scenes.frames(i), dice_targets(scenes.labels(i))):
                self.classes[frame.tobytes()] = max(int(digit), 0)

    def forward(self, frames):
        read = [self.classes.get(f.cpu().numpy().tobytes(), 0) for f in frames]
        return F.one_hot(torch.tensor(read), 10).float()
