#!/usr/bin/env bash
# The GPU path in one go (`make gpu-check`), under 8 minutes on one CUDA GPU. Prints, in order:
#   1. the nvidia-smi summary and torch's view of the GPU (bf16 native or emulated, TF32, the precision chosen)
#   2. the test suite's CUDA tests and the compile-once tests (tests/test_cuda.py, tests/test_compile.py), made to
#      FAIL rather than skip without a GPU
#   3. training speed of the tiny and salesman presets at batch 36, eager and --compile in one run (bench/train.py):
#      steps/s, scenes/s, the share of step time waiting for data and outside the model, peak GPU memory
#   4. a salesman run with --workers 4 (pinned memory, persistent loader workers)
#   5. a two-process torchrun run: NCCL on two GPUs; with one GPU both ranks share it through gloo (NCCL refuses
#      two ranks on one GPU), and a one-process NCCL run checks NCCL itself
#   6. the largest batch that fits for the salesman and dice presets (bench/largest_batch.py)
#   7. `jumpdata dice --renderer egl` views/s against --renderer tiny; a warning, not a failure, without EGL
# then every figure in one table. Each step has a time limit; the first step that fails or runs out of time stops
# the script with "gpu_check: FAILED: <step>" and a non-zero exit. Without CUDA it says so in one line and exits 1.
#
# Environment: PYTHON (default python3) and JUMPDATA (default: jumpdata beside PYTHON, else on PATH) pick the
# install. GPU_CHECK_DEVICE=cpu runs every step on the CPU instead (gloo instead of NCCL, no nvidia-smi, no
# EGL, small sizes, time limits x5): only to check this script on a machine without a GPU; it proves nothing about
# the GPU path.
set -euo pipefail

PYTHON=${PYTHON:-python3}
DEVICE=${GPU_CHECK_DEVICE:-cuda}
if [[ -z "${JUMPDATA:-}" ]]; then
    JUMPDATA="$(dirname "$(command -v "$PYTHON")")/jumpdata"
    [[ -x "$JUMPDATA" ]] || JUMPDATA=jumpdata
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

fail() { echo "gpu_check: FAILED: $*" >&2; exit 1; }
section() { echo; echo "== $*"; }
# finish_step STATUS SECONDS NAME: stop the script with one clear line unless STATUS (of a `timeout SECONDS` run) is 0.
finish_step() {
    if [[ $1 -eq 124 || $1 -eq 137 ]]; then
        fail "$3: still running after $2 s"
    elif [[ $1 -ne 0 ]]; then
        fail "$3 (exit status $1)"
    fi
}
# run_step SECONDS NAME COMMAND...: run COMMAND with a time limit (x LIMIT_SCALE), stop the script if it fails.
run_step() {
    local limit=$(($1 * LIMIT_SCALE)) name=$2 status=0
    shift 2
    timeout --kill-after=10 "$limit" "$@" || status=$?
    finish_step "$status" "$limit" "$name"
}

LIMIT_SCALE=1
case "$DEVICE" in
    cuda)
        if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
            echo "gpu_check: no CUDA GPU here (torch.cuda.is_available() is False for $PYTHON); nothing was checked" >&2
            exit 1
        fi ;;
    cpu) echo "gpu_check: GPU_CHECK_DEVICE=cpu: checking this script on the CPU; this proves nothing about a GPU"
         LIMIT_SCALE=5 ;;
    *) echo "gpu_check: GPU_CHECK_DEVICE must be cuda or cpu, got '$DEVICE'" >&2; exit 2 ;;
esac

if [[ $DEVICE == cuda ]]; then
    BATCH=36 SPEED=(--steps 30 --warmup 10) RUN_STEPS=60 LOG_EVERY=10 SIZE=64 N=600 LARGEST=(--most 4096)
else
    BATCH=4 SPEED=(--steps 2 --warmup 1) RUN_STEPS=4 LOG_EVERY=1 SIZE=32 N=60 LARGEST=(--most 8)
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
FIGURES="$TMP/figures.jsonl"
START=$SECONDS

section "1. the GPU"
if [[ $DEVICE == cuda ]]; then
    command -v nvidia-smi >/dev/null || fail "nvidia-smi is not on PATH"
    run_step 30 "nvidia-smi" nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,utilization.gpu,temperature.gpu --format=csv
fi
run_step 60 "torch sees the device" "$PYTHON" - "$DEVICE" <<'EOF'
import sys, torch
from jump_model.runtime import capabilities, choose_precision
dev = torch.device(sys.argv[1])
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
if dev.type == "cuda":
    p = torch.cuda.get_device_properties(dev)
    print(f"{p.name}: {p.total_memory / 2**30:.1f} GiB, compute capability {p.major}.{p.minor}, bf16 native "
          f"{torch.cuda.is_bf16_supported(including_emulation=False)} (emulated: "
          f"{torch.cuda.is_bf16_supported(including_emulation=True)}), {torch.cuda.device_count()} device(s) visible")
caps = capabilities(dev)
print(f"default runs: {choose_precision(caps, amp=True).line}; without amp: {choose_precision(caps, amp=False).line}")
x = torch.randn(256, 256, device=dev)
assert torch.isfinite(x @ x).all()
EOF

section "2. CUDA tests and compile-once tests (a missing GPU fails them)"
TEST_ENV=(env JUMPDATA_REQUIRE_CUDA=1)
[[ $DEVICE == cuda ]] || TEST_ENV=(env JUMPDATA_TEST_DEVICE=cpu)
run_step 210 "CUDA and compile tests" "${TEST_ENV[@]}" "$PYTHON" -m pytest -q -p no:cacheprovider \
    -m "cuda or slow" tests/test_cuda.py tests/test_compile.py

section "3. training speed, tiny and salesman presets, batch $BATCH, eager and --compile (one run)"
run_step 60 "writing the salesman data" "$JUMPDATA" narratives --story salesman --size "$SIZE" --n "$N" --test-n 40 \
    --out "$TMP/shards"
run_step 240 "training speed" "$PYTHON" bench/train.py --device "$DEVICE" --batch-size "$BATCH" --rounds 1 \
    --presets tiny,salesman --runs default,compile "${SPEED[@]}" --figures "$FIGURES"

section "4. --workers 4: pinned memory, persistent loader workers"
run_step 90 "training with --workers 4" "$JUMPDATA" train "$TMP/shards" --preset salesman --batch-size "$BATCH" \
    --steps "$RUN_STEPS" --workers 4 --log-every "$LOG_EVERY" --eval-every "$RUN_STEPS" --sample-every "$RUN_STEPS" \
    --checkpoint-every "$RUN_STEPS" --device "$DEVICE" --out "$TMP/workers4"
run_step 30 "reading the --workers 4 run" "$PYTHON" bench/run_figures.py "$TMP/workers4" --name "salesman, --workers 4" \
    --figures "$FIGURES"

GPUS=$([[ $DEVICE == cuda ]] && "$PYTHON" -c 'import torch; print(torch.cuda.device_count())' || echo 0)
if [[ $DEVICE != cuda ]]; then BACKEND=gloo; elif [[ $GPUS -ge 2 ]]; then BACKEND=NCCL; else BACKEND="gloo, both ranks on GPU 0"; fi
section "5. torchrun --nproc_per_node 2 ($BACKEND)"
# torchrun_run NPROC OUT NAME: a short salesman run under torchrun; its log in OUT.log, its figures appended.
torchrun_run() {
    local status=0
    timeout --kill-after=10 $((150 * LIMIT_SCALE)) env NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT "$PYTHON" \
        -m torch.distributed.run --standalone --nproc_per_node "$1" "$JUMPDATA" train "$TMP/shards" --preset salesman \
        --batch-size "$BATCH" --steps "$RUN_STEPS" --log-every "$LOG_EVERY" --eval-every "$RUN_STEPS" --sample-every "$RUN_STEPS" \
        --checkpoint-every "$RUN_STEPS" --device "$DEVICE" --out "$2" >"$2.log" 2>&1 || status=$?
    grep -v "NCCL INFO" "$2.log" | tail -n 8 || true
    finish_step "$status" $((150 * LIMIT_SCALE)) "$3"
    [[ -f "$2/checkpoint.pt" ]] || fail "$3 wrote no checkpoint"
    run_step 30 "reading the $3 run" "$PYTHON" bench/run_figures.py "$2" --name "$3" --figures "$FIGURES"
}
torchrun_run 2 "$TMP/ddp2" "torchrun, 2 ranks"
if [[ $BACKEND == NCCL ]]; then
    grep -m1 "NCCL version" "$TMP/ddp2.log" || fail "the two-rank torchrun run did not start NCCL"
elif [[ $DEVICE == cuda ]]; then
    grep -q "share" "$TMP/ddp2.log" || fail "the two ranks on one GPU did not say they share it through gloo"
    torchrun_run 1 "$TMP/ddp1" "torchrun, 1 rank (NCCL)"
    grep -m1 "NCCL version" "$TMP/ddp1.log" || fail "the one-rank torchrun run did not start NCCL"
fi

section "6. the largest batch that fits (eager, the default precision; every slot is computed, so any masks)"
run_step 150 "largest batch" "$PYTHON" bench/largest_batch.py --device "$DEVICE" --presets salesman,dice \
    --size "$SIZE" "${LARGEST[@]}" --figures "$FIGURES"

section "7. jumpdata dice: views/s, --renderer egl against tiny"
for renderer in tiny egl; do
    if [[ $renderer == egl && $DEVICE != cuda ]]; then echo "egl: left out on the CPU"; continue; fi
    t0=$(date +%s.%N)
    status=0
    timeout --kill-after=10 $((90 * LIMIT_SCALE)) "$JUMPDATA" dice --renderer "$renderer" --n 60 --test-n 0 --views 10 \
        --workers 2 --out "$TMP/dice_$renderer" >"$TMP/dice_$renderer.log" 2>&1 || status=$?
    t1=$(date +%s.%N)
    if [[ $renderer == egl && $status -ne 0 && $status -ne 124 && $status -ne 137 ]]; then
        echo "gpu_check: WARNING: the EGL renderer does not run here (no NVIDIA EGL in this container?): $(tail -n 1 "$TMP/dice_egl.log")" >&2
        continue
    fi
    cat "$TMP/dice_$renderer.log"
    finish_step "$status" $((90 * LIMIT_SCALE)) "jumpdata dice --renderer $renderer"
    "$PYTHON" -c "import sys; print(f'{sys.argv[1]}: {600 / (float(sys.argv[3]) - float(sys.argv[2])):7.1f} views/s (60 scenes x 10 views, 2 workers, 64x64, process start included)')" "$renderer" "$t0" "$t1"
done

section "summary"
"$PYTHON" bench/run_figures.py --table "$FIGURES"
echo
echo "gpu_check: all steps passed in $((SECONDS - START)) s"
