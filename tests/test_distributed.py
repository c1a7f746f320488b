"""DDP by the book on the CPU (gloo, two processes): a Ctrl-C on one rank stops both at the next metrics line,
where they agree, with a checkpoint of that step; between lines the ranks do not talk."""

import json
import os
import signal
import socket

import torch
import torch.multiprocessing as mp

from jump_model.training import train
from model_scenes import exit_without_teardown, make_square_dataset
from model_scenes import fast_config as config


def _interrupted_worker(rank, world, port, data, out):
    from jump_model.nets import JUMP
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    forward, steps = JUMP.forward, []

    def interrupting(self, batch, variance):
        if self.training:
            steps.append(len(steps) + 1)
            if rank == 1 and len(steps) == 3:
                os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C on rank 1 alone, during its third step
        return forward(self, batch, variance)

    JUMP.forward = interrupting
    result = train(config(data, 40, device="cpu", log_every=2, checkpoint_every=100, eval_every=100,
                          sample_every=100), out)
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump({"step": result.step, "interrupted": result.interrupted, "steps": len(steps)}, f)
    exit_without_teardown()


def test_a_ctrl_c_on_one_rank_stops_both_at_the_next_metrics_line(tmp_path):
    make_square_dataset(tmp_path / "squares")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "ddp"
    mp.spawn(_interrupted_worker, args=(2, port, str(tmp_path / "squares"), str(out)), nprocs=2, join=True)
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks == [{"step": 4, "interrupted": True, "steps": 4}] * 2   # asked at step 3, agreed at line 4
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [2, 4]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 4
