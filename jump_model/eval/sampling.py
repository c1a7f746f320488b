"""How eval draws from a model: copies of one scene as a batch, samples in chunks, the per-scene seeded loop.

Every sampled number is a function of (seed, scene index): `per_scene` seeds torch with
runtime.derived_seed(seed, scene) before each scene, so two models are measured on the same draws of the
data and a rerun gives the same figures on the same machine.
"""

import numpy as np
import torch

from ..runtime import derived_seed

SAMPLE_BATCH = 32      # most copies of one scene in a forward pass


def per_scene(items, scene_of, measure_one, seed: int = 0, on_scene=None) -> list:
    """Return [measure_one(item) for item in items], torch seeded with derived_seed(seed, scene_of(item)) before
    each; on_scene() is called after each item (a progress unit)."""
    out = []
    for item in items:
        torch.manual_seed(derived_seed(seed, scene_of(item)))
        out.append(measure_one(item))
        if on_scene:
            on_scene()
    return out


def copies(array: np.ndarray, n: int, device) -> torch.Tensor:
    """Return `n` copies of one scene's array [...] as a tensor [n, ...] on `device`."""
    t = torch.from_numpy(np.ascontiguousarray(array)).to(device)
    return t[None].expand(n, *t.shape)


def sample_chunks(samples: int):
    """Yield the sizes of the forward passes that draw `samples` samples (at most SAMPLE_BATCH each)."""
    for start in range(0, samples, SAMPLE_BATCH):
        yield min(SAMPLE_BATCH, samples - start)


def model_device(model) -> torch.device:
    """Return the device of a model's parameters (cpu for a model without any)."""
    return next(iter(model.parameters()), torch.zeros(())).device


def as_uint8_frames(pred: torch.Tensor) -> np.ndarray:
    """Return a model's sampled frames float [..., 3, H, W] (about [0, 1]) as uint8 [..., H, W, 3] on the CPU."""
    return (pred.movedim(-3, -1).clamp(0, 1) * 255).round().byte().cpu().numpy()


@torch.no_grad()
def draw_views(model, frames: np.ndarray, viewpoints: np.ndarray, context: list, query: list,
               samples: int) -> np.ndarray:
    """Sample `samples` predictions of the `query` views of one scene given its `context` views, drawing from
    torch's current random state (SAMPLE_BATCH at a time). frames uint8 [V, H, W, 3], viewpoints float32 [V, D].

    Returns uint8 [samples, Q, H, W, 3] (for a jumpy model each sample is one consistent set: one z)."""
    device = model_device(model)
    return np.concatenate([as_uint8_frames(model.sample(
        copies(frames[context], n, device), copies(viewpoints[context], n, device),
        copies(viewpoints[query], n, device))) for n in sample_chunks(samples)])


def scene_batch(frames, viewpoints, context: list, targets: list, n: int, device) -> dict:
    """Return a batch (the keys of data.SceneViews) of `n` copies of one scene whose `context` and `targets` view
    indices are all real (frames uint8 [V, H, W, 3], viewpoints float32 [V, D])."""
    return {"context_frames": copies(frames[context], n, device),
            "context_viewpoints": copies(viewpoints[context], n, device),
            "context_mask": torch.ones(n, len(context), dtype=torch.bool, device=device),
            "target_frames": copies(frames[targets], n, device),
            "target_viewpoints": copies(viewpoints[targets], n, device),
            "target_mask": torch.ones(n, len(targets), dtype=torch.bool, device=device)}
