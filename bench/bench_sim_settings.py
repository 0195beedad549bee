"""Issue 7 follow-up: do TPE + ASHA's settings matter? Compared in the simulator, not by training.

Replays the complete learning curves of finished real searches (bench_strategies.py's workdir)
through raysearch's real Tune + Optuna + ASHA path, for random search without early stopping and
for TPE + ASHA with other start-up trial counts and ASHA reduction factors; reports each variant's
final best and the epochs it needs to reach random search's final best (paired by seed).

Run (about 3 min per variant with 20 seeds on 2 cores), after the 20-trial bench_strategies run:
    PYTHONPATH=$PWD .venv/bin/python bench/bench_sim_settings.py \
        --curves results/bench-strategies-t20/real --trials 20 --out bench/results/budget20
Issue 20's entries (tpe-group, tpe-independent, tpe-no-liar, tpe+hyperband, gp+asha, gp+none) are
variants too; --only picks some of them, e.g. --only tpe-group+asha,gp+none ((a) and (d) always
run). GPSampler fits its model at every proposal (0.06-0.18 s of driver time each at 30-300
trials, bench/bench_sampler_cost.py), so its simulated searches take longer than TPE's. gp
refuses a conditional space (all_families.yaml).
Writes sim_settings.json there and prints a Markdown table. The curves (results/...) are not
committed: they come from CelebA faces, whose licence is research use only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import optuna

from bench.bench_strategies import paired_ratios
from raysearch.search.compare import strategy_curves, strategy_spec
from raysearch.search.runner import SearchSpec, start_ray
from raysearch.search.simulate import CurveTable, simulate_search
from raysearch.search.strategy import Strategy

# name: (strategy, SearchSpec fields); the first is the baseline, the second the benchmark's (d)
VARIANTS: dict[str, tuple[Strategy, dict[str, int]]] = {
    "(a) random, no early stopping": (Strategy("random", "none"), {}),
    "(d) TPE + ASHA, 4 start-up, reduction 2": (Strategy("tpe", "asha"), {}),
    "(d) 2 start-up trials": (Strategy("tpe", "asha"), {"startup_trials": 2}),
    "(d) 8 start-up trials": (Strategy("tpe", "asha"), {"startup_trials": 8}),
    "(d) 10 start-up trials (raysearch's own default)": (Strategy("tpe", "asha"),
                                                         {"startup_trials": 10}),
    "(d) ASHA reduction factor 3": (Strategy("tpe", "asha"), {"reduction_factor": 3}),
    "(d) 8 start-up trials, reduction factor 3": (Strategy("tpe", "asha"),
                                                  {"startup_trials": 8, "reduction_factor": 3}),
    "(d) ASHA grace period 2": (Strategy("tpe", "asha"), {"grace_period": 2}),
    # issue 20: one registry entry each (raysearch.search.strategy); Optuna 5's TPE default is
    # already multivariate with the constant liar, so each of these changes one setting of (d)
    "(d) tpe-group: multivariate + grouped": (Strategy("tpe-group", "asha"), {}),
    "(d) tpe-independent: one density per parameter": (Strategy("tpe-independent", "asha"), {}),
    "(d) tpe-no-liar: no constant liar": (Strategy("tpe-no-liar", "asha"), {}),
    "(d) tpe+hyperband: all Hyperband brackets": (Strategy("tpe", "hyperband"), {}),
    "(d) tpe-interleaved: every 3rd proposal random": (Strategy("tpe-interleaved", "asha"), {}),
    "gp+asha: Optuna's GPSampler": (Strategy("gp", "asha"), {}),
    "gp+none: GPSampler, no early stopping": (Strategy("gp", "none"), {}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", type=Path, required=True,
                    help="folder of finished experiments whose curves are replayed")
    ap.add_argument("--trials", type=int, default=20, help="budget in full trials")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", default="",
                    help="comma-separated strategy labels or variant names to run besides (a) "
                         "and (d), e.g. tpe-group+asha,gp+none,'(d) 8 start-up trials'; none: (a) "
                         "and (d) alone (default: every variant)")
    ap.add_argument("--startup-trials", type=int, default=4)
    args = ap.parse_args()
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    chosen = {n: v for i, (n, v) in enumerate(VARIANTS.items())
              if not wanted or i < 2 or v[0].label in wanted or n in wanted}
    unknown = wanted - {v[0].label for v in VARIANTS.values()} - set(VARIANTS) - {"none"}
    if unknown:
        raise SystemExit(f"--only: no variant {sorted(unknown)}; known: "
                         + ", ".join(sorted({v[0].label for v in VARIANTS.values()})))
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    folders = sorted(p for p in args.curves.iterdir() if p.is_dir())
    table = CurveTable.from_experiments(folders)
    budget = args.trials * table.epochs
    work = Path(tempfile.mkdtemp(prefix="sim-settings-"))
    start_ray()
    base = SearchSpec(name="sim", results=str(work), max_epochs=table.epochs, max_concurrent=2,
                      startup_trials=args.startup_trials)
    curves: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    for name, (strategy, fields) in chosen.items():
        paths = []
        for seed in range(args.seeds):
            spec = strategy_spec(dataclasses.replace(base, **fields), strategy, seed, args.trials,
                                 f"v{len(curves)}-s{seed}")
            paths.append(simulate_search(table, spec, 0.02, say=lambda _m: None))
        curves[name] = strategy_curves(paths, "val_psnr", "max", budget).curves
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    shutil.rmtree(work, ignore_errors=True)

    baseline = curves[next(iter(chosen))]
    rows = []
    for name, c in curves.items():
        ratios = np.array([np.inf if p["ratio"] is None else p["ratio"]
                           for p in paired_ratios(baseline, c, budget, "max")])
        rows.append({"variant": name, "final_mean": float(c[:, -1].mean()),
                     "final_sd": float(c[:, -1].std(ddof=1)),
                     "at_third": float(c[:, budget // 3 - 1].mean()),
                     "median_ratio": float(np.median(ratios)),
                     "share_within_third": float(np.mean(ratios <= 1 / 3)),
                     "share_within_half": float(np.mean(ratios <= 1 / 2)),
                     "reached": int(np.isfinite(ratios).sum())})
    result = {"date": time.strftime("%Y-%m-%d"), "curves_from": str(args.curves),
              "table_curves": len(table.curves), "table_left_out": table.left_out,
              "trials": args.trials, "budget": budget, "seeds": args.seeds,
              "startup_trials": args.startup_trials,
              "wall_s": time.perf_counter() - t0, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sim_settings.json").write_text(json.dumps(result, indent=1))
    print(f"\n{len(table.curves)} complete curves, budget {budget} epochs ({args.trials} full "
          f"trials), {args.seeds} seeds per variant, {result['wall_s'] / 60:.1f} min.\n")
    print(f"| variant | final best val_psnr | at {budget // 3} epochs | median epochs to (a)'s "
          f"final best / budget | seeds within a third | seeds within a half | reached |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['variant']} | {r['final_mean']:.3f} ± {r['final_sd']:.3f} | "
              f"{r['at_third']:.3f} | {r['median_ratio']:.2f} | {r['share_within_third']:.2f} | "
              f"{r['share_within_half']:.2f} | "
              f"{r['reached']}/{args.seeds} |")


if __name__ == "__main__":
    main()
