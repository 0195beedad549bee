"""Issue 19 benchmark: does refining a search's winner with Population Based Training pay?

On CelebA (../shared/data) with the quality benchmark's protocol (bench/bench_quality.sh): a
search over ``search_spaces/celeba64.yaml`` selects on faces 7001-7500; its best trial is then

- (pbt) refined: ``raysearch refine`` with a population of ``--population`` members, each
  trained ``--epochs`` epochs from scratch, PBT deciding every ``--perturb-interval`` epochs; its
  best member's best epoch (on the validation faces) is pulled with ``raysearch best``;
- (fixed) trained as it is: the winner's configuration, ``raysearch train`` for the same total
  epochs as the whole population (``--population`` x ``--epochs``), its best epoch on the same
  validation faces kept; and, beside it, the same run's best epoch among its first ``--epochs``
  (one member's epochs: nothing in the loop depends on ``train.epochs``, so those epochs are
  what a run of ``--epochs`` trains);

with the same seeds (``--seeds``: added to the winner's train.seed in both), and both scored by
``raysearch evaluate --ids 7501-8000`` on faces that no search, member or run saw, with the
held-out mask files, per hole-ratio bin.

Resumable: a search, refinement, training run or evaluation already in --workdir is reused (an
interrupted refinement is resumed). --out is written after each seed, so a run cut short keeps the
seeds it finished. CelebA missing: says so and exits 0.

Run (the full run is hours on 2 cores):
    PYTHONPATH=$PWD .venv/bin/python bench/bench_refine.py --source results/bench-quality-seed0
        (--source: a folder holding the quality search 'quality'; without it one is run)
    PYTHONPATH=$PWD .venv/bin/python bench/bench_refine.py --quick     # minutes: the pipeline only
Writes bench/results/refine.json (or --out) and prints the Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"  # beside the checkout; --data for another place
SPACE = REPO / "search_spaces" / "celeba64.yaml"  # the quality benchmark's search
TEST_IDS = "7501-8000"  # never trained on or selected on: the quality benchmark's test faces


def run(args: list[str], log: Path) -> float:
    """``python -m raysearch.cli ARGS`` with its output in ``log``; returns the seconds it took."""
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("a") as f:
        f.write(f"\n$ raysearch {' '.join(args)}\n")
        f.flush()
        code = subprocess.call([sys.executable, "-m", "raysearch.cli", *args], cwd=REPO, env=env,
                               stdout=f, stderr=subprocess.STDOUT)
    if code != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"raysearch {args[0]} failed (exit {code}); the end of {log}:\n{tail}")
    return time.perf_counter() - t0


def spent(work: Path, name: str, seconds: float) -> float:
    """Seconds a run took, kept in ``work/NAME.seconds`` (added to on a resume), so that a rerun
    that reuses the run still reports them."""
    path = work / f"{name}.seconds"
    total = (float(path.read_text()) if path.exists() else 0.0) + seconds
    path.write_text(f"{total:.1f}")
    return round(total, 1)


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def ended(exp: Path) -> bool:
    """Whether the experiment exists and every one of its trials has ended."""
    from raysearch.search.records import read_trials

    if not (exp / "raysearch.json").exists():
        return False
    spec = json.loads((exp / "raysearch.json").read_text())
    done = [t for t in read_trials(exp) if t.state in ("TERMINATED", "ERROR")]
    return len(done) >= int(spec["spec"]["num_samples"])


def source_search(a: argparse.Namespace, work: Path, log: Path) -> tuple[Path, str]:
    """The search to refine: --source's 'quality', or one run here (reused when it is there)."""
    if a.source:
        return Path(a.source), "quality"
    results, name = work / "source", "quality"
    if not ended(results / name):
        sets = ["--set", f"data.path={a.data / 'celeba'}", "--set", f"mask.folder={a.data / 'masks'}"]
        if a.quick:  # the pipeline only: few faces, 32 px
            sets += ["--set", "data.image_size=32", "--set", "data.train_ids=1-300",
                     "--set", "data.num_val=32"]
        if (results / name / "raysearch.json").exists():
            run(["resume", name, "--results", str(results)], log)
        else:
            run(["submit", "--name", name, "--results", str(results), "--space", str(SPACE),
                 "--num-samples", str(a.source_trials), "--max-epochs", str(a.source_epochs),
                 "--startup-trials", "2", "--seed", "0", *sets,
                 *(["--time-budget", str(a.source_budget)] if a.source_budget else [])], log)
    return results, name


def epoch_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The fixed run's metrics.jsonl, one row per epoch."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def val_curve(run_dir: Path, metric: str) -> list[float]:
    """The fixed run's validation metric, epoch by epoch."""
    return [round(float(r[metric]), 4) for r in epoch_rows(run_dir)]


def best_epoch_checkpoint(run_dir: Path, metric: str, mode: str,
                          upto: int | None = None) -> tuple[Path, int, float]:
    """The fixed run's epoch with the best validation metric (selected on val ids only), among
    its first ``upto`` epochs (all of them: None)."""
    rows = [r for r in epoch_rows(run_dir) if upto is None or int(r["epoch"]) <= upto]
    sign = 1.0 if mode == "max" else -1.0
    best = max(rows, key=lambda r: sign * r[metric])
    epoch = int(best["epoch"])
    return run_dir / "checkpoints" / f"epoch_{epoch:04d}", epoch, float(best[metric])


def scores(eval_dir: Path) -> dict[str, dict[str, float]]:
    """bin -> metric -> the model's value, from evaluation.csv."""
    out: dict[str, dict[str, float]] = {}
    with (eval_dir / "evaluation.csv").open() as f:
        for row in csv.DictReader(f):
            if row["method"] == "model":
                out.setdefault(row["hole_ratio"], {})[row["metric"]] = float(row["value"])
    return out


def evaluate(ckpt: Path, eval_dir: Path, a: argparse.Namespace, log: Path) -> dict[str, Any]:
    if not (eval_dir / "evaluation.csv").exists():
        # the checkpoint's own mask folder: trained on mask.subset train, scored on the held-out files
        run(["evaluate", str(ckpt), "--ids", TEST_IDS, "--num-images", str(a.num_images),
             "--baselines", "", "--out", str(eval_dir)], log)
    return scores(eval_dir)


def one_seed(seed: int, results: Path, name: str, a: argparse.Namespace, work: Path,
             log: Path) -> dict[str, Any]:
    """PBT refinement and the fixed winner for one seed, each selected on val, scored on test."""
    from raysearch.search.experiment import open_experiment
    from raysearch.search.refine import winner_of

    source = open_experiment(name, results)
    winner = winner_of(source)
    metric = source.metric
    row: dict[str, Any] = {"seed": seed, "winner": winner.number, "metric": metric}

    refined = f"{name}-pbt-p{a.population}-e{a.epochs}-s{seed}"
    t = 0.0
    if not ended(results / refined):
        if (results / refined / "raysearch.json").exists():
            t += run(["resume", refined, "--results", str(results)], log)
        else:
            t += run(["refine", name, "--results", str(results), "--name", refined,
                      "--population", str(a.population), "--epochs", str(a.epochs),
                      "--perturb-interval", str(a.perturb_interval), "--seed", str(seed),
                      "--space", str(a.space),
                      *(["--pb2"] if a.pb2 else [])], log)
    exp = open_experiment(refined, results)
    best = exp.best()
    assert best is not None, f"{refined}: no member with a checkpoint"
    pulled = work / f"{refined}-best"
    if not (pulled / "checkpoint.pt").exists():
        run(["best", refined, "--results", str(results), "--out", str(pulled), "--force"], log)
    row["pbt"] = {"experiment": refined, "best_trial": best.number,
                  "best_epoch": best.best_checkpoint_epoch, "val": best.value(metric),
                  "exploits": sum(len(m.exploits) for m in exp.trials),
                  "epochs_trained": sum(len(m.history) for m in exp.trials),
                  "params": best.params_at(best.best_checkpoint_epoch),
                  "seconds": spent(work, refined, t),
                  "test": evaluate(pulled, work / f"{refined}-eval", a, log)}

    # the baseline: the same total epochs as the whole population; and one member's epochs
    row["fixed"] = fixed_run(seed, a.population * a.epochs, source, winner, a, work, log)
    row["fixed_member"] = fixed_run(seed, a.population * a.epochs, source, winner, a, work, log,
                                    upto=a.epochs)
    return row


def fixed_run(seed: int, epochs: int, source: Any, winner: Any, a: argparse.Namespace,
              work: Path, log: Path, upto: int | None = None) -> dict[str, Any]:
    """The winner's configuration trained ``epochs`` epochs with the seed's train.seed, its best
    validation epoch (among the first ``upto``) kept and scored on the test faces (reused when it
    is in ``work``)."""
    fixed = work / f"fixed-e{epochs}-s{seed}"
    t = 0.0
    if not (fixed / "metrics.jsonl").exists() or \
            len((fixed / "metrics.jsonl").read_text().splitlines()) < epochs:
        from raysearch.config import save_config
        from raysearch.search.refine import winner_config

        cfg = winner_config(source, winner, epochs)  # what refine trains, checkpoint each epoch
        cfg.train.seed += seed  # as refine --seed does
        save_config(cfg, work / f"{fixed.name}.yaml")
        t = run(["train", "--config", str(work / f"{fixed.name}.yaml"), "--out", str(fixed)], log)
    ckpt, epoch, val = best_epoch_checkpoint(fixed, source.metric, source.mode, upto)
    curve = val_curve(fixed, source.metric)
    seconds = spent(work, fixed.name, t)
    if upto is not None:  # one member's epochs out of the longer run: its share of the time
        curve, seconds = curve[:upto], round(seconds * upto / epochs, 1)
    suffix = "" if upto is None else f"-first{upto}"
    return {"run": f"{fixed.name}{suffix}", "best_epoch": epoch, "val": val,
            "epochs_trained": upto or epochs, "seconds": seconds, "val_curve": curve,
            "test": evaluate(ckpt, work / f"{fixed.name}{suffix}-eval", a, log)}


def fixed_only(a: argparse.Namespace, results: Path, name: str, work: Path, log: Path,
               out: Path) -> None:
    """--fixed-only: the winner trained --fixed-only epochs per seed, scored as in a full run."""
    from raysearch.search.experiment import open_experiment
    from raysearch.search.refine import winner_of

    source = open_experiment(name, results)
    winner = winner_of(source)
    rows = []
    for seed in a.seed_list or range(a.seeds):
        rows.append({"seed": seed, "winner": winner.number, "metric": source.metric,
                     "fixed": fixed_run(seed, a.fixed_only, source, winner, a, work, log)})
        print(f"seed {seed}: fixed {a.fixed_only} epochs, best epoch {rows[-1]['fixed']['best_epoch']}"
              f" (val {rows[-1]['fixed']['val']:.3f}, {rows[-1]['fixed']['seconds']} s); load "
              f"average {load()}")
    out.write_text(json.dumps({"fixed_only": a.fixed_only, "test_ids": TEST_IDS,
                               "num_images": a.num_images, "source": source_summary(results, name),
                               "load_after": load(), "runs": rows}, indent=1))
    print(f"wrote {out}")


def compare(files: list[Path]) -> None:
    """--compare: a refinement's PBT rows against fixed runs measured apart, by seed."""
    refined = json.loads(files[0].read_text())
    fixed = {r["seed"]: r["fixed"] for f in files[1:] for r in json.loads(f.read_text())["runs"]}
    rows = [{**r, "fixed": fixed[r["seed"]]} for r in refined["runs"] if r["seed"] in fixed]
    if not rows:
        raise SystemExit(f"--compare: no seed of {files[0]} is in {', '.join(map(str, files[1:]))}")
    epochs = {r["fixed"]["epochs_trained"] for r in rows}
    print(f"PBT (population {refined['population']} x {refined['epochs']} epochs, {files[0]}) "
          f"against the winner trained for {', '.join(map(str, sorted(epochs)))} epochs:")
    print(table(rows))
    for r in rows:
        f = r["fixed"]
        print(f"seed {r['seed']}: fixed best epoch {f['best_epoch']} (val {f['val']:.3f}, "
              f"{f['epochs_trained']} epochs, {f['seconds']} s); val curve {f.get('val_curve')}")


def source_summary(results: Path, name: str) -> dict[str, Any]:
    """What the source search ran and which trial won (for BENCHMARKS.md)."""
    from raysearch.search.experiment import open_experiment
    from raysearch.search.refine import winner_of

    source = open_experiment(name, results)
    winner = winner_of(source)
    return {"trials": len(source.trials), "ended": len(source.finished()),
            "winner": winner.number, "params": winner.params,
            "val": winner.value(source.metric), "epochs": len(winner.history)}


def table(rows: list[dict[str, Any]], metrics: tuple[str, ...] = ("psnr", "ssim"),
          fixed: str = "fixed") -> str:
    """Markdown: per bin and metric, PBT and the ``fixed`` run for each seed, their means and the
    difference."""
    bins = sorted({b for r in rows for b in r["pbt"]["test"]})
    lines = ["| metric | hole ratio | " + " | ".join(f"seed {r['seed']}: PBT / fixed" for r in rows)
             + " | mean PBT - fixed |", "|---|---|" + "---:|" * (len(rows) + 1)]
    for m in metrics:
        for b in bins:
            cells, diffs = [], []
            for r in rows:
                p, f = r["pbt"]["test"].get(b, {}).get(m), r[fixed]["test"].get(b, {}).get(m)
                if p is None or f is None:
                    cells.append("-")
                    continue
                cells.append(f"{p:.4g} / {f:.4g}")
                diffs.append(p - f)
            mean = f"{sum(diffs) / len(diffs):+.4g}" if diffs else "-"
            lines.append(f"| {m} | {b} | " + " | ".join(cells) + f" | {mean} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", help="results folder holding the search 'quality' to refine "
                                     "(default: run one in --workdir)")
    ap.add_argument("--population", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--perturb-interval", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1 (at least 2)")
    ap.add_argument("--pb2", action="store_true")
    ap.add_argument("--fixed-only", type=int, metavar="EPOCHS",
                    help="train and score only the fixed baseline, for EPOCHS epochs (e.g. the "
                         "total of a population whose refinement is already measured)")
    ap.add_argument("--seed", type=int, action="append", dest="seed_list",
                    help="with --fixed-only: this seed only (repeatable; default 0..--seeds-1)")
    ap.add_argument("--space", default=str(REPO / "bench" / "refine_space.yaml"),
                    help="what PBT mutates (refine --space)")
    ap.add_argument("--num-images", type=int, default=500, help="test faces per hole-ratio bin")
    ap.add_argument("--source-trials", type=int, default=24)
    ap.add_argument("--source-epochs", type=int, default=8)
    ap.add_argument("--source-budget", type=int, default=1800, help="seconds (0: none)")
    ap.add_argument("--data", type=Path, default=SHARED, help="folder with celeba/ and masks/")
    ap.add_argument("--workdir", default="results/bench-refine")
    ap.add_argument("--out", default="bench/results/refine.json")
    ap.add_argument("--quick", action="store_true",
                    help="the pipeline in minutes: 32 px, 300 faces, population 2, 2 epochs, "
                         "20 test faces per bin (numbers mean nothing)")
    ap.add_argument("--compare", nargs="+", type=Path, metavar="JSON",
                    help="no training: print the table of the first file's PBT runs (an --out of "
                         "this script) against the fixed runs of the others (--fixed-only outs), "
                         "seed by seed")
    a = ap.parse_args()
    if a.compare:
        compare(a.compare)
        return
    if not (a.data / "celeba" / "000001.jpg").exists() or not (a.data / "masks").is_dir():
        print(f"skip: CelebA or the NVIDIA masks not found at {a.data} (../shared/data)")
        return
    if a.seeds < 2:
        raise SystemExit("--seeds must be at least 2 (one seed cannot tell the two apart)")
    if a.quick:
        a.population, a.epochs, a.perturb_interval, a.num_images = 2, 2, 1, 20
        a.source_trials, a.source_epochs, a.source_budget = 2, 1, 0
        a.workdir = a.workdir.rstrip("/") + "-quick"
    work = (REPO / a.workdir).resolve()
    if a.quick:  # its numbers mean nothing: kept beside the runs, not in bench/results
        a.out = str(work / "refine-quick.json")
    work.mkdir(parents=True, exist_ok=True)
    log = work / "bench.log"
    print(f"load average {load()}; log in {log}")
    results, name = source_search(a, work, log)
    out = REPO / a.out
    out.parent.mkdir(parents=True, exist_ok=True)
    if a.fixed_only:
        fixed_only(a, results, name, work, log, out)
        return
    source = source_summary(results, name)
    rows: list[dict[str, Any]] = []
    for seed in range(a.seeds):
        rows.append(one_seed(seed, results, name, a, work, log))
        print(f"seed {seed} done; load average {load()}")
        summary = {"population": a.population, "epochs": a.epochs,
                   "perturb_interval": a.perturb_interval, "scheduler": "pb2" if a.pb2 else "pbt",
                   "test_ids": TEST_IDS, "num_images": a.num_images, "quick": a.quick,
                   "source": source, "seeds_done": len(rows),
                   "seeds": a.seeds, "load_after": load(), "runs": rows}
        out.write_text(json.dumps(summary, indent=1))  # after each seed: a cut run keeps them
    print(f"PBT against the winner trained for the population's total epochs "
          f"({a.population} x {a.epochs}):")
    print(table(rows))
    print(f"PBT against the winner trained for one member's epochs ({a.epochs}):")
    print(table(rows, fixed="fixed_member"))
    for r in rows:
        print(f"seed {r['seed']}: PBT best trial {r['pbt']['best_trial']} epoch "
              f"{r['pbt']['best_epoch']} (val {r['pbt']['val']:.3f}, {r['pbt']['exploits']} exploits, "
              f"{r['pbt']['epochs_trained']} epochs in all, {r['pbt']['seconds']} s); fixed best epoch "
              f"{r['fixed']['best_epoch']} (val {r['fixed']['val']:.3f}, {r['fixed']['epochs_trained']} "
              f"epochs, {r['fixed']['seconds']} s); fixed for one member's epochs: best epoch "
              f"{r['fixed_member']['best_epoch']} (val {r['fixed_member']['val']:.3f}, "
              f"{r['fixed_member']['seconds']} s)")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
