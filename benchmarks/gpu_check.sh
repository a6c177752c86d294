#!/usr/bin/env bash
# One-command GPU check: every gpu-marked test (CUDA against CPU) and the device side of each batched
# benchmark (simulator, batched VI, batched robust VI, batched MMD, batched actor-critic seeds), written to
# one results file. Sized to finish in under 5 minutes on one GPU.
#
# Usage (from anywhere):  benchmarks/gpu_check.sh [--device cuda|cpu]
#   --device cuda (default)  the real check; needs torch.cuda.is_available()
#   --device cpu             a dry run on the CPU (tests compare the CPU with itself, smaller benchmark sizes),
#                            so the script is known to work before a GPU is lent
# Writes benchmarks/results/gpu_check-<device>.md; exits non-zero if a test fails.
set -uo pipefail
DEVICE=cuda
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --device=*) DEVICE="${1#*=}"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (use --device cuda|cpu)" >&2; exit 2 ;;
  esac
done
if [[ "$DEVICE" != "cuda" && "$DEVICE" != "cpu" ]]; then
  echo "gpu_check.sh: --device must be cuda or cpu, got '$DEVICE'" >&2; exit 2
fi
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=benchmarks/results/gpu_check-$DEVICE.md
mkdir -p benchmarks/results
TMP=$(mktemp -d)
START=$(date +%s)

if [[ "$DEVICE" == "cuda" ]]; then
  $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
    echo "gpu_check.sh: torch.cuda.is_available() is False; run with --device cpu for a dry run" >&2; exit 3; }
  export THEORYSIM_GPU_DEVICE=cuda
  $PY -c "import torch; print(torch.cuda.get_device_name())" > "$TMP/device" 2>&1
else
  export THEORYSIM_GPU_DEVICE=cpu
  echo "CPU dry run ($(nproc) cores)" > "$TMP/device"
fi

echo "[1/2] gpu-marked tests on $DEVICE"
$PY -m pytest -m gpu -q -p no:randomly -o addopts="" --tb=short tests 2>&1 | tee "$TMP/tests"
TEST_RC=${PIPESTATUS[0]}

echo "[2/2] device side of the batched benchmarks on $DEVICE"
$PY benchmarks/bench_gpu.py --device "$DEVICE" --out "$TMP/bench.md" 2>&1 | tee "$TMP/bench.log"
BENCH_RC=${PIPESTATUS[0]}
END=$(date +%s)

{
  echo "# GPU check ($DEVICE)"
  echo
  echo "Device: $(cat "$TMP/device"). Run $(date -u +%Y-%m-%dT%H:%MZ), $((END - START)) s in total, by \`benchmarks/gpu_check.sh --device $DEVICE\`."
  if [[ "$DEVICE" == "cpu" ]]; then
    echo "This is the CPU dry run: it shows the script works end to end; it measures no GPU."
  fi
  echo
  echo "## gpu-marked tests (exit status $TEST_RC)"
  echo
  echo '```'
  grep -E "passed|failed|error|skipped" "$TMP/tests" | tail -n 5
  echo '```'
  echo
  if [[ -f "$TMP/bench.md" ]]; then sed 's/^## /## /' "$TMP/bench.md"; else echo "bench_gpu.py failed (exit $BENCH_RC):"; echo '```'; tail -n 20 "$TMP/bench.log"; echo '```'; fi
} > "$OUT"
rm -rf "$TMP"
echo "wrote $OUT"
[[ $TEST_RC -eq 0 && $BENCH_RC -eq 0 ]]
