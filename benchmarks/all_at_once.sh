#!/usr/bin/env bash
# The multi-task benchmarks of notebooks 06/07 at once on one machine with a GPU and >= 16 cores:
# the scale ablation (4 variants x 3 seeds, 12 processes), popgym-mt and babyai-mt beside it, all with
# the same wall-clock training budget, plus a FAST smoke test of both scripts that stops everything
# if it fails (so a broken set-up costs seconds, not the whole budget).
#
#     benchmarks/all_at_once.sh MINUTES OUT_DIR            # e.g. 6.5 runs/all_at_once
#     DEVICE=cpu benchmarks/all_at_once.sh 0.3 /tmp/aao    # a dry run of this script on a CPU
#
# Every process uses one torch CPU thread (the GPU does the maths; acting and the environments are
# small serial work). Measured on one H100 (data/results/h100, `all_at_once.sh 7 ...`): the 14 processes are
# time-sliced on the GPU, and popgym-mt ran at about a fifth of its speed alone (6.0 updates/s among the 14,
# 28.4 alone); the 12 ablation runs made 6.3 updates/s each. Several GPUs, or fewer runs at once, do better. Results: OUT_DIR/results (CSV/JSON as data/results), logs OUT_DIR/*.log,
# GPU utilisation every 10 s in OUT_DIR/gpu_util.csv, run folders in OUT_DIR/runs.
set -u
minutes=${1:?training minutes per run}
out=${2:?output folder}
device=${DEVICE:-cuda}
py=${PYTHON:-python}
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
mkdir -p "$out/results" "$out/smoke"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 10 >"$out/gpu_util.csv" 2>&1 &
fi
common=(--device "$device" --threads 1)
{ $py benchmarks/scale_ablation.py --fast "${common[@]}" --out "$out/smoke" --run-root "$out/runs/smoke" &&
  $py benchmarks/multitask.py --fast "${common[@]}" --out "$out/smoke" --run-root "$out/runs/smoke"; } \
    >"$out/smoke.log" 2>&1 &
smoke=$!
$py benchmarks/scale_ablation.py --jobs 12 --updates 0 --minutes "$minutes" "${common[@]}" \
    --out "$out/results" --run-root "$out/runs/ablation" >"$out/ablation.log" 2>&1 &
$py benchmarks/multitask.py --sets popgym-mt --minutes "$minutes" "${common[@]}" \
    --out "$out/results" --run-root "$out/runs/multitask" >"$out/popgym-mt.log" 2>&1 &
$py benchmarks/multitask.py --sets babyai-mt --minutes "$minutes" "${common[@]}" \
    --out "$out/results" --run-root "$out/runs/multitask" >"$out/babyai-mt.log" 2>&1 &
if ! wait $smoke; then
    echo "smoke test FAILED, stopping the runs:"; tail -n 40 "$out/smoke.log"
    pkill -P $$; exit 1
fi
echo "smoke test passed ($(date +%T)); waiting for the runs"
status=0
for job in $(jobs -p); do
    [ "$(ps -o comm= -p "$job")" = nvidia-smi ] && continue
    wait "$job" || status=1
done
pkill -P $$ 2>/dev/null
for log in ablation popgym-mt babyai-mt; do echo "=== $log"; tail -n 40 "$out/$log.log"; done
exit $status
