"""Issue 20, item 4: candidate default strategies on real faces, against (a) random search and
today's default (d) TPE + ASHA, on bench_strategies.py's data, holes, space and epoch budget.

Each --strategy (a ``--sampler``+``--scheduler`` pair, e.g. tpe-group+hyperband) runs real
searches with the benchmark's seeds. The searches go to bench_strategies' workdir (``real/``), so
(a) and (d) searches it already finished are reused, and so are candidates finished by an earlier
invocation: the benchmark may run in several invocations. Reported per strategy: the final best
val_psnr (mean ± sd over seeds), the epochs it needs to reach (a)'s final best per seed (paired)
and on the mean curves, as a share of the budget (target: at most 1/2 in every seed, at most 1/3
on the mean curve, a mean final best not below (d)'s), and, unless --skip-test, each search's
best configuration retrained from scratch with a fresh seed and scored on the held-out test ids
that no search saw (the validation figures alone are not the result).

Run (20-trial budget, 5 seeds, as the issue's target; the (a) and (d) searches of the budget20
run are reused if its workdir is there):
    PYTHONPATH=$PWD .venv/bin/python bench/bench_candidates.py --trials 20 --seeds 5 \
        --workdir results/bench-strategies-t20 --out bench/results/budget20 \
        --strategy tpe-group+hyperband --strategy tpe+hyperband
--candidate-startup-trials N runs the candidates (tpe+asha included) with N random start-up
trials, named st<N>-..., beside (a) and (d) with the scale's; --candidate-reduction-factor RF
likewise with ASHA's reduction factor RF (rf<RF>-...); --test-candidates-only retrains only the
candidates' winners.
--quick: bench_strategies' tiny scale, to check the script (its numbers mean nothing).
Writes candidates.json (or --json NAME) in --out and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from bench.bench_seed_reliability import reliability, unpaired
from bench.bench_strategies import (
    BASELINE_LABEL,
    DEFAULT_LABEL,
    SCALES,
    SHARED,
    RealRuns,
    data_overrides,
    presets_vs_winners,
    say,
)
from raysearch.search.compare import STRATEGIES, compare_strategies, strategy_curves
from raysearch.search.records import read_trials
from raysearch.search.runner import SearchSpec, start_ray
from raysearch.search.strategy import Strategy

REPO = Path(__file__).resolve().parents[1]


def analyse(runs: dict[str, list[Path]], budget: int) -> list[dict[str, Any]]:
    """One row per strategy: final best, epochs to (a)'s final best (paired, mean curve), and the
    share of its searches that reach (a)'s final best of every other seed within half the budget
    (unpaired: TPE and GP start from random search's own first trials of the same seed, so the
    paired figure flatters them; bench_seed_reliability.py)."""
    curves = {k: strategy_curves(v, "val_psnr", "max", budget).curves for k, v in runs.items()}
    base = curves[BASELINE_LABEL]
    rows = []
    for label, c in curves.items():
        paired = reliability(base, c, budget, 0.0)
        rows.append({
            "strategy": label, "seeds": len(c), "final": c[:, -1].tolist(),
            "final_mean": float(c[:, -1].mean()),
            "final_sd": float(c[:, -1].std(ddof=1)) if len(c) > 1 else 0.0,
            **{k: paired[k] for k in ("per_seed_ratio", "worst_ratio", "mean_curve_ratio")},
            "unpaired": unpaired(dict(enumerate(base)), dict(enumerate(c)), budget, 0.0),
            "trials_per_search": [len(read_trials(p)) for p in runs[label]],
        })
    return rows


def _ratio(x: float | None) -> str:
    return "not reached" if x is None else f"{x:.2f}"


def _share(u: dict[str, Any]) -> str:
    return "-" if not u["pairs"] else f"{u['within_half']:.0%} of {u['pairs']}"


def markdown(rows: list[dict[str, Any]], tests: dict[str, list[float]], budget: int) -> str:
    d = next(r for r in rows if r["strategy"] == DEFAULT_LABEL)
    lines = [f"| strategy | seeds | best val_psnr at {budget} epochs | vs (d) | epochs to (a)'s "
             "final best / budget, per seed | worst seed (target <= 0.5) | mean curve (target "
             "<= 0.33) | unpaired: within half | trials per search | test PSNR of the winners, "
             "retrained |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        per = ", ".join("-" if x is None else f"{x:.2f}" for x in r["per_seed_ratio"])
        t = tests.get(r["strategy"], [])
        lines.append(
            f"| {r['strategy']} | {r['seeds']} | {r['final_mean']:.3f} ± {r['final_sd']:.3f} | "
            f"{r['final_mean'] - d['final_mean']:+.3f} | {per} | "
            f"{_ratio(r['worst_ratio'])} | {_ratio(r['mean_curve_ratio'])} | "
            f"{_share(r['unpaired'])} | {np.mean(r['trials_per_search']):.1f} | "
            + (f"{np.mean(t):.2f} ± {np.std(t, ddof=1):.2f}" if len(t) > 1
               else f"{t[0]:.2f}" if t else "-") + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--strategy", dest="strategies", action="append", default=[],
                    metavar="SAMPLER+SCHEDULER", help="a candidate (repeatable)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--celeba", type=Path, default=SHARED / "celeba")
    ap.add_argument("--masks", type=Path, default=SHARED / "masks")
    ap.add_argument("--space", type=Path, default=REPO / "search_spaces" / "quickstart.yaml")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="bench_strategies' workdir (default: results/bench-strategies[-quick])")
    ap.add_argument("--out", type=Path, default=None)
    for key in ("seeds", "trials", "epochs", "startup_trials"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=None)
    ap.add_argument("--candidate-startup-trials", type=int, default=None, metavar="N",
                    help="the candidates (not (a), (d)) with N random start-up trials; their "
                         "searches are named st<N>-..., so tpe+asha is a candidate too")
    ap.add_argument("--candidate-reduction-factor", type=int, default=None, metavar="RF",
                    help="the candidates with ASHA's reduction factor RF (the scale's is 2); "
                         "their searches are named rf<RF>-...")
    ap.add_argument("--skip-test", action="store_true", help="no retraining on the test ids")
    ap.add_argument("--test-candidates-only", action="store_true",
                    help="retrain the candidates' winners only ((a)'s and (d)'s test figures are "
                         "in bench_strategies' strategies.json; retraining is deterministic)")
    ap.add_argument("--json", default="candidates.json",
                    help="the file written in --out (another name keeps an earlier run's file)")
    args = ap.parse_args()
    candidates = [Strategy.parse(s) for s in args.strategies]
    if not candidates:
        raise SystemExit("give at least one --strategy SAMPLER+SCHEDULER")
    for what, path in (("CelebA faces", args.celeba / "000001.jpg"), ("NVIDIA masks", args.masks)):
        if not path.exists():
            raise SystemExit(f"{what} not found at {path} (../shared/data beside the checkout)")
    sc = SCALES["quick" if args.quick else "full"]
    sc = dataclasses.replace(sc, **{k: v for k in ("seeds", "trials", "epochs", "startup_trials")
                                    if (v := getattr(args, k)) is not None})
    workdir = args.workdir or REPO / "results" / f"bench-strategies{'-quick' if args.quick else ''}"
    out = args.out or (workdir if args.quick else REPO / "bench" / "results")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0 = time.perf_counter()
    start_ray(num_cpus=2)
    base = SearchSpec(name="bench", space_path=str(args.space), results=str(workdir / "real"),
                      data=str(args.celeba), max_epochs=sc.epochs, max_concurrent=sc.max_concurrent,
                      cpus_per_worker=1.0, startup_trials=sc.startup_trials, keep_checkpoints=1,
                      overrides=data_overrides(sc, args.celeba, args.masks, sc.val_ids))
    real = RealRuns(workdir / "real", None if args.quick else out / "searches")
    n, rf = args.candidate_startup_trials, args.candidate_reduction_factor
    if n is None and rf is None:
        chosen = [STRATEGIES[0], STRATEGIES[3], *[c for c in candidates if c not in STRATEGIES]]
        runs = compare_strategies(real, base, chosen, range(sc.seeds), sc.trials)
    else:
        runs = compare_strategies(real, base, [STRATEGIES[0], STRATEGIES[3]], range(sc.seeds),
                                  sc.trials)
        # the candidates' own settings: named apart, so (d)'s archived searches are not reused
        tweaks: dict[str, Any] = {}
        prefix, said = "", []
        if n is not None:
            tweaks["startup_trials"], prefix = n, prefix + f"st{n}-"
            said.append(f"{n} start-up")
        if rf is not None:
            tweaks["reduction_factor"], prefix = rf, prefix + f"rf{rf}-"
            said.append(f"reduction factor {rf}")
        other = compare_strategies(real, dataclasses.replace(base, **tweaks), candidates,
                                   range(sc.seeds), sc.trials, prefix=prefix)
        runs.update({f"{label}, {', '.join(said)}": paths for label, paths in other.items()})
    rows = analyse(runs, sc.budget)
    tests: dict[str, list[float]] = {}
    if not args.skip_test:
        overrides = {**data_overrides(sc, args.celeba, args.masks, sc.test_ids),
                     "train.epochs": sc.epochs, "train.num_threads": 1}
        tested = {k: v for k, v in runs.items()
                  if not args.test_candidates_only or k not in (BASELINE_LABEL, DEFAULT_LABEL)}
        winners = [p for paths in tested.values() for p in paths]
        trained = presets_vs_winners(sc, overrides, winners, Path(tempfile.mkdtemp()))  # no presets
        for label, paths in tested.items():
            tests[label] = [x["test_psnr"] for p in paths
                            for x in trained["rows"][f"search winner ({p.name})"]["runs"]
                            if x["test_psnr"] is not None]
    result = {"date": time.strftime("%Y-%m-%d"), "scale": dataclasses.asdict(sc),
              "machine": f"{os.cpu_count()}-core CPU", "load_end": os.getloadavg()[0],
              "searches_wall_s": real.wall_s, "invocation_s": time.perf_counter() - t0,
              "rows": rows, "test_psnr": tests,
              "experiments": {k: [str(p) for p in v] for k, v in runs.items()}}
    out.mkdir(parents=True, exist_ok=True)
    (out / args.json).write_text(json.dumps(result, indent=1))
    print("\n" + markdown(rows, tests, sc.budget) + "\n")
    say(f"wrote {out / args.json}")


if __name__ == "__main__":
    main()
