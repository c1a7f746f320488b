"""The trainer's processes: the torchrun process group (DDP), averaging over ranks, and a Ctrl-C that stops
between steps."""

import atexit
import os
import signal
import threading

import torch
import torch.distributed as dist


def distributed_setup(device: torch.device) -> tuple:
    """Join the torchrun process group when torchrun started this process (RANK set; NCCL on CUDA, gloo on
    CPU), even with one process, so a one-GPU torchrun run takes the same path as a many-GPU one.

    Returns (rank, world size, device); on CUDA each rank takes GPU LOCAL_RANK.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if "RANK" not in os.environ and world <= 1:
        return 0, 1, device
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(leave_process_group, world, False)   # an error before train's own exit: leave anyway
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return dist.get_rank(), world, device


def leave_process_group(world: int, finished: bool) -> None:
    """Leave the process group distributed_setup joined (nothing when it joined none). A rank that `finished`
    cleanly first waits at a barrier for every other rank, so no rank shuts its connections down while another
    still uses them (gloo aborts the process then); a failing rank leaves at once, which ends the collectives
    its peers are waiting in with an error instead of a hang."""
    if dist.is_initialized():
        if finished and world > 1:
            dist.barrier()
        dist.destroy_process_group()


def wrap_for_processes(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Return `model` wrapped in DistributedDataParallel when a process group is joined, else `model`."""
    if not dist.is_initialized():
        return model
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def mean_over_ranks(sums: torch.Tensor, world: int) -> torch.Tensor:
    """Return `sums` averaged over the `world` ranks (an all-reduce; every rank must call it), or as is."""
    if world > 1:
        sums = sums.clone()
        dist.all_reduce(sums)
        sums /= world
    return sums


class StopRequest:
    """Turns the first Ctrl-C (SIGINT) into a flag the loop reads between steps, so the checkpoint saved on
    the way out is of a whole step; a second Ctrl-C interrupts at once (KeyboardInterrupt, nothing saved)."""

    def __enter__(self):
        self.requested, self.previous = False, None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._request)
        return self

    def _request(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def agreed(self, world: int, device: torch.device) -> bool:
        """Return True if any rank was asked to stop (an all-reduce when there are several ranks)."""
        if world == 1:
            return self.requested
        flag = torch.tensor([float(self.requested)], device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
