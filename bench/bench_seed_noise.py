"""Issue 20: how much of a trial's val_psnr is its seed? One configuration, trained again and again.

Every trial of a search trains with the same ``train.seed``, so a search's val_psnr is a
deterministic but rough function of the configuration. How rough is measured here: the best
configuration of each given search is retrained with seeds 0..N-1 (seed 0 reproduces the search's
own trial), with each ``train.ema`` decay, on bench_strategies' data, holes and epochs, and scored on
its validation ids. The spread over seeds is the noise a search's maximum is drawn from.

Run (the 20-trial benchmark's seed-2 searches, where random search beat TPE + ASHA):
    PYTHONPATH=$PWD .venv/bin/python bench/bench_seed_noise.py \
        --experiments bench/results/budget20/searches/random-none-s2 \
        --experiments bench/results/budget20/searches/tpe-asha-s2 \
        --out bench/results/issue20/seed_noise.json
Needs ../shared/data (CelebA and the NVIDIA masks); it says so and stops when they are absent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench.bench_strategies import SCALES, SHARED, data_overrides, say, winner_config


def train_one(job: tuple[str, int, float]) -> dict[str, Any]:
    """One run (1 thread): the configuration's val_psnr after each epoch."""
    import torch

    from raysearch.train import train

    experiment, seed, ema = job
    torch.set_num_threads(1)
    sc = SCALES["full"]
    overrides = data_overrides(sc, SHARED / "celeba", SHARED / "masks", sc.val_ids)
    cfg, best = winner_config(Path(experiment), {**overrides, "train.seed": seed, "train.ema": ema})
    history: list[float] = []
    run_dir = Path(tempfile.mkdtemp(prefix="bench-noise-"))
    t0 = time.perf_counter()
    try:
        train(cfg, run_dir, report=lambda m, _c: history.append(float(m["val_psnr"])))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return {"experiment": Path(experiment).name, "trial": best.number, "params": best.params,
            "val_psnr_in_search": best.best["val_psnr"], "seed": seed, "ema": ema,
            "val_psnr": history, "wall_s": time.perf_counter() - t0}


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for key in sorted({(r["experiment"], r["ema"]) for r in runs}):
        final = [r["val_psnr"][-1] for r in runs if (r["experiment"], r["ema"]) == key]
        rows.append({"experiment": key[0], "ema": key[1], "seeds": len(final),
                     "mean": float(np.mean(final)), "sd": float(np.std(final, ddof=1)),
                     "min": min(final), "max": max(final)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--experiments", action="append", required=True,
                    help="a finished search's folder (its best trial is retrained); repeatable")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--ema", default="0,0.99", help="train.ema decays, comma-separated")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if not (SHARED / "celeba").is_dir() or not (SHARED / "masks").is_dir():
        raise SystemExit(f"skipped: {SHARED} has no celeba/ and masks/ (the benchmark's faces)")
    decays = [float(e) for e in args.ema.split(",")]
    jobs = [(e, s, ema) for e in args.experiments for ema in decays for s in range(args.seeds)]
    say(f"{len(jobs)} runs, 2 at a time, load {os.getloadavg()}")
    runs = []
    with ProcessPoolExecutor(2) as pool:
        for r in pool.map(train_one, jobs):
            say(f"{r['experiment']} seed {r['seed']} ema {r['ema']}: "
                + " ".join(f"{v:.3f}" for v in r["val_psnr"]))
            runs.append(r)
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_end": os.getloadavg(),
           "summary": summary(runs), "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    for row in out["summary"]:
        say(f"{row['experiment']} ema {row['ema']}: {row['mean']:.3f} ± {row['sd']:.3f} "
            f"({row['min']:.3f}-{row['max']:.3f}, {row['seeds']} seeds)")


if __name__ == "__main__":
    main()
