#!/usr/bin/env bash
# Regenerates the README's figures (docs/figures/*.png) from a real search on the embedded faces:
# 12 trials of up to 6 epochs at 32 px (the quick-start space), TPE + ASHA, then `raysearch plot`.
# Only the embedded, procedurally drawn faces are used: no real face data ends up in the repository.
# Usage: bash bench/make_readme_figures.sh        (PYTHON=/path/to/python to pick an interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT
"$PY" -m raysearch.cli submit --name readme --results "$RESULTS" --data embedded \
    --num-samples 12 --max-epochs 6 --seed 0
"$PY" -m raysearch.cli plot readme --results "$RESULTS" --out "$RESULTS/report"
mkdir -p docs/figures
for f in learning_curves importance samples_0.3-0.4; do
    cp "$RESULTS/report/$f.png" "docs/figures/$f.png"
done
ls -l docs/figures
