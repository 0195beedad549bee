"""Issue 20, item 1: does a trial's validation PSNR at each ASHA rung predict its final rank?

Reads the finished searches in --experiments that ran without early stopping (``--scheduler
none``: (a) random+none and (b) tpe+none of ``bench/bench_strategies.py``, whose workdir keeps
them in ``real/``) and reports, epoch by epoch, Spearman's rho between the epoch's val_psnr and the
last epoch's (pooled over all their trials, and the median over searches), and how often the
trial that ends best is in the top 1/rf at that epoch; then, per searched parameter group, how much
its trials gain after the first rung and how often that rung would stop them against how often
they end outside the top 1/rf. Searches with ASHA are left out: their full
curves are the trials that survived it. Reads records only, trains nothing (except --quick).

Run, after the 20-trial bench_strategies run (its workdir):
    PYTHONPATH=$PWD .venv/bin/python bench/bench_rung_correlation.py \
        --experiments results/bench-strategies-t20/real --out bench/results/budget20
--quick runs two tiny random searches without early stopping on the embedded faces first (about
a minute on 2 cores) and reads those: it checks the pipeline, its numbers mean nothing.
Writes rung_correlation.json in --out and prints the Markdown table for BENCHMARKS.md. The
correlations are of validation figures only: ranking by held-out faces would need every trial
retrained and scored there.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from raysearch.search.fidelity import rung_correlation
from raysearch.search.store import SPEC_FILE

REPO = Path(__file__).resolve().parents[1]

QUICK_SPACE = """
fixed:
  data.path: embedded
  data.image_size: 32
  data.num_images: 96
  data.num_val: 16
  mask.kind: rect
  model.critic_channels: 8
  train.batch_size: 16
  train.sample_grid: false
parameters:
  model.base_channels: {type: categorical, choices: [8, 16]}
  optim.lr_g: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
"""


def quick_searches(workdir: Path) -> list[Path]:
    """Two tiny random searches without early stopping, 5 trials of 3 epochs each."""
    from raysearch.search.runner import SearchSpec, prepare_search, run_search, start_ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    start_ray(num_cpus=2)
    space = workdir / "space.yaml"
    space.write_text(QUICK_SPACE)
    out = []
    for seed in (0, 1):
        spec = SearchSpec(name=f"random-none-s{seed}", space_path=str(space), results=str(workdir),
                          sampler="random", scheduler="none", num_samples=5, max_epochs=3,
                          seed=seed, max_concurrent=2, keep_checkpoints=1)
        run_search(prepare_search(spec, say=lambda _m: None), say=lambda _m: None)
        out.append(spec.experiment)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", type=Path, default=REPO / "results" / "bench-strategies-t20"
                    / "real", help="folder of finished experiments (bench_strategies' real/)")
    ap.add_argument("--out", type=Path, default=None,
                    help="where rung_correlation.json goes (default: --experiments)")
    ap.add_argument("--grace-period", type=int, default=1)
    ap.add_argument("--reduction-factor", type=int, default=2)
    ap.add_argument("--quick", action="store_true",
                    help="run two tiny searches first and read them (a smoke test)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.quick:
        args.experiments = Path(tempfile.mkdtemp(prefix="rung-corr-"))
        quick_searches(args.experiments)
    folders = sorted(p for p in args.experiments.iterdir() if (p / SPEC_FILE).exists())
    r = rung_correlation(folders, "val_psnr", args.grace_period, args.reduction_factor)
    out = args.out or args.experiments
    out.mkdir(parents=True, exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d"), "experiments": str(args.experiments),
              "quick": args.quick, "wall_s": time.perf_counter() - t0,
              "grace_period": args.grace_period, **r.to_json()}
    (out / "rung_correlation.json").write_text(json.dumps(result, indent=1))
    why: dict[str, list[str]] = {}
    for name, reason in r.skipped.items():  # one line per reason: 60 ASHA searches read as one
        why.setdefault(reason.split(":")[0], []).append(name)
    print(f"{r.trials} complete {r.epochs}-epoch curves from {len(r.searches)} searches without "
          f"early stopping ({', '.join(r.searches)}); left out: "
          + ("; ".join(f"{len(names)} for {reason} ({', '.join(names[:3])}"
                       f"{', ...' if len(names) > 3 else ''})" for reason, names in why.items())
             or "none") + "\n")
    print(r.markdown())
    if r.bias:
        print("\nWhom the first rung misjudges (each trial ranked within its own search):\n")
        print(r.bias_markdown())
    print(f"\nwrote {out / 'rung_correlation.json'}")


if __name__ == "__main__":
    main()
