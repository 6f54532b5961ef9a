#!/usr/bin/env bash
# The device run, one command on a lent GPU machine (see README.md beside this file):
#
#   bash gpu-service/bench/device/run.sh [BUDGET_S]        (carry: gpu-service/bench/device/.carry)
#
# Prints the machine, writes the carried bundles' weights, times the plan within BUDGET_S seconds
# (default 300) and leaves device-bench.json and device-bench.log in $OUT (2 files: the tool returns
# at most 8). A hard stop at BUDGET_S + 90 s kills a call that cannot be interrupted (a TensorRT
# engine build, say); the JSON already holds every group finished before it.
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
budget=${1:-${BUDGET_S:-300}}
out=${OUT:-$here/.out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
if [ ! -f "$here/.carry/index.json" ]; then
  echo "no carry: run 'npm run bench:device:prepare' here and pass carry: [\"gpu-service/bench/device/.carry\"]" >&2
  exit 2
fi
{
  echo "== snoopi device bench $(date -u +%FT%TZ), budget ${budget} s, commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found"
  python3 -c 'import sys; print("python", sys.version.split()[0])'
  timeout --kill-after=15 $((budget + 90)) python3 "$here/device_bench.py" --carry "$here/.carry" --out "$out" --budget-s "$budget"
  echo "device_bench.py exit $?"
  echo "service run: dropped, see gpu-service/bench/device/README.md (\"The service run\")"
} 2>&1 | tee "$out/device-bench.log"
