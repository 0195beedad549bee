#!/usr/bin/env bash
# Issue 14's quality check on real faces: a search of at most 30 minutes on this machine over
# search_spaces/celeba64.yaml (residual generators over the biharmonic fill) on CelebA 64 px with
# NVIDIA's irregular masks, selected on faces 7001-7500; then the best checkpoint against
# scikit-image's inpaint_biharmonic and OpenCV's Telea on faces 7501-8000, which no search saw,
# with the held-out fifth of the mask files (mask.subset), per hole-ratio bin.
# Reads ../shared/data (never copied into the project). A search already in $OUT is reused.
# Usage: bash bench/bench_quality.sh            (SEED=1 BUDGET=1800 N=500 SPACE=... OUT=... PYTHON=...)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DATA=$(cd .. && pwd)/shared/data
[ -d "$DATA/celeba" ] && [ -d "$DATA/masks" ] || { echo "skip: $DATA/celeba or masks missing"; exit 0; }
SEED=${SEED:-0}
OUT=${OUT:-results/bench-quality-seed$SEED}
BUDGET=${BUDGET:-1800}
N=${N:-500}
SPACE=${SPACE:-search_spaces/celeba64.yaml}
load() { echo "[$(date +%T)] load average $(cut -d' ' -f1-3 /proc/loadavg)"; }
load; echo "results in $OUT"
if [ ! -f "$OUT/quality/raysearch.json" ]; then
  "$PY" -m raysearch.cli submit --name quality --results "$OUT" --space "$SPACE" \
      --set data.path="$DATA/celeba" --set mask.folder="$DATA/masks" \
      --num-samples 24 --max-epochs 8 --time-budget "$BUDGET" --startup-trials 5 --seed "$SEED"
else
  echo "reusing the search in $OUT/quality (if it was interrupted: raysearch resume quality --results $OUT)"
fi
load
"$PY" -m raysearch.cli status quality --results "$OUT"
"$PY" -m raysearch.cli best quality --results "$OUT" --out "$OUT/best"
"$PY" -m raysearch.cli evaluate "$OUT/best" --ids 7501-8000 --num-images "$N" --out "$OUT/eval"
load
