"""The paper's measurements on one model and a split of its data, as per-scene numbers (and their bootstrap).

    min_mse_per_scene   min over sampled continuations of a video's MSE (figure 5a)
    nelbo_per_scene     negative ELBO of views of a hidden cube face (figure 5b)
    kl_per_scene        KL1 and KL3: posterior given one / three views of the hidden face (section 4, consistency)
    time_to_frame_ms    wall time to obtain frame N of a video (section 4, speed)
    bootstrap_ci95      95% interval of a statistic over scenes

Models follow the interface of docs/reproduce.md: `sample(...)`, `scene_losses(...)`
and `kl(...)`. Every sampled number is a function of (seed, scene index), so two
models are measured on the same draws of the data and a rerun gives the same
figures on the same machine.
"""

import time

import numpy as np
import torch

BOOTSTRAP_RESAMPLES = 2000
SAMPLE_BATCH = 32      # most copies of one scene in a forward pass
SPEED_WARMUP = 2       # untimed calls before the timed ones


def bootstrap_ci95(values, statistic=np.mean, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> list:
    """Return [low, high], the 2.5th and 97.5th percentiles of `statistic` over resamples of the rows of `values`.

    values: array [N] or [N, k] (a scene's k numbers are resampled together); statistic: array -> float.
    """
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), size=(resamples, len(values)))
    stats = np.array([statistic(values[p]) for p in picks])
    low, high = np.percentile(stats, [2.5, 97.5])
    return [float(low), float(high)]


def scene_seed(seed: int, scene: int) -> int:
    """Return the torch seed of scene `scene`'s draws (the same for every model measured)."""
    return int(np.random.SeedSequence([seed, scene]).generate_state(1, np.uint64)[0] >> 1)


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


@torch.no_grad()
def min_mse_per_scene(model, scenes, indices, context_frames: int, samples: int, seed: int = 0,
                      on_scene=None) -> np.ndarray:
    """Per video: the smallest, over `samples` sampled continuations of its first `context_frames` frames, of
    the mean squared error over all later frames (pixels in [0, 1]). Returns float64 [len(indices)].

    on_scene(): called after each video.
    """
    device = model_device(model)
    out = []
    for i in indices:
        frames, views = scenes.frames(i), scenes.viewpoints(i)
        truth = torch.from_numpy(frames[context_frames:]).to(device).movedim(-1, -3).float() / 255.0
        torch.manual_seed(scene_seed(seed, i))
        best = float("inf")
        for n in sample_chunks(samples):
            pred = model.sample(copies(frames[:context_frames], n, device), copies(views[:context_frames], n, device),
                                copies(views[context_frames:], n, device))
            best = min(best, float((pred.float() - truth).square().flatten(1).mean(1).min()))
        out.append(best)
        if on_scene:
            on_scene()
    return np.array(out)


def hidden_face_batch(frames, viewpoints, pick, targets: int, n: int, device) -> dict:
    """Return a batch of `n` copies of one scene: pick.context as context, the first `targets` of pick.targets
    as targets (a HiddenFace; frames uint8 [V, H, W, 3], viewpoints float32 [V, D])."""
    ctx, tgt = list(pick.context), list(pick.targets[:targets])
    return {"context_frames": copies(frames[ctx], n, device), "context_viewpoints": copies(viewpoints[ctx], n, device),
            "context_mask": torch.ones(n, len(ctx), dtype=torch.bool, device=device),
            "target_frames": copies(frames[tgt], n, device), "target_viewpoints": copies(viewpoints[tgt], n, device),
            "target_mask": torch.ones(n, len(tgt), dtype=torch.bool, device=device)}


@torch.no_grad()
def nelbo_per_scene(model, scenes, picks, samples: int, pixel_variance: float, seed: int = 0,
                    on_scene=None) -> np.ndarray:
    """Per HiddenFace pick: the negative ELBO (nats) of all its target views given its context, at the fixed
    `pixel_variance`, averaged over `samples` posterior samples. Returns float64 [len(picks)]."""
    device = model_device(model)
    out = []
    for pick in picks:
        frames, views = scenes.frames(pick.scene), scenes.viewpoints(pick.scene)
        torch.manual_seed(scene_seed(seed, pick.scene))
        total = 0.0
        for n in sample_chunks(samples):
            batch = hidden_face_batch(frames, views, pick, len(pick.targets), n, device)
            total += float(model.scene_losses(batch, pixel_variance)["nelbo"].double().sum())
        out.append(total / samples)
        if on_scene:
            on_scene()
    return np.array(out)


@torch.no_grad()
def kl_per_scene(model, scenes, picks, samples: int, seed: int = 0, on_scene=None) -> tuple:
    """Per HiddenFace pick: KL1, the KL (nats) from the posterior given its first target view to the prior given
    its context, and KL3, the same with all its target views; each averaged over `samples` posterior samples.

    Returns (kl1, kl3), float64 [len(picks)] each.
    """
    device = model_device(model)
    kl1, kl3 = [], []
    for pick in picks:
        frames, views = scenes.frames(pick.scene), scenes.viewpoints(pick.scene)
        torch.manual_seed(scene_seed(seed, pick.scene))
        sums = {1: 0.0, len(pick.targets): 0.0}
        for targets in sums:
            for n in sample_chunks(samples):
                batch = hidden_face_batch(frames, views, pick, targets, n, device)
                sums[targets] += float(model.kl(batch).double().sum())
        kl1.append(sums[1] / samples)
        kl3.append(sums[len(pick.targets)] / samples)
        if on_scene:
            on_scene()
    return np.array(kl1), np.array(kl3)


@torch.no_grad()
def time_to_frame_ms(model, frames, viewpoints, context_frames: int, frame: int, batch: int, repeats: int,
                     on_repeat=None) -> np.ndarray:
    """Wall time (milliseconds) of `repeats` calls of model.sample that obtain frame number `frame` (1-based) of
    a batch of `batch` copies of one video from its first `context_frames` frames, after SPEED_WARMUP untimed
    calls. frames uint8 [V, H, W, 3], viewpoints float32 [V, D]. Returns float64 [repeats]."""
    device = model_device(model)
    ctx, ctx_views = copies(frames[:context_frames], batch, device), copies(viewpoints[:context_frames], batch, device)
    query = copies(viewpoints[frame - 1:frame], batch, device)
    finish = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    for _ in range(SPEED_WARMUP):
        model.sample(ctx, ctx_views, query)
    times = []
    for _ in range(repeats):
        finish()
        start = time.perf_counter()
        model.sample(ctx, ctx_views, query)
        finish()
        times.append((time.perf_counter() - start) * 1000.0)
        if on_repeat:
            on_repeat()
    return np.array(times)
