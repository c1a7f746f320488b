"""What a process needs from the machine it runs on: the device, the seeds, the precision, the compiler, the
loader workers and the process group's shape. The choices are pure functions of the machine's capabilities
(tested over made-up machines); the functions that read the real machine are separate.

    resolve_device        "auto", "cpu" or "cuda" -> torch.device (the one device check)
    derived_seed          the one seed function: a torch seed from a tuple of ints
    capabilities          what the device offers for reduced precision (bf16 native, CUDA compute capability)
    choose_precision      bf16 autocast where native, else fp16 with a GradScaler or float32 (TF32 where it exists)
    apply_precision       set torch's float32 matmul precision for the chosen precision
    auto_loader_workers   DataLoader workers per rank: its share of the node's cores
    process_group_plan    each CUDA rank's backend and GPU (NCCL, one GPU per rank)
    compiler_available    whether torch.compile can generate code for the device here; `compiled` and
                          `compile_sampling` (a model's sampling path, for `sample` and `eval`) use it
"""

import importlib.util
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from scene_shards.common import UserError

from .config import check_device


def resolve_device(name: str) -> torch.device:
    """Return the torch.device for "auto", "cpu" or "cuda" (UserError if CUDA is asked for but missing, or for
    another name)."""
    check_device(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA GPU is available here (use --device cpu or auto)")
    return torch.device(name)


def derived_seed(*keys: int) -> int:
    """Return a torch seed (a 63-bit int) derived from non-negative ints, e.g. (seed, NOISE_STREAM, step, rank)
    for the trainer's noise or (seed, scene) for a metric's draws on one scene."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0] >> 1)


FP16_TENSOR_CORES = (7, 0)   # CUDA compute capability from which fp16 has tensor cores (V100, T4)
TF32_CAPABILITY = (8, 0)     # CUDA compute capability from which float32 matmuls can run on TF32 tensor cores
MAX_AUTO_WORKERS = 8         # most DataLoader workers per rank picked automatically


@dataclass(frozen=True)
class Capabilities:
    """What a device offers for reduced precision: its kind ("cpu" or "cuda"), its name, whether it computes
    bfloat16 natively (not emulated), and its CUDA compute capability ((0, 0) on the CPU)."""
    kind: str
    name: str
    bf16_native: bool
    capability: tuple = (0, 0)


@dataclass(frozen=True)
class Precision:
    """How a run computes: `autocast` "bfloat16", "float16" or None (float32); `grad_scaler` (float16 only);
    `tf32`: float32 matrix products on TF32 tensor cores; `line`: the one line said at start."""
    autocast: str
    grad_scaler: bool
    tf32: bool
    line: str

    def record(self) -> dict:
        """Return the run folder's record of it (config.json "precision"): {"autocast", "grad_scaler", "tf32"}."""
        return {"autocast": self.autocast, "grad_scaler": self.grad_scaler, "tf32": self.tf32}

    def autocast_dtype(self):
        """Return the torch dtype of the autocast, or None for float32."""
        return None if self.autocast is None else getattr(torch, self.autocast)


def choose_precision(caps: Capabilities, amp: bool) -> Precision:
    """Return the precision of a run on a device with `caps`; `amp` asks for reduced precision where it is fast.

    amp and native bf16 (a CUDA GPU that does not emulate it, a CPU with avx512_bf16 or amx_bf16): bf16 autocast.
    amp on a CUDA GPU with fp16 tensor cores but no native bf16 (V100, T4): fp16 autocast with a GradScaler.
    Otherwise float32, its matrix products on TF32 tensor cores where the GPU has them (compute capability 8.0+).
    """
    if amp and caps.bf16_native:
        return Precision("bfloat16", False, False, f"precision: bf16 autocast ({caps.name} computes bf16 natively)")
    if amp and caps.kind == "cuda" and caps.capability >= FP16_TENSOR_CORES:
        return Precision("float16", True, False,
                         f"precision: fp16 autocast with a GradScaler ({caps.name} only emulates bf16)")
    tf32 = caps.kind == "cuda" and caps.capability >= TF32_CAPABILITY
    why = "amp off" if not amp else f"{caps.name} has neither native bf16 nor fp16 tensor cores"
    return Precision(None, False, tf32, f"precision: float32{' with TF32 matrix products' if tf32 else ''} ({why})")


def cpu_has_native_bf16(cpuinfo: str) -> bool:
    """Return True if the text of /proc/cpuinfo lists the avx512_bf16 or amx_bf16 instructions."""
    flags = set(cpuinfo.split())
    return "avx512_bf16" in flags or "amx_bf16" in flags


def capabilities(device: torch.device) -> Capabilities:
    """Read the reduced-precision capabilities of `device`: on CUDA, bf16 without emulation and the compute
    capability; on the CPU, /proc/cpuinfo's flags (none where that file does not exist)."""
    if device.type == "cuda":
        return Capabilities("cuda", torch.cuda.get_device_name(device),
                            torch.cuda.is_bf16_supported(including_emulation=False),
                            torch.cuda.get_device_capability(device))
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    return Capabilities("cpu", "this CPU", cpu_has_native_bf16(info))


def apply_precision(precision: Precision, device: torch.device) -> None:
    """Turn TF32 on for the matrix products and convolutions of a CUDA run whose precision asks for it (a setting
    of this process); nothing otherwise."""
    if device.type == "cuda" and precision.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def node_cores() -> int:
    """Return the CPU cores this process may run on (its affinity; os.cpu_count() where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def auto_loader_workers(device_type: str, cores: int, local_ranks: int) -> int:
    """Return the DataLoader workers of a rank when none are asked for: on a GPU machine its share of the node's
    cores (cores / local_ranks) less the one it trains on, between 1 and MAX_AUTO_WORKERS; on a CPU, one beside
    the compute."""
    if device_type != "cuda":
        return 1
    return max(1, min(MAX_AUTO_WORKERS, cores // max(local_ranks, 1) - 1))


def process_group_plan(local_rank: int, local_ranks: int, gpus: int) -> tuple:
    """Return (backend, GPU index, note) for CUDA rank `local_rank` of the `local_ranks` on a node with `gpus`
    GPUs: NCCL with a GPU of its own; with more ranks than GPUs, GPU local_rank mod gpus and gloo (NCCL refuses
    two ranks on one GPU), the note saying so (None otherwise)."""
    if local_ranks <= gpus:
        return "nccl", local_rank, None
    return "gloo", local_rank % gpus, (f"{local_ranks} ranks share {gpus} GPU(s): NCCL cannot put two ranks on one "
                                       f"GPU, so they exchange gradients through gloo (for checks, not for speed)")


def compiler_available(device: torch.device) -> bool:
    """Return True if torch.compile can generate code for `device` here: Triton for CUDA, a C++ compiler (CXX,
    else g++) for the CPU. If not, say so in one line on stderr (the run goes on uncompiled)."""
    if device.type == "cuda":
        missing = None if importlib.util.find_spec("triton") else "Triton is not installed"
    else:
        cxx = os.environ.get("CXX", "g++")
        missing = None if shutil.which(cxx) else f"no C++ compiler ({cxx}) on PATH"
    if missing:
        print(f"jumpdata: --compile: {missing}; running uncompiled", file=sys.stderr)
    return missing is None


def compiled(fn, device: torch.device, fullgraph: bool = True):
    """Return torch.compile(fn, fullgraph=fullgraph) when a compiler for `device` is present, else fn as it is."""
    return torch.compile(fn, fullgraph=fullgraph) if compiler_available(device) else fn


def compile_sampling(model, device: torch.device):
    """Route a model's sampling (SceneModel.compile_sampling) through torch.compile, one graph (fullgraph=True),
    when a compiler for `device` is present; returns the model."""
    if compiler_available(device):
        model.compile_sampling(lambda fn: torch.compile(fn, fullgraph=True))
    return model
