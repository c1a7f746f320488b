#!/usr/bin/env bash
# The GPU path in one go (`make gpu-check`), under 8 minutes on one CUDA GPU. Prints, in order:
#   1. the nvidia-smi summary and torch's view of the GPU
#   2. the test suite's CUDA tests (tests/test_cuda.py), made to FAIL rather than skip without a GPU
#   3. training speed of the salesman preset at batch 36 (64x64), without and with --compile:
#      steps/s, scenes/s, the share of step time waiting for data, peak GPU memory
#   4. a `torchrun --nproc_per_node 1` training run through the NCCL process group (DDP)
#   5. `jumpdata dice --renderer egl` views/s against --renderer tiny
# Each step has a time limit; the first step that fails or runs out of time stops the script with
# "gpu_check: FAILED: <step>" and a non-zero exit. Without CUDA it says so in one line and exits 1.
#
# Environment: PYTHON (default python3) and JUMPDATA (default: jumpdata beside PYTHON, else on PATH) pick the
# install. GPU_CHECK_DEVICE=cpu runs every step on the CPU instead (gloo instead of NCCL, no nvidia-smi, no
# EGL, time limits x5): only to check this script on a machine without a GPU; it proves nothing about the GPU path.
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
    BATCH=36 STEPS=(--steps 40 --warmup 10)
else
    BATCH=4 STEPS=(--steps 2 --warmup 1)
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
START=$SECONDS

section "1. the GPU"
if [[ $DEVICE == cuda ]]; then
    command -v nvidia-smi >/dev/null || fail "nvidia-smi is not on PATH"
    run_step 30 "nvidia-smi" nvidia-smi --query-gpu=index,name,driver_version,memory.total,memory.used,utilization.gpu,temperature.gpu --format=csv
fi
run_step 60 "torch sees the device" "$PYTHON" - "$DEVICE" <<'EOF'
import sys, torch
dev = torch.device(sys.argv[1])
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
if dev.type == "cuda":
    p = torch.cuda.get_device_properties(dev)
    print(f"{p.name}: {p.total_memory / 2**30:.1f} GiB, compute capability {p.major}.{p.minor}, "
          f"bf16 {torch.cuda.is_bf16_supported()}, {torch.cuda.device_count()} device(s) visible")
x = torch.randn(256, 256, device=dev)
assert torch.isfinite(x @ x).all()
EOF

section "2. CUDA tests (tests/test_cuda.py; a missing GPU fails them)"
if [[ $DEVICE == cuda ]]; then
    run_step 150 "CUDA tests" env JUMPDATA_REQUIRE_CUDA=1 "$PYTHON" -m pytest -q -m cuda -p no:cacheprovider tests/test_cuda.py
else
    run_step 150 "CUDA tests (on the CPU)" env JUMPDATA_TEST_DEVICE=cpu "$PYTHON" -m pytest -q -m cuda -p no:cacheprovider tests/test_cuda.py
fi

section "3. training speed, salesman preset, batch $BATCH, 64x64 (ours only)"
run_step 60 "writing the salesman data" "$JUMPDATA" narratives --story salesman --size 64 --n 600 --test-n 40 \
    --out "$TMP/shards"
run_step 90 "training speed without --compile" "$PYTHON" bench/train.py "$TMP/shards" --device "$DEVICE" \
    --batch-size "$BATCH" --rounds 1 --runs default "${STEPS[@]}"
run_step 240 "training speed with --compile" "$PYTHON" bench/train.py "$TMP/shards" --device "$DEVICE" \
    --batch-size "$BATCH" --rounds 1 --runs compile "${STEPS[@]}"

section "4. torchrun --nproc_per_node 1 ($([[ $DEVICE == cuda ]] && echo NCCL || echo gloo))"
status=0
timeout --kill-after=10 $((120 * LIMIT_SCALE)) env NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT "$PYTHON" -m torch.distributed.run \
    --standalone --nproc_per_node 1 "$JUMPDATA" train "$TMP/shards" --preset salesman --batch-size "$BATCH" \
    --steps 6 --log-every 2 --eval-every 6 --sample-every 6 --checkpoint-every 6 --device "$DEVICE" \
    --out "$TMP/ddp" >"$TMP/ddp.log" 2>&1 || status=$?
grep -v "NCCL INFO" "$TMP/ddp.log" | tail -n 20 || true
finish_step "$status" $((120 * LIMIT_SCALE)) "torchrun training"
[[ -f "$TMP/ddp/checkpoint.pt" ]] || fail "torchrun training wrote no checkpoint"
if [[ $DEVICE == cuda ]]; then
    grep -m1 "NCCL version" "$TMP/ddp.log" || fail "torchrun training did not start NCCL"
fi
tail -n 1 "$TMP/ddp/metrics.jsonl"

section "5. jumpdata dice: views/s, --renderer egl against tiny"
for renderer in tiny egl; do
    if [[ $renderer == egl && $DEVICE != cuda ]]; then echo "egl: left out on the CPU"; continue; fi
    t0=$(date +%s.%N)
    run_step 90 "jumpdata dice --renderer $renderer" "$JUMPDATA" dice --renderer "$renderer" --n 60 --test-n 0 \
        --views 10 --workers 2 --out "$TMP/dice_$renderer"
    t1=$(date +%s.%N)
    "$PYTHON" -c "import sys; print(f'{sys.argv[1]}: {600 / (float(sys.argv[3]) - float(sys.argv[2])):7.1f} views/s (60 scenes x 10 views, 2 workers, 64x64, process start included)')" "$renderer" "$t0" "$t1"
done

echo
echo "gpu_check: all steps passed in $((SECONDS - START)) s"
