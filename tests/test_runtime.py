"""Devices by the book, as pure functions over made-up machines: the precision a run computes in, the loader
workers per rank, the process group of each rank; and a run's record of its precision."""

import json
import sys
from unittest.mock import patch

import pytest
import torch

from cli import run as cli_run
from jump_model.run_folder import read_config
from jump_model.runtime import (Capabilities, auto_loader_workers, capabilities, choose_precision,
                                cpu_has_native_bf16, process_group_plan)
from model_scenes import make_square_dataset
from test_model_training import jumpdata

H100 = Capabilities("cuda", "NVIDIA H100", bf16_native=True, capability=(9, 0))
A100 = Capabilities("cuda", "NVIDIA A100", bf16_native=True, capability=(8, 0))
V100 = Capabilities("cuda", "Tesla V100", bf16_native=False, capability=(7, 0))   # bf16 only emulated
T4 = Capabilities("cuda", "Tesla T4", bf16_native=False, capability=(7, 5))
P100 = Capabilities("cuda", "Tesla P100", bf16_native=False, capability=(6, 0))
AMX_CPU = Capabilities("cpu", "this CPU", bf16_native=True)
OLD_CPU = Capabilities("cpu", "this CPU", bf16_native=False)


@pytest.mark.parametrize("caps,autocast,scaler,tf32", [
    (H100, "bfloat16", False, False), (A100, "bfloat16", False, False),
    (V100, "float16", True, False), (T4, "float16", True, False),
    (P100, None, False, False), (AMX_CPU, "bfloat16", False, False), (OLD_CPU, None, False, False)])
def test_amp_takes_bf16_only_where_native_else_fp16_with_a_scaler_or_float32(caps, autocast, scaler, tf32):
    p = choose_precision(caps, amp=True)
    assert (p.autocast, p.grad_scaler, p.tf32) == (autocast, scaler, tf32)
    assert "\n" not in p.line and p.line.startswith("precision: ")
    assert p.record() == {"autocast": autocast, "grad_scaler": scaler, "tf32": tf32}


@pytest.mark.parametrize("caps,tf32", [(H100, True), (A100, True), (V100, False), (T4, False), (AMX_CPU, False),
                                       (OLD_CPU, False)])
def test_float32_runs_use_tf32_on_gpus_that_have_it_and_say_so(caps, tf32):
    p = choose_precision(caps, amp=False)
    assert (p.autocast, p.grad_scaler, p.tf32) == (None, False, tf32)
    assert ("TF32" in p.line) == tf32 and "float32" in p.line


def test_the_cpu_flags_that_mean_native_bf16():
    assert cpu_has_native_bf16("flags : fpu sse2 avx512f avx512_bf16")
    assert cpu_has_native_bf16("flags : fpu amx_bf16 amx_tile")
    assert not cpu_has_native_bf16("flags : fpu sse2 avx2 avx512f")
    assert not cpu_has_native_bf16("")


@pytest.mark.parametrize("cores,ranks,workers", [(16, 8, 1), (16, 1, 8), (16, 2, 7), (64, 8, 7), (4, 8, 1),
                                                 (2, 1, 1)])
def test_loader_workers_are_the_ranks_share_of_the_nodes_cores(cores, ranks, workers):
    assert auto_loader_workers("cuda", cores, ranks) == workers
    assert auto_loader_workers("cuda", cores, ranks) * ranks <= max(cores, ranks)   # never more than the node holds


def test_a_cpu_run_loads_with_one_worker_beside_the_compute():
    assert auto_loader_workers("cpu", 16, 1) == 1


def test_each_rank_takes_its_own_gpu_with_nccl_and_ranks_sharing_one_use_gloo():
    assert [process_group_plan(r, 4, 4) for r in range(4)] == [("nccl", r, None) for r in range(4)]
    assert process_group_plan(1, 2, 8) == ("nccl", 1, None)
    shared = [process_group_plan(r, 2, 1) for r in range(2)]
    assert [(b, g) for b, g, _ in shared] == [("gloo", 0), ("gloo", 0)]
    assert all("share" in note and "\n" not in note for _, _, note in shared)
    assert [process_group_plan(r, 4, 2)[1] for r in range(4)] == [0, 1, 0, 1]


def test_a_run_says_its_precision_at_start_and_records_it_in_config_json(tmp_path, capsys):
    make_square_dataset(tmp_path / "squares")
    run = tmp_path / "run"
    common = ["--workers", "0", "--device", "cpu", "--out", run]
    with patch.object(sys, "argv", ["jumpdata", "train", str(tmp_path / "squares"), "--preset", "tiny", "--batch-size",
                                    "2", "--steps", "1", *map(str, common)]), pytest.raises(SystemExit) as done:
        cli_run()
    said = capsys.readouterr()
    assert done.value.code is None or done.value.code == 0, said.err
    expected = choose_precision(capabilities(torch.device("cpu")), amp=True)
    assert f"jumpdata: {expected.line}" == said.out.splitlines()[0]   # stdout: stderr is for errors alone
    assert json.loads((run / "config.json").read_text())["precision"] == expected.record()
    assert read_config(run).steps == 1                      # a record, not a setting: the run still reads
    code, err = jumpdata(capsys, "train", tmp_path / "squares", "--resume", "--steps", "2", *common)
    assert code == 0, err
