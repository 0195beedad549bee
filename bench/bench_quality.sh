#!/usr/bin/env bash
# Issue 3's quality check on real faces: a search of at most 30 minutes on this machine over the
# two fast families (bench/quality_space.yaml) on CelebA 64 px with NVIDIA's irregular masks, then
# the best checkpoint against scikit-image's inpaint_biharmonic and OpenCV's Telea on the same
# validation faces (ids 7001-8000, the first N of them) and holes, per hole-ratio bin.
# Reads ../shared/data (never copied into the project); writes under $OUT (default: a temp dir).
# Usage: bash bench/bench_quality.sh        (BUDGET=1800 N=300 PYTHON=... OUT=... to change)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DATA=$(cd .. && pwd)/shared/data
[ -d "$DATA/celeba" ] && [ -d "$DATA/masks" ] || { echo "skip: $DATA/celeba or masks missing"; exit 0; }
OUT=${OUT:-$(mktemp -d)}
BUDGET=${BUDGET:-1800}
N=${N:-300}
echo "[$(date +%T)] load $(cut -d' ' -f1-3 /proc/loadavg); results in $OUT"
"$PY" -m raysearch.cli submit --name quality --results "$OUT" --space bench/quality_space.yaml \
    --set data.path="$DATA/celeba" --set mask.folder="$DATA/masks" \
    --num-samples 24 --max-epochs 8 --time-budget "$BUDGET" --seed 0
echo "[$(date +%T)] load $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" -m raysearch.cli status quality --results "$OUT"
"$PY" -m raysearch.cli best quality --results "$OUT" --out "$OUT/best"
"$PY" -m raysearch.cli evaluate "$OUT/best" --masks "$DATA/masks" --num-images "$N" --out "$OUT/eval"
echo "[$(date +%T)] load $(cut -d' ' -f1-3 /proc/loadavg)"
