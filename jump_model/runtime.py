"""What a process needs from the machine it runs on: the device, the seeds, bf16 and the compiler.

    resolve_device      "auto", "cpu" or "cuda" -> torch.device (the one device check)
    derived_seed        the one seed function: a torch seed from a tuple of ints
    bf16_is_fast        whether the device computes bfloat16 natively (the trainer's autocast)
    compiler_available  whether torch.compile can generate code for the device here
"""

import importlib.util
import os
import shutil
import sys
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


def bf16_is_fast(device: torch.device) -> bool:
    """Return True if `device` computes bfloat16 natively: a CUDA GPU that supports it, or a CPU with the
    avx512_bf16 or amx_bf16 instructions (read from /proc/cpuinfo; False where that file does not exist)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def compiler_available(device: torch.device) -> bool:
    """Return True if torch.compile can generate code for `device` here: Triton for CUDA, a C++ compiler (CXX,
    else g++) for the CPU. If not, say so in one line on stderr (the run goes on uncompiled)."""
    if device.type == "cuda":
        missing = None if importlib.util.find_spec("triton") else "Triton is not installed"
    else:
        cxx = os.environ.get("CXX", "g++")
        missing = None if shutil.which(cxx) else f"no C++ compiler ({cxx}) on PATH"
    if missing:
        print(f"jumpdata: --compile: {missing}; training uncompiled", file=sys.stderr)
    return missing is None
