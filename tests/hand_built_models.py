"""Hand-built models with known answers for the eval tests: one that samples the true frames, one that samples
black frames (both follow the model interface `jumpdata eval` uses: cfg.kind, parameters(), sample(...)), and a
shape probe that reads true frames perfectly."""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from jump_model.config import ModelConfig
from jump_model.probes.training import dice_targets, shape_targets
from narratives import vocabulary as vocab


class Oracle(nn.Module):
    """Samples the true frames: it knows every test scene, found by its first context frame, and returns the
    views whose viewpoints equal the queried ones."""

    def __init__(self, scenes, kind: str = "jump"):
        super().__init__()
        self.cfg = ModelConfig(kind=kind)
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


class Blank(Oracle):
    """Samples black frames."""

    def sample(self, context_frames, context_viewpoints, query_viewpoints, context_mask=None):
        return super().sample(context_frames, context_viewpoints, query_viewpoints) * 0


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
