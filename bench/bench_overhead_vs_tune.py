"""Issue 20, item 5: raysearch's driver against what a user would write instead, side by side.

The same no-op trials (each replays a recorded-style 4-epoch curve with no sleep, the simulator's
``replay_trial``) go through

- (tune) a hand-assembled Ray Tune search: ``tune.Tuner`` over that function trainable with
  ``OptunaSearch(define-by-run space, sampler=TPESampler(seed, n_startup_trials=10))`` (an
  in-memory study) and ``ASHAScheduler(max_t=4, grace_period=1, reduction_factor=2)``, 2 trials
  at a time, Tune's defaults otherwise (Ray 2.60 starts a new actor for every trial then);
- (tune-reuse) the same with ``TuneConfig(reuse_actors=True)``, which raysearch sets for its
  single-worker trials: the hand-assembled search at its best (its in-memory study is lost with
  the driver);
- (tune-journal) tune-reuse with its Optuna study in a journal file
  (``OptunaSearch(storage=JournalStorage(JournalFileBackend(path)))``): what a user writes who
  wants the study to outlive the driver (to resume it, or to open it in optuna-dashboard), the
  persistence that raysearch's study has;
- (tune-lean) tune-reuse without Tune's automatic per-trial files (progress.csv, result.json,
  params, an event file: ``TUNE_DISABLE_AUTO_CALLBACK_LOGGERS=1``): the hand-assembled search at
  its leanest, which keeps no record of a trial's epochs outside the driver's memory;
- (raysearch) raysearch's real driver through ``raysearch simulate``'s replay: the same sampler
  and ASHA settings, plus everything raysearch adds: the trial records (trials.json and its
  journal), the Optuna study in a journal file with honest states, PersistentASHA's rungs
  (asha.journal), the epoch budget, signed Tune snapshots, progress lines. Its Tune snapshots
  come as in ``raysearch run`` and ``resume`` (``runner.snapshot_often``; the simulator itself
  leaves Tune's pace): every second, or less often where one would take over 1/20 of the driver's
  time (raysearch.search.snapshots). ``--raysearch-snapshots fixed1`` measures the fixed 1 s
  period raysearch had before, ``tune`` Tune's own pace (every 10 s or more, what the
  hand-assembled drivers get). Since 2026-12-06 raysearch leaves Tune's automatic per-trial
  files out (its trials.json holds every epoch: ``runner.records_replace_tune_logs``);
- (raysearch-tune-logs) raysearch with those files kept, as it was before: the change measured
  in the same round.

Each (driver, size) runs in a fresh Python process with its own local Ray, so that its peak
memory (``ru_maxrss``) is its own; the clock starts after Ray is up. Reported per run: wall time
of the search, seconds per trial (no-op trials: the per-trial overhead), trials per second (the
no-op throughput Ray's own many-trial scheduling benchmark measures), driver CPU seconds per trial
(``time.process_time`` of the driver process: Tune's loop, the searcher, the callbacks) and peak
driver memory. Targets (issue 20): raysearch's per-trial overhead at most 1.1x the hand-assembled
one, and its driver CPU per trial flat from 100 to 1,000 trials.

Run (on a quiet 2-core machine; about 15 min with the default sizes 100, 300, 1000; (tune), at
1.6 s per trial, only at --tune-sizes, 100 by default):
    PYTHONPATH=$PWD .venv/bin/python bench/bench_overhead_vs_tune.py --out bench/results/issue20
--quick: sizes 10 and 20 (a few minutes): a smoke test of the script. Writes
overhead_vs_tune.json in --out and prints a Markdown table. The fits give each driver's slope over
all its runs and over the runs with one actor and with two (Tune settles on one or two reused
actors by chance, which moves s per trial by up to 2x). --pool FILE... runs nothing: it fits
earlier rounds' files, each alone and all together, with a 90 % interval for raysearch's
like-for-like ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EPOCHS, GRACE, RF, STARTUP, CONCURRENT = 4, 1, 2, 10, 2
DRIVERS = ("tune", "tune-reuse", "tune-journal", "tune-lean", "raysearch", "raysearch-tune-logs")
TUNE_LOGS = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"  # 1: no automatic per-trial files
SPACE = {"description": "no-op trials", "metric": "val_psnr", "fixed": {},
         "parameters": {"optim.lr_g": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                        "model.depth": {"type": "int", "low": 2, "high": 4}}}


def curves_experiment(folder: Path) -> Path:
    """A recorded-looking experiment: 24 complete 4-epoch curves, better at low learning rates."""
    from raysearch.config import Config
    from raysearch.search.store import SPEC_FILE

    folder.mkdir(parents=True)
    base = Config().to_dict()
    base["train"]["epochs"] = EPOCHS
    (folder / SPEC_FILE).write_text(json.dumps({"spec": {}, "metric": "val_psnr", "mode": "max",
                                                "space": SPACE, "base_config": base}))
    trials = []
    for i in range(24):
        lr, depth = 1e-4 * 100 ** (i / 23), 2 + i % 3
        top = 26.0 - 2.0 * abs(i / 23 - 0.3) + 0.1 * depth
        hist = [{"epoch": e, "val_psnr": top - 4.0 / e, "val_ssim": 0.8, "epoch_time_s": 1.0}
                for e in range(1, EPOCHS + 1)]
        trials.append({"trial_id": f"t{i}", "number": i, "state": "TERMINATED", "epochs": EPOCHS,
                       "params": {"optim.lr_g": lr, "model.depth": depth}, "history": hist})
    (folder / "trials.json").write_text(json.dumps(trials))
    return folder


def hand_assembled(table: Any, trials: int, seed: int, storage: Path, reuse: bool = False,
                   journal: bool = False) -> Any:
    """What a Tune user writes: Tuner + OptunaSearch + ASHAScheduler over a function trainable;
    ``journal``: the study in Optuna's journal file instead of in memory. Returns Tune's
    ResultGrid."""
    import optuna
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from raysearch.search.simulate import replay_trial

    study: dict[str, Any] = {}
    if journal:
        storage.mkdir(parents=True, exist_ok=True)
        backend = optuna.storages.journal.JournalFileBackend(str(storage / "optuna.journal"))
        study = {"study_name": "tune", "storage": optuna.storages.JournalStorage(backend)}
    searcher = OptunaSearch(space=table.space.define_by_run(), metric="val_psnr", mode="max",
                            sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=STARTUP),
                            **study)
    scheduler = ASHAScheduler(metric="val_psnr", mode="max", max_t=EPOCHS, grace_period=GRACE,
                              reduction_factor=RF)
    fn = tune.with_resources(tune.with_parameters(replay_trial, table=table, seconds_per_epoch=0.0),
                             {"cpu": 1})
    config = tune.TuneConfig(search_alg=searcher, scheduler=scheduler, num_samples=trials,
                             max_concurrent_trials=CONCURRENT, reuse_actors=reuse)
    run = tune.RunConfig(name="tune", storage_path=str(storage), verbose=0)
    return tune.Tuner(fn, tune_config=config, run_config=run).fit()


def through_raysearch(table: Any, trials: int, seed: int, results: Path) -> Path:
    """raysearch's driver; returns the experiment folder."""
    from raysearch.search.runner import SearchSpec
    from raysearch.search.simulate import simulate_search

    spec = SearchSpec(name="raysearch", results=str(results), max_epochs=EPOCHS,
                      num_samples=trials, seed=seed, max_concurrent=CONCURRENT,
                      startup_trials=STARTUP, grace_period=GRACE, reduction_factor=RF)
    return simulate_search(table, spec, seconds_per_epoch=0.0, say=lambda _m: None)


def actors(driver: str, ran: Any) -> int:
    """How many trial processes ran the trials (distinct pids). With reused actors and no-op
    trials Tune settles at the start into one of two states: both actors up and reused, or one
    actor that runs every trial while a second is asked for and given up again for each trial
    (a placement group made and removed per trial); this tells the runs apart."""
    from raysearch.search.records import read_trials

    if driver.startswith("raysearch"):
        return len({r.pid for r in read_trials(ran)})
    return len({r.metrics.get("pid") for r in ran})


def _mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def one(driver: str, trials: int, seed: int, snapshots: str = "floor") -> dict[str, Any]:
    """One search in this process (its own Ray): the measurements."""
    import optuna

    from raysearch.search.runner import snapshot_often, start_ray
    from raysearch.search.simulate import CurveTable

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix=f"overhead-{driver}-"))
    table = CurveTable.from_experiments([curves_experiment(work / "curves")])
    period = "auto"  # Tune's own pace: the hand-assembled drivers, and --raysearch-snapshots tune
    ours = driver.startswith("raysearch")
    os.environ.pop(TUNE_LOGS, None)  # Tune's default (the per-trial files); raysearch sets 1
    if driver in ("tune-lean", "raysearch-tune-logs"):
        os.environ[TUNE_LOGS] = "1" if driver == "tune-lean" else "0"
    if ours and snapshots == "fixed1":
        period = os.environ["TUNE_GLOBAL_CHECKPOINT_S"] = "1"  # raysearch before 2026-12-06
    elif ours and snapshots == "floor":
        snapshot_often()  # what `raysearch run` sets
        period = "1 s, at most 1/20 of the driver"
    start_ray(num_cpus=2)
    rss_before, cpu0, t0 = _mib(), time.process_time(), time.perf_counter()
    if ours:
        ran = through_raysearch(table, trials, seed, work / "run")
    else:
        ran = hand_assembled(table, trials, seed, work / "run", reuse=driver != "tune",
                             journal=driver == "tune-journal")
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"driver": driver, "trials": trials, "wall_s": wall, "s_per_trial": wall / trials,
            "actors": actors(driver, ran),
            "snapshots": period, "tune_logs": os.environ.get(TUNE_LOGS) != "1",
            "trials_per_s": trials / wall, "driver_cpu_s": cpu, "driver_cpu_s_per_trial": cpu / trials,
            "rss_after_ray_mib": rss_before, "peak_rss_mib": _mib(),
            "load_end": os.getloadavg()[0], "workdir": str(work)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,300,1000", help="trials per search, comma-separated")
    ap.add_argument("--drivers", default=",".join(DRIVERS))
    ap.add_argument("--tune-sizes", default="100", help="the sizes at which (tune), which starts "
                                                      "an actor per trial, runs too")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs of every (size, driver); the drivers alternate within each round")
    ap.add_argument("--quick", action="store_true", help="sizes 10,20: checks the script")
    ap.add_argument("--out", type=Path, default=None, help="default: bench/results (a temp "
                                                          "folder with --quick)")
    ap.add_argument("--raysearch-snapshots", choices=("floor", "fixed1", "tune"),
                    default="floor", help="floor: as `raysearch run` (every 1 s, at most 1/20 of "
                    "the driver's time); fixed1: every 1 s (raysearch before 2026-12-06); tune: "
                    "Tune's own pace")
    ap.add_argument("--pool", nargs="+", type=Path, default=None, metavar="JSON",
                    help="runs nothing: fits each overhead_vs_tune.json given (a round) and all "
                    "of them together, and prints the table")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # driver:trials, in a child
    args = ap.parse_args()
    if args.pool:
        print(pooled(args.pool))
        return
    if args.one:
        driver, trials = args.one.split(":")
        print("RESULT " + json.dumps(one(driver, int(trials), args.seed,
                                         snapshots=args.raysearch_snapshots)), flush=True)
        return
    sizes = [10, 20] if args.quick else [int(s) for s in args.sizes.split(",")]
    tune_sizes = set(sizes) if args.quick else {int(s) for s in args.tune_sizes.split(",")}
    drivers = args.drivers.split(",")
    if not set(drivers) <= set(DRIVERS):
        raise SystemExit(f"--drivers: some of {', '.join(DRIVERS)}, got {args.drivers!r}")
    out = args.out or (Path(tempfile.mkdtemp(prefix="overhead-")) if args.quick
                       else REPO / "bench" / "results")
    rows = []
    # side by side: the drivers alternate at every size and in every round
    for n, _round, d in ((n, k, d) for n in sizes for k in range(args.repeats)
                         for d in drivers):
        if d == "tune" and n not in tune_sizes:
            continue
        child = subprocess.run([sys.executable, __file__, "--one", f"{d}:{n}", "--seed",
                                str(args.seed), "--raysearch-snapshots", args.raysearch_snapshots],
                               capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
        found = [ln for ln in child.stdout.splitlines() if ln.startswith("RESULT ")]
        if child.returncode or not found:
            raise SystemExit(f"{d} at {n} trials failed (exit {child.returncode}):\n"
                             f"{child.stderr[-3000:]}")
        rows.append(json.loads(found[-1][len("RESULT "):]))
        r = rows[-1]
        print(f"[{time.strftime('%H:%M:%S')}] {d} {n} trials: {r['s_per_trial']:.3f} s/trial, "
              f"driver CPU {r['driver_cpu_s_per_trial']:.3f} s/trial, peak "
              f"{r['peak_rss_mib']:.0f} MiB, {r['actors']} actor(s), load average "
              f"{r['load_end']:.2f}", flush=True)
    result = {"date": time.strftime("%Y-%m-%d"), "machine": f"{os.cpu_count()}-core CPU",
              "epochs_per_trial": EPOCHS, "concurrent": CONCURRENT, "quick": args.quick,
              "repeats": args.repeats, "raysearch_snapshots": args.raysearch_snapshots,
              "rows": rows, "fits": fits(rows)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "overhead_vs_tune.json").write_text(json.dumps(result, indent=1))
    print(markdown(rows))
    print(markdown_fits(result["fits"]))
    print(ratio_intervals(rows))
    print(f"\nwrote {out / 'overhead_vs_tune.json'}")


def fits(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per driver, wall = start + per_trial * trials by least squares over every run.

    The slope is the per-trial overhead; the intercept is what a search costs once (its set-up
    and tear-down), which s per trial at one size spreads over that size's trials.
    """
    import numpy as np

    out = {}
    for d in sorted({r["driver"] for r in rows}):
        mine = [r for r in rows if r["driver"] == d]
        if len({r["trials"] for r in mine}) < 2:
            continue
        n = np.array([r["trials"] for r in mine], dtype=float)
        wall = np.array([r["wall_s"] for r in mine])
        cpu = np.array([r["driver_cpu_s"] for r in mine])
        slope, start = np.polyfit(n, wall, 1)
        cpu_slope, cpu_start = np.polyfit(n, cpu, 1)
        out[d] = {"per_trial_s": float(slope), "start_s": float(start),
                  "driver_cpu_per_trial_s": float(cpu_slope), "driver_cpu_start_s": float(cpu_start),
                  "runs": len(mine)}
        # Tune runs no-op trials on one reused actor or on two, by chance at the start of a run,
        # and that moves s per trial by up to 2x: like for like is one slope per actor count
        for k, word in ((1, "one"), (2, "two")):
            same = [r for r in mine if r.get("actors") == k]
            if len({r["trials"] for r in same}) >= 2:
                out[d].update({f"per_trial_s_{word}_actor": _slope(same),
                               f"{word}_actor_runs": len(same)})
    return out


def _slope(rows: list[dict[str, Any]]) -> float:
    """Seconds of wall time per trial: the least-squares slope of wall time against trials."""
    import numpy as np

    return float(np.polyfit([r["trials"] for r in rows], [r["wall_s"] for r in rows], 1)[0])


def pooled(files: list[Path]) -> str:
    """Rounds run on different days or hours move by more than the 1.1x target (the machine, not
    the code): each file's fits, then one fit over the runs of all of them."""
    rows: list[dict[str, Any]] = []
    out = []
    for f in files:
        data = json.loads(f.read_text())
        rows += data["rows"]
        out.append(f"### {f} ({data['date']}, raysearch snapshots: {data.get('raysearch_snapshots')})"
                   f"\n{markdown_fits(fits(data['rows']))}")
    out.append(f"### all {len(files)} rounds together\n{markdown_fits(fits(rows))}")
    out.append(ratio_intervals(rows))
    return "\n\n".join(out)


PAIRS = (("raysearch", "tune-reuse"), ("raysearch-tune-logs", "tune-reuse"),
         ("raysearch", "raysearch-tune-logs"), ("raysearch", "tune-lean"))


def ratio_intervals(rows: list[dict[str, Any]], draws: int = 4000) -> str:
    """One driver's slope over another's (``PAIRS``, those with runs) among runs with the same
    actor count, with a 90 % interval from resampling each driver's runs (seeded, so the file is
    reproducible)."""
    import numpy as np

    rng = np.random.default_rng(0)
    lines = ["| slope ratio | actors per run | runs | ratio | 90 % interval (runs resampled) |",
             "|---|---|---|---:|---|"]
    for num, den in PAIRS:
        for k in (1, 2):
            t = [r for r in rows if r["driver"] == den and r.get("actors") == k]
            s = [r for r in rows if r["driver"] == num and r.get("actors") == k]
            if len({r["trials"] for r in t}) < 2 or len({r["trials"] for r in s}) < 2:
                continue
            ratios = []
            for _ in range(draws):
                tt = [t[i] for i in rng.integers(0, len(t), len(t))]
                ss = [s[i] for i in rng.integers(0, len(s), len(s))]
                if len({r["trials"] for r in tt}) > 1 and len({r["trials"] for r in ss}) > 1:
                    ratios.append(_slope(ss) / _slope(tt))
            lo, hi = np.percentile(ratios, [5, 95])
            lines.append(f"| {num} / {den} | {k} | {len(s)} / {len(t)} | "
                         f"{_slope(s) / _slope(t):.2f} | {lo:.2f}-{hi:.2f} |")
    return "\n".join(lines)


def markdown_fits(f: dict[str, dict[str, float]]) -> str:
    if not f:
        return ""
    base = f.get("tune-reuse")
    lines = ["", "| driver | runs | per-trial overhead s (slope of wall time) | once per search s "
             "| driver CPU s per trial (slope) | per-trial overhead / tune-reuse's | one-actor "
             "runs: slope s, / tune-reuse's | two-actor runs: slope s, / tune-reuse's |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for d, v in f.items():
        ratio = f"{v['per_trial_s'] / base['per_trial_s']:.2f}" if base else ""
        like = []
        for word in ("one", "two"):
            key, cell = f"per_trial_s_{word}_actor", ""
            if key in v:
                cell = f"{v[key]:.4f} ({v[f'{word}_actor_runs']} runs)"
                if base and key in base:
                    cell += f", {v[key] / base[key]:.2f}"
            like.append(cell)
        lines.append(f"| {d} | {v['runs']} | {v['per_trial_s']:.4f} | {v['start_s']:.2f} | "
                     f"{v['driver_cpu_per_trial_s']:.4f} | {ratio} | {like[0]} | {like[1]} |")
    return "\n".join(lines)


def markdown(rows: list[dict[str, Any]]) -> str:
    import numpy as np

    by: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        by.setdefault((r["driver"], r["trials"]), []).append(r["s_per_trial"])
    median = {k: float(np.median(v)) for k, v in by.items()}
    lines = ["| trials | driver | s per trial (wall) | trials per s | driver CPU s per trial | "
             "peak driver memory MiB | actors | raysearch / the faster hand-assembled (median), "
             "s per trial |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        others = [median[k] for k in (("tune", r["trials"]), ("tune-reuse", r["trials"]))
                  if k in median]
        ratio = (f"{r['s_per_trial'] / min(others):.2f}"
                 if r["driver"].startswith("raysearch") and others else "")
        lines.append(f"| {r['trials']} | {r['driver']} | {r['s_per_trial']:.3f} | "
                     f"{r['trials_per_s']:.2f} | {r['driver_cpu_s_per_trial']:.3f} | "
                     f"{r['peak_rss_mib']:.0f} | {r.get('actors', '')} | {ratio} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
