"""Issue 7, part 2 again, over all five families: TPE + ASHA on search_spaces/all_families.yaml
against the papers' presets.

bench_strategies.py searched search_spaces/quickstart.yaml (one family) and its winners lost to
the unet_bce preset. This runs raysearch's default strategy (TPE + ASHA) on the cross-family space
with the same data, holes, epochs per trial and epoch budget as bench_strategies (its "full"
scale), retrains each search's best configuration with a fresh seed, scores it on the same
held-out faces, and sets the result beside the preset rows that bench_strategies recorded in
bench/results/strategies.json (read from that file, not retrained here).

Run (about an hour on a quiet 2-core machine):
    PYTHONPATH=$PWD .venv/bin/python bench/bench_all_families.py
Writes bench/results/all_families.json and prints a Markdown section for BENCHMARKS.md. Finished
searches are kept in --workdir and reused when the command is run again.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from bench.bench_strategies import (
    BASELINE_LABEL,
    REPO,
    SCALES,
    SHARED,
    STRATEGIES,
    RealRuns,
    data_overrides,
    per_seed_text,
    presets_vs_winners,
    ratio_to_baseline,
    say,
)
from raysearch.search.compare import compare_strategies, comparison_table
from raysearch.search.records import best_of, read_trials
from raysearch.search.runner import SearchSpec, start_ray
from raysearch.search.strategy import Strategy


def summary(experiment: Path) -> dict[str, Any]:
    """Which families a search tried, for how many epochs, and what it found."""
    trials = read_trials(experiment)
    tried: dict[str, list[int]] = collections.defaultdict(list)
    for t in trials:
        tried[str(t.params.get("model.generator"))].append(len(t.history))
    best = best_of(trials, "val_psnr", "max")
    return {"experiment": experiment.name, "trials": len(trials),
            "epochs": sum(len(t.history) for t in trials),
            "families": {k: {"trials": len(v), "epochs": sum(v), "longest": max(v)}
                         for k, v in sorted(tried.items())},
            "best_generator": best.params.get("model.generator") if best else None,
            "best_val_psnr": best.best["val_psnr"] if best else None}


def mean_sd(values: list[float]) -> str:
    a = np.asarray(values, dtype=float)
    return f"{a.mean():.2f} ± {a.std(ddof=1):.2f}" if len(a) > 1 else f"{a.mean():.2f}"


def markdown(r: dict[str, Any], earlier: dict[str, Any] | None) -> str:
    lines = [f"`bench/bench_all_families.py`, {r['date']}, 2-core CPU; whole run "
             f"{r['wall_s'] / 60:.1f} min (load average {r['load']:.1f}).", "",
             "| search | trials | epochs | families tried (trials / epochs) | best family | "
             "best val PSNR |", "|---|---:|---:|---|---|---:|"]
    for s in r["searches"]:
        fams = ", ".join(f"{k} {v['trials']}/{v['epochs']}" for k, v in s["families"].items())
        lines.append(f"| {s['experiment']} | {s['trials']} | {s['epochs']} | {fams} | "
                     f"{s['best_generator']} | {s['best_val_psnr']:.2f} |")
    if r.get("anytime"):
        ratio = r["anytime"]["ratio"]
        lines += ["", r["anytime"]["table"], "",
                  f"Epochs TPE + ASHA needs to reach the final best of {BASELINE_LABEL} (of "
                  f"{r['scale']['trials'] * r['scale']['epochs']}): per seed "
                  f"{per_seed_text(ratio)}; reached "
                  f"{ratio['reached']}, median ratio {ratio['median_ratio']:.2f}."]
    lines += ["", "| configuration | generator | runs | test PSNR | test SSIM | source |",
              "|---|---|---|---|---|---|"]
    rows = dict(r["winners"]["rows"])
    if earlier is not None:
        for name, row in earlier["presets"]["rows"].items():
            label = name.replace("search winner (", "search winner, quickstart space (")
            rows[f"{label} (from strategies.json, {earlier['date']})"] = row
    for name, row in sorted(rows.items(), key=lambda kv: -np.mean(
            [x["test_psnr"] for x in kv[1]["runs"] if x["test_psnr"] is not None] or [0])):
        ok = [x for x in row["runs"] if x["status"] == "ok"]
        src = "retrained here" if name in r["winners"]["rows"] else "bench_strategies"
        lines.append(f"| {name} | {row['generator']} | {len(ok)}/{len(row['runs'])} | "
                     f"{mean_sd([x['test_psnr'] for x in ok]) if ok else '-'} | "
                     f"{mean_sd([x['test_ssim'] for x in ok]) if ok else '-'} | {src} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--celeba", type=Path, default=SHARED / "celeba")
    ap.add_argument("--masks", type=Path, default=SHARED / "masks")
    ap.add_argument("--space", type=Path, default=REPO / "search_spaces" / "all_families.yaml")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=REPO / "results" / "bench-all-families")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--with-random", action="store_true",
                    help="also run (a) random search without early stopping on the same space and "
                         "budget, and measure the epochs TPE + ASHA needs to reach its final best")
    args = ap.parse_args()
    for what, path in (("CelebA faces", args.celeba / "000001.jpg"), ("NVIDIA masks", args.masks)):
        if not path.exists():
            raise SystemExit(f"{what} not found at {path} (../shared/data beside the checkout)")
    sc = SCALES["full"]
    t0 = time.perf_counter()
    loads: list[float] = []
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start_ray(num_cpus=2)
    base = SearchSpec(name="bench", space_path=str(args.space), results=str(args.workdir / "real"),
                      data=str(args.celeba), max_epochs=sc.epochs, max_concurrent=sc.max_concurrent,
                      cpus_per_worker=1.0, startup_trials=sc.startup_trials, keep_checkpoints=1,
                      overrides=data_overrides(sc, args.celeba, args.masks, sc.val_ids))
    strategies = [STRATEGIES[0], Strategy()] if args.with_random else [Strategy()]
    runs = compare_strategies(RealRuns(args.workdir / "real", args.out / "searches"), base, strategies,
                              range(args.seeds), sc.trials, prefix="all-")
    anytime = None
    if args.with_random:
        table, stats = comparison_table(runs, "val_psnr", "max", sc.budget)
        anytime = {"table": table, "ratio": ratio_to_baseline(stats, runs, sc.budget, "max"),
                   "final": {k: v["final"] for k, v in stats.items()}}
    loads.append(os.getloadavg()[1])
    paths = runs[Strategy().label]
    overrides = {**data_overrides(sc, args.celeba, args.masks, sc.test_ids),
                 "train.epochs": sc.epochs, "train.num_threads": 1}
    cached = args.workdir / "winners.json"  # the retrained winners of these very searches
    names = [p.name for p in paths]
    winners = json.loads(cached.read_text()) if cached.exists() else None
    if winners is None or [w["experiment"] for w in winners["winners"]] != names:
        with tempfile.TemporaryDirectory() as no_presets:  # winners only: presets are elsewhere
            winners = presets_vs_winners(sc, overrides, paths, Path(no_presets))
        cached.write_text(json.dumps(winners, default=str))
    loads.append(os.getloadavg()[1])
    result = {"date": time.strftime("%Y-%m-%d"), "scale": sc.__dict__ | {"seeds": args.seeds},
              "space": str(args.space.relative_to(REPO)) if args.space.is_relative_to(REPO)
              else str(args.space),
              "searches": [summary(p) for v in runs.values() for p in v], "winners": winners,
              "anytime": anytime,
              "wall_s": time.perf_counter() - t0, "load": float(np.mean(loads))}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "all_families.json").write_text(json.dumps(result, indent=1, default=str))
    earlier_file = args.out / "strategies.json"
    earlier = json.loads(earlier_file.read_text()) if earlier_file.exists() else None
    print("\n" + markdown(result, earlier) + "\n")
    say(f"wrote {args.out / 'all_families.json'}")


if __name__ == "__main__":
    main()
