#!/usr/bin/env bash
# The GPU check (issue 18), one prepared script for a machine with a GPU: the Ray-free training
# path only (no Ray, no Optuna, no network; the image's PyTorch, numpy, pillow, pyyaml, scipy,
# opencv and pyarrow are all it needs), within 8 minutes. Prints and writes under $OUT
# (default ./gpu_check_out): per family, training images/s at 64, 128 and 256 px in fp32 and
# bf16 with peak GPU memory; the loop against a bare PyTorch loop; bf16 against fp32 PSNR.
#
#   bash bench/gpu_check.sh                      # on the GPU machine
#   bash bench/gpu_check.sh --device cpu --tiny  # dry run here, a couple of minutes
#
# Ray cannot come along: the ray 2.60.0 wheel for cp312 manylinux2014 x86_64 is 79.3 MB
# (75.6 MiB), over the 64 MiB the device machine's working tree may carry, before its
# dependencies. So a search (Tune, fractional GPUs) is not measured there; this script is.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-./gpu_check_out}"
PYTHON="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
timeout 480 "$PYTHON" bench/gpu_check.py --out "$OUT" "$@"
