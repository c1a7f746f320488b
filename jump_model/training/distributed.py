"""The trainer's processes: the torchrun process group (DDP), averaging over ranks, and a Ctrl-C that stops
between steps. Ranks talk once per metrics line (`window_over_ranks`: the losses and the stop flag in one
all-reduce), never inside a step beyond DDP's own gradient all-reduce."""

import atexit
import os
import signal
import threading

import torch
import torch.distributed as dist

from ..runtime import process_group_plan


def distributed_setup(device: torch.device) -> tuple:
    """Join the torchrun process group when torchrun started this process (RANK set), even with one process, so
    a one-GPU torchrun run takes the same path as a many-GPU one. On CUDA each rank first takes its GPU
    (torch.cuda.set_device), then joins NCCL bound to it (device_id); ranks that must share a GPU use gloo
    (runtime.process_group_plan). On the CPU: gloo.

    Returns (rank, world size, device, note): the note a line saying the ranks share GPUs through gloo, else None.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if "RANK" not in os.environ and world <= 1:
        return 0, 1, device, None
    backend, note = "gloo", None
    if device.type == "cuda":
        backend, gpu, note = process_group_plan(int(os.environ.get("LOCAL_RANK", "0")),
                                                int(os.environ.get("LOCAL_WORLD_SIZE", "1")), torch.cuda.device_count())
        device = torch.device("cuda", gpu)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend, device_id=device if backend == "nccl" else None)
        atexit.register(leave_process_group, world, False)   # an error before train's own exit: leave anyway
    return dist.get_rank(), world, device, note


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


def window_over_ranks(means: torch.Tensor, stop: bool, world: int) -> tuple:
    """Return (means [n] averaged over the `world` ranks, as a list; True if any rank was asked to stop): with
    several ranks one all-reduce of [means, stop] that every rank must call at the same step; as is with one."""
    if world == 1:
        return means.tolist(), stop
    packed = torch.cat([means, means.new_tensor([float(stop)])])
    dist.all_reduce(packed)
    *sums, stops = packed.tolist()   # the one host synchronisation of the window
    return [x / world for x in sums], stops > 0


class StopRequest:
    """Turns the first Ctrl-C (SIGINT) into the flag `requested` the loop reads between steps (with several ranks,
    at each metrics line, through window_over_ranks), so the checkpoint saved on the way out is of a whole step;
    a second Ctrl-C interrupts at once (KeyboardInterrupt, nothing saved)."""

    def __enter__(self):
        self.requested, self.previous = False, None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._request)
        return self

    def _request(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
