"""Issue 7 benchmark: does the search pay? Four strategies on real faces, the papers' presets, and
the simulated (replayed) comparison.

1. Random or TPE proposals, with or without ASHA, through raysearch's real search path (Ray Tune +
   OptunaSearch + ASHA/FIFO), on the same CelebA faces, NVIDIA masks, search space and epoch budget
   (the epochs of ``trials`` full-length trials), several sampler seeds each: anytime curves (best
   validation PSNR against epochs spent) and the epochs TPE + ASHA needs to reach random search's
   final best.
2. Every search-space preset with a ``fixed: model.generator`` (its published settings: the fixed
   block over the config defaults, nothing sampled), trained for the same epochs per trial, against
   the best configuration each TPE + ASHA search found, retrained; both scored on held-out faces
   that no search saw (``test_ids``).
3. The simulator: the real runs' complete learning curves replayed through the same four
   strategies with many seeds; its ranking of the strategies against the real one.

Run (about 35 min on a quiet 2-core machine; --quick checks everything in a few minutes):
    PYTHONPATH=$PWD .venv/bin/python bench/bench_strategies.py
The larger budget recorded in BENCHMARKS.md (20 full trials instead of 10, 5 seeds; the searches
alone took 135.6 min on 2026-11-26's machine, whose epochs were about 2.6x slower than 2026-11-22's):
    PYTHONPATH=$PWD .venv/bin/python bench/bench_strategies.py --trials 20 --seeds 5 \
        --skip-presets --workdir results/bench-strategies-t20 --out bench/results/budget20
(--strategies ad runs (a) and (d) only; a later run with all four reuses them.)
Writes bench/results/strategies.json and bench/results/strategies.png (curves only, no faces) and
prints the Markdown section for BENCHMARKS.md. Finished searches are kept in --workdir and reused
when the command is run again (--fresh starts over).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from raysearch.build import validate_names
from raysearch.config import Config, config_from_dict, load_yaml, merge_dotted
from raysearch.data import load_faces
from raysearch.data.faces import parse_id_ranges
from raysearch.errors import UserError
from raysearch.search.anytime import epochs_to_reach, kendall_tau, ranking
from raysearch.search.compare import (
    STRATEGIES,
    compare_strategies,
    comparison_table,
    strategy_curves,
)
from raysearch.search.records import best_of, read_trials
from raysearch.search.runner import SPEC_FILE, SearchSpec, prepare_search, run_search, start_ray
from raysearch.search.simulate import CurveTable, simulate_search
from raysearch.search.strategy import Strategy

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
LETTERS = {s.label: "abcd"[i] for i, s in enumerate(STRATEGIES)}
DEFAULT_LABEL = Strategy().label  # raysearch's default, (d)
BASELINE_LABEL = STRATEGIES[0].label  # random search without early stopping, (a)
STYLES: dict[str, dict[str, Any]] = {  # curves often coincide: line styles keep all four visible
    "a": {"ls": "-", "lw": 2.4}, "b": {"ls": "--", "lw": 1.8}, "c": {"ls": "-.", "lw": 1.6},
    "d": {"ls": ":", "lw": 2.2}}


@dataclass
class Scale:
    """How big the benchmark is: data, budget and seeds."""

    train_ids: str
    val_ids: str  # what the searches select on
    test_ids: str  # held out: presets and retrained search winners are scored here
    epochs: int  # per trial (ASHA's max_t)
    trials: int  # budget = trials x epochs for every strategy
    seeds: int  # sampler seeds per strategy
    sim_seeds: int
    startup_trials: int  # TPE's random start, the same for (b) and (d)
    preset_seeds: int  # training seeds per preset
    image_size: int = 32
    mask_ratio: tuple[float, float] = (0.1, 0.6)
    max_concurrent: int = 2
    seconds_per_epoch: float = 0.05  # simulator: mean replayed epoch

    @property
    def budget(self) -> int:
        return self.trials * self.epochs


SCALES = {
    "full": Scale(train_ids="1-2000", val_ids="7001-7200", test_ids="7801-8000", epochs=4, trials=10,
                  seeds=3, sim_seeds=20, startup_trials=4, preset_seeds=3),
    "quick": Scale(train_ids="1-256", val_ids="7001-7064", test_ids="7937-8000", epochs=2, trials=3,
                   seeds=1, sim_seeds=2, startup_trials=2, preset_seeds=1),
}


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}] {msg}", flush=True)


def quiet(_msg: str) -> None:
    pass


def data_overrides(sc: Scale, celeba: Path, masks: Path, eval_ids: str) -> dict[str, Any]:
    """The benchmark's data and holes: the same for every search, preset and retrained winner."""
    return {
        "data.path": str(celeba), "data.image_size": sc.image_size, "data.split": "ids",
        "data.train_ids": sc.train_ids, "data.val_ids": eval_ids,
        "data.num_val": len(parse_id_ranges(eval_ids, "val ids")),
        "mask.kind": "folder", "mask.folder": str(masks), "mask.ratio": list(sc.mask_ratio),
        "train.sample_grid": False,  # no face images written anywhere
    }


# ---- 1. the four strategies on real faces ------------------------------------------------------

class RealRuns:
    """Runs (or reuses) real searches; a search counts as done once it is in done.json.

    With an ``archive`` (a folder under bench/results, which is committed), each finished search's
    records are copied there too: the experiment folder's own files (its spec, trial records,
    study and ASHA journals; no checkpoints, no faces: about 250 kB for a 20-trial search). A
    finished search that ``folder`` lacks (a fresh checkout: results/ is not committed) is
    restored from it, so a benchmark of many searches can span sessions."""

    def __init__(self, folder: Path, archive: Path | None = None) -> None:
        self.folder = folder
        self.archive = archive
        self.done_file = folder / "done.json"
        self.done: dict[str, dict[str, Any]] = (json.loads(self.done_file.read_text())
                                                if self.done_file.exists() else {})
        if archive is not None and (archive / "done.json").exists():
            self.done = {**json.loads((archive / "done.json").read_text()), **self.done}
        self.wall_s = 0.0  # of the searches used, when they ran (reused ones included)

    def _archive(self, spec: SearchSpec) -> None:
        if self.archive is None:
            return
        kept = self.archive / spec.name
        kept.mkdir(parents=True, exist_ok=True)
        for f in spec.experiment.iterdir():
            if f.is_file() and not f.name.startswith("."):  # not the driver's lock
                shutil.copy2(f, kept / f.name)
        done = (json.loads((self.archive / "done.json").read_text())
                if (self.archive / "done.json").exists() else {})
        done[spec.name] = self.done[spec.name]
        (self.archive / "done.json").write_text(json.dumps(done, indent=1))

    def _restore(self, spec: SearchSpec) -> bool:
        """Copy an archived finished search back into ``folder``; whether there was one."""
        kept = None if self.archive is None else self.archive / spec.name
        if kept is None or not (kept / SPEC_FILE).exists():
            return False
        if spec.experiment.exists():
            shutil.rmtree(spec.experiment)
        shutil.copytree(kept, spec.experiment)
        say(f"{spec.name}: restored from {kept}")
        return True

    def __call__(self, spec: SearchSpec) -> Path:
        if spec.name in self.done and not (spec.experiment / SPEC_FILE).exists():
            self._restore(spec)
        if spec.name in self.done and (spec.experiment / SPEC_FILE).exists():
            say(f"{spec.name}: reusing the finished search")
            self.wall_s += self.done[spec.name]["wall_s"]
            return spec.experiment
        if spec.experiment.exists():
            shutil.rmtree(spec.experiment)  # an interrupted run: start it again
        t0 = time.perf_counter()
        prepared = prepare_search(spec, check=validate_names, say=quiet)
        run_search(prepared, say=quiet)
        wall = time.perf_counter() - t0
        self.wall_s += wall
        trials = read_trials(spec.experiment)
        epochs = sum(len(t.history) for t in trials)
        best = best_of(trials, "val_psnr", "max")
        self.done[spec.name] = {"wall_s": wall, "trials": len(trials), "epochs": epochs,
                                "load_end": os.getloadavg()[0]}
        self.done_file.write_text(json.dumps(self.done, indent=1))
        self._archive(spec)
        say(f"{spec.name}: {len(trials)} trials, {epochs} epochs, best val_psnr "
            f"{best.best['val_psnr'] if best else float('nan'):.3f}, {wall:.0f} s")
        return spec.experiment


def paired_ratios(a_curves: Any, d_curves: Any, budget: int, mode: str, tolerance: float = 0.0
                  ) -> list[dict[str, Any]]:
    """Per seed: the epochs a ``d`` curve needs to reach the same seed's ``a`` final best (less
    ``tolerance``, in the metric's better direction)."""
    per_seed = []
    for a, d in zip(a_curves, d_curves, strict=False):
        target = float(a[-1]) - (tolerance if mode == "max" else -tolerance)
        need = epochs_to_reach(d, target, mode)
        own = epochs_to_reach(a, target, mode)  # when (a) itself first got there
        per_seed.append({"target": target, "d_epochs": need, "a_epochs_to_own_best": own,
                         "ratio": None if need is None else need / budget})
    return per_seed


def ratio_to_baseline(stats: dict[str, dict[str, Any]], runs: dict[str, list[Path]], budget: int,
                      mode: str) -> dict[str, Any]:
    """Epochs (d) needs to reach (a)'s final best, per seed (paired) and on the mean curves."""
    base, best = stats[BASELINE_LABEL], stats[DEFAULT_LABEL]
    d_curves = strategy_curves(runs[DEFAULT_LABEL], "val_psnr", mode, budget).curves
    a_curves = strategy_curves(runs[BASELINE_LABEL], "val_psnr", mode, budget).curves
    per_seed = paired_ratios(a_curves, d_curves, budget, mode)
    target = float(np.mean(base["final"]))
    mean_need = epochs_to_reach(np.asarray(best["mean_curve"]), target, mode)
    reached = [p["ratio"] for p in per_seed if p["ratio"] is not None]
    return {
        "per_seed": per_seed,
        "reached": f"{len(reached)}/{len(per_seed)}",
        "median_ratio": float(np.median([r if r is not None else np.inf
                                         for r in (p["ratio"] for p in per_seed)])),
        "mean_target": target,
        "mean_curve_epochs": mean_need,
        "mean_curve_ratio": None if mean_need is None else mean_need / budget,
    }


# ---- 2. the papers' presets against the search's winners ---------------------------------------

def preset_files(folder: Path) -> list[Path]:
    """Search spaces whose fixed block names a generator: one paper's published settings each."""
    out = []
    for path in sorted(folder.glob("*.yaml")):
        raw = load_yaml(path)
        if isinstance(raw, dict) and "model.generator" in (raw.get("fixed") or {}):
            out.append(path)
    return out


def preset_config(path: Path, overrides: dict[str, Any]) -> Config:
    """Config defaults, then the preset's fixed block, then the benchmark's data/holes/budget."""
    fixed = load_yaml(path)["fixed"]
    cfg = config_from_dict(merge_dotted(Config().to_dict(), {**fixed, **overrides}, str(path)),
                           where=str(path))
    validate_names(cfg)
    return cfg


def winner_config(experiment: Path, overrides: dict[str, Any]) -> tuple[Config, dict[str, Any]]:
    """The best trial's full configuration (the search's base config and its parameters)."""
    spec = json.loads((experiment / SPEC_FILE).read_text())
    best = best_of(read_trials(experiment), "val_psnr", "max")
    if best is None:
        raise UserError(f"{experiment.name}: no trial with a checkpoint")
    raw = merge_dotted(spec["base_config"], {**best.params, **overrides}, experiment.name)
    return config_from_dict(raw, where=experiment.name), best


def _train_one(cfg_dict: dict[str, Any], data_ref: list[Any]) -> dict[str, Any]:
    """One training run in a Ray task (1 CPU): its per-epoch metrics, or why it could not run."""
    import ray

    from raysearch.errors import DivergedError
    from raysearch.train import train

    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    run_dir = Path(tempfile.mkdtemp(prefix="bench-preset-"))
    try:
        train(config_from_dict(cfg_dict), run_dir, data=ray.get(data_ref[0]),
              report=lambda m, _c: history.append(m))
    except UserError as e:
        return {"status": "skipped", "reason": str(e)}
    except DivergedError as e:
        return {"status": "diverged", "reason": str(e), "history": history}
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return {"status": "ok", "history": history, "wall_s": time.perf_counter() - t0}


def presets_vs_winners(sc: Scale, overrides: dict[str, Any], winners: list[Path],
                       space_folder: Path) -> dict[str, Any]:
    """Train every preset (seeds 1..K) and each (d) search's best configuration (fresh seed)."""
    import ray

    @dataclass
    class Job:
        name: str
        generator: str
        seed: int
        config: dict[str, Any] | None  # None: cannot run, for the reason in why
        why: str = ""

    jobs: list[Job] = []
    for path in preset_files(space_folder):
        generator = str(load_yaml(path)["fixed"]["model.generator"])
        for seed in range(1, sc.preset_seeds + 1):
            try:
                cfg = preset_config(path, {**overrides, "train.seed": seed})
                jobs.append(Job(path.stem, generator, seed, cfg.to_dict()))
            except UserError as e:
                jobs.append(Job(path.stem, generator, seed, None, str(e)))
    chosen: list[dict[str, Any]] = []
    for k, folder in enumerate(winners):
        cfg, best = winner_config(folder, {**overrides, "train.seed": k + 1})
        jobs.append(Job(f"search winner ({folder.name})", cfg.model.generator, k + 1, cfg.to_dict()))
        chosen.append({"experiment": folder.name, "trial": best.number, "params": best.params,
                       "val_psnr_in_search": best.best["val_psnr"]})
    data_cfg = config_from_dict(merge_dotted(Config().to_dict(), overrides, "bench")).data
    data_ref = [ray.put(load_faces(data_cfg))]
    task = ray.remote(num_cpus=1)(_train_one)
    refs = [task.remote(j.config, data_ref) if j.config is not None else None for j in jobs]
    rows: dict[str, dict[str, Any]] = {}
    for job, ref in zip(jobs, refs, strict=True):
        out: dict[str, Any] = (ray.get(ref) if ref is not None
                               else {"status": "skipped", "reason": job.why})
        row = rows.setdefault(job.name, {"runs": [], "generator": job.generator})
        hist = out.get("history") or []
        row["runs"].append({"seed": job.seed, "status": out["status"], "reason": out.get("reason"),
                            "wall_s": out.get("wall_s"),
                            "test_psnr": hist[-1]["val_psnr"] if out["status"] == "ok" else None,
                            "test_ssim": hist[-1]["val_ssim"] if out["status"] == "ok" else None})
        say(f"{job.name} seed {job.seed}: {out['status']} "
            f"{row['runs'][-1]['test_psnr'] or out.get('reason', '')}")
    return {"rows": rows, "winners": chosen}


# ---- 3. the simulator ----------------------------------------------------------------------------

def simulated(sc: Scale, real: dict[str, list[Path]], folder: Path) -> dict[str, Any]:
    table = CurveTable.from_experiments([p for paths in real.values() for p in paths])
    if folder.exists():
        shutil.rmtree(folder)  # cheap to redo; simulate_search refuses existing experiments
    base = SearchSpec(name="sim", results=str(folder), max_epochs=sc.epochs,
                      max_concurrent=sc.max_concurrent, startup_trials=sc.startup_trials)
    walls: list[float] = []

    def run_one(spec: SearchSpec) -> Path:
        t0 = time.perf_counter()
        path = simulate_search(table, spec, sc.seconds_per_epoch, say=quiet)
        walls.append(time.perf_counter() - t0)
        return path

    runs = compare_strategies(run_one, base, STRATEGIES, range(sc.sim_seeds), sc.trials)
    return {"runs": runs, "table_curves": len(table.curves), "table_left_out": table.left_out,
            "seconds_per_search": walls}


# ---- report ---------------------------------------------------------------------------------------

def fmt_sd(values: list[float | None]) -> str:
    v = np.array([x for x in values if x is not None], dtype=float)
    if not len(v):
        return "-"
    return f"{v.mean():.2f} ± {v.std(ddof=1):.2f}" if len(v) > 1 else f"{v.mean():.2f}"


def plot(real: dict[str, Any], sim: dict[str, Any] | None, budget: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("real training", real)] + ([("simulated (replayed curves)", sim)] if sim else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.4), squeeze=False)
    x = np.arange(1, budget + 1)
    for ax, (title, stats) in zip(axes[0], panels, strict=True):
        for label, s in stats.items():
            curves = np.array(s["curves"])
            style = STYLES[LETTERS[label]]
            ax.plot(x, s["mean_curve"], label=f"({LETTERS[label]}) {label}", **style)
            ax.fill_between(x, np.nanmin(curves, axis=0), np.nanmax(curves, axis=0), alpha=0.15)
        # (a)'s final best, and the third of the budget by which (d) should reach it
        ax.axhline(np.mean(stats[BASELINE_LABEL]["final"]), color="grey", ls=":", lw=1)
        ax.axvline(budget / 3, color="grey", ls=":", lw=1)
        seeds = next(iter(stats.values()))["seeds"]
        ax.set(title=f"{title}: mean of {seeds} seeds, band = min-max", xlabel="epochs spent",
               ylabel="best validation PSNR so far (dB)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def startup_why(trials: int, startup: int) -> str:
    """Why the benchmark does not use Optuna's default of 10 random start-up trials."""
    if trials <= 10:
        return f"Optuna's default of 10 would make a {trials}-trial TPE search a random one"
    return (f"Optuna's default of 10 would leave TPE {trials - 10} of {trials} trials; the same {startup} "
            f"at every budget keep the budgets comparable")


def reused_note(r: dict[str, Any]) -> str:
    """Searches reused from an earlier invocation count in the whole run at their own time."""
    inv = r.get("invocation_s")
    if inv is None or inv > r["wall_s"] - 60:
        return ""
    return (f" (finished searches reused from an earlier invocation counted at the time they took; "
            f"this invocation {inv / 60:.1f} min)")


def markdown(r: dict[str, Any], figure: str) -> str:
    sc = Scale(**{**r["scale"], "mask_ratio": tuple(r["scale"]["mask_ratio"])})
    ratio = r["real"]["ratio"]
    lines = [
        "## Does the search pay? (issue 7)\n",
        f"`bench/bench_strategies.py{' --quick' if r['quick'] else ''}`, {r['date']}, "
        f"{r['machine']}; whole run {r['wall_s'] / 60:.1f} min{reused_note(r)}.\n",
        f"Setup: CelebA ids {sc.train_ids} for training at {sc.image_size} px, validation (what "
        f"the searches select on) ids {sc.val_ids}, NVIDIA irregular masks with hole ratio "
        f"{sc.mask_ratio[0]}-{sc.mask_ratio[1]}; space `{r['space']}`; {sc.epochs} epochs per "
        f"trial; every strategy gets the same budget of {sc.budget} epochs (= {sc.trials} "
        f"full trials): without early stopping that is {sc.trials} trials, with ASHA (grace 1 "
        f"epoch, reduction factor 2) as many trials as the budget allows; 2 trials at a time, 1 "
        f"CPU each; TPE starts with {sc.startup_trials} random trials "
        f"({startup_why(sc.trials, sc.startup_trials)}); {sc.seeds} sampler seeds per strategy. "
        f"Values: mean ± sd over seeds.\n",
        r["real"]["table"], "",
        f"![anytime curves]({figure})\n",
        f"**Epochs TPE + ASHA (d) needs to reach the final best of random search (a)** (target: "
        f"at most 1/3 of the {sc.budget} epochs (a) spent): per seed "
        + per_seed_text(ratio)
        + f"; reached in {ratio['reached']} seeds, median ratio "
        f"{_ratio(ratio['median_ratio'])}. On the mean curves ((a)'s mean final best "
        f"{ratio['mean_target']:.3f} dB): "
        + ("not reached" if ratio["mean_curve_epochs"] is None else
           f"{ratio['mean_curve_epochs']} epochs, ratio {ratio['mean_curve_ratio']:.2f}")
        + ". (a) itself first reached its final best after "
        + ", ".join(str(p["a_epochs_to_own_best"]) for p in ratio["per_seed"]) + " epochs.\n",
        "Trials run per search (mean): " + ", ".join(
            f"({LETTERS[k]}) {np.mean(v):.1f}" for k, v in r["real"]["trials_per_search"].items())
        + ".\n",
    ]
    if r.get("presets"):
        lines += [
            f"**Published settings against the search.** Each preset's `fixed:` block over the "
            f"config defaults (its searched parameters at the defaults, nothing sampled), with the "
            f"benchmark's data, holes and {sc.epochs} epochs, trained with seeds 1-"
            f"{sc.preset_seeds}; the search winner is each TPE + ASHA search's best configuration, "
            f"retrained from scratch with a fresh seed. Both scored after the last epoch on "
            f"held-out ids {sc.test_ids}, which no search saw. The presets' searched parameters "
            f"are at the config defaults, not at the values their comments call published (e.g. "
            f"learning rates), and a perceptual or style weight that only the search sets stays 0."
            f"\n",
            "| configuration | generator | runs | test PSNR | test SSIM | note |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in r["presets"]["rows"].items():
            ok = [x for x in row["runs"] if x["status"] == "ok"]
            notes = sorted({f"{x['status']}: {x['reason']}" for x in row["runs"]
                            if x["status"] != "ok"})
            lines.append(f"| {name} | {row['generator']} | {len(ok)}/{len(row['runs'])} | "
                         f"{fmt_sd([x['test_psnr'] for x in ok])} | "
                         f"{fmt_sd([x['test_ssim'] for x in ok])} | {'; '.join(notes)[:200]} |")
        lines.append("\nThe winners: " + "; ".join(
            f"{w['experiment']} trial {w['trial']} (val {w['val_psnr_in_search']:.2f} dB in the "
            f"search): " + ", ".join(f"{k.split('.')[-1]} {_short(v)}" for k, v in
                                     sorted(w["params"].items()))
            for w in r["presets"]["winners"]) + ".\n")
    if r.get("sim"):
        s = r["sim"]
        lines += [
            f"**Simulated mode** (`raysearch simulate`): the {s['table_curves']} complete "
            f"learning curves of the real runs above ({s['table_left_out']} shorter trials left "
            f"out) replayed by nearest configuration through the same Tune + Optuna + ASHA "
            f"search, {sc.sim_seeds} seeds per strategy, "
            f"{np.median(s['seconds_per_search']):.1f} s per search (median).\n",
            s["table"], "",
            f"Ranking of the mean final best: real {s['rank_real']}, simulated {s['rank_sim']} "
            f"(Kendall tau-b {_tau(s['tau_final'])}); of the mean best-so-far over the budget: "
            f"real {s['rank_real_area']}, simulated {s['rank_sim_area']} "
            f"(tau-b {_tau(s['tau_area'])}). "
            f"(d)-to-(a) epoch ratio, median over seeds: real {_ratio(ratio['median_ratio'])}, "
            f"simulated {_ratio(s['ratio']['median_ratio'])} "
            f"(reached in {s['ratio']['reached']}).\n",
        ]
    t = r["timing"]
    lines.append(
        f"Time: searches {t['real_s'] / 60:.1f} min"
        + (f", presets {t['presets_s'] / 60:.1f} min" if r.get("presets") else ", presets not run")
        + (f", simulation {t['sim_s'] / 60:.1f} min" if r.get("sim") else ", simulation not run")
        + f"; a training epoch took {t['epoch_s_mean']:.2f} s "
        f"(mean wall time inside trials, 2 running at once; load average {t['load_mean']:.1f}).")
    return "\n".join(lines)


def _with_curves(runs: dict[str, list[Path]], sc: Scale) -> tuple[str, dict[str, Any]]:
    table, stats = comparison_table(runs, "val_psnr", "max", sc.budget)
    for label, paths in runs.items():
        stats[label]["curves"] = strategy_curves(paths, "val_psnr", "max", sc.budget).curves.tolist()
    return _lettered(table), stats


def analyse_real(runs: dict[str, list[Path]], sc: Scale) -> dict[str, Any]:
    table, stats = _with_curves(runs, sc)
    trials = {k: [len(read_trials(p)) for p in v] for k, v in runs.items()}
    epoch_times = [h["epoch_time_s"] for v in runs.values() for p in v for t in read_trials(p)
                   for h in t.history if "epoch_time_s" in h]
    # the last epoch's train_time_s of each trial: all its epochs, including any not reported
    train_s = sum(t.last.get("train_time_s", 0.0) for v in runs.values() for p in v
                  for t in read_trials(p))
    return {"table": table, "stats": stats, "trials_per_search": trials,
            "ratio": ratio_to_baseline(stats, runs, sc.budget, "max"),
            "experiments": {k: [str(p) for p in v] for k, v in runs.items()},
            "epoch_s_mean": float(np.mean(epoch_times)) if epoch_times else float("nan"),
            "train_s_total": train_s}


def analyse_sim(sim: dict[str, Any], real: dict[str, Any], sc: Scale) -> dict[str, Any]:
    runs = sim.pop("runs")
    table, stats = _with_curves(runs, sc)
    real_stats = real["stats"]
    final = {k: float(np.mean(v["final"])) for k, v in stats.items()}
    area = {k: float(np.mean(v["area"])) for k, v in stats.items()}
    r_final = {k: float(np.mean(v["final"])) for k, v in real_stats.items()}
    r_area = {k: float(np.mean(v["area"])) for k, v in real_stats.items()}
    return {**sim, "table": table, "stats": stats,
            "rank_real": _letters(ranking(r_final, "max")), "rank_sim": _letters(ranking(final, "max")),
            "rank_real_area": _letters(ranking(r_area, "max")),
            "rank_sim_area": _letters(ranking(area, "max")),
            "tau_final": kendall_tau(r_final, final), "tau_area": kendall_tau(r_area, area),
            "ratio": ratio_to_baseline(stats, runs, sc.budget, "max"),
            "experiments": {k: [str(p) for p in v] for k, v in runs.items()}}


def per_seed_text(ratio: dict[str, Any]) -> str:
    """Epochs (d) needed per seed, with the ratio to the budget: "25 (0.31), not reached, ..."."""
    return ", ".join("not reached" if p["d_epochs"] is None else f"{p['d_epochs']} ({p['ratio']:.2f})"
                     for p in ratio["per_seed"])


def _short(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _ratio(r: float) -> str:
    return "not reached" if not np.isfinite(r) else f"{r:.2f}"


def _tau(tau: float) -> str:
    return "undefined: all tied" if np.isnan(tau) else f"{tau:.2f}"


def _letters(text: str) -> str:
    for label, letter in LETTERS.items():
        text = text.replace(label, letter)
    return text


def _lettered(table: str) -> str:
    for label, letter in LETTERS.items():
        table = table.replace(f"| {label} |", f"| ({letter}) {label} |")
    return table


def calibrate_epoch(space_path: Path, overrides: dict[str, Any], configs: int = 3) -> float:
    """CPU seconds of one training epoch (the second: warm) at ``overrides``' data size, with one
    thread, averaged over a few random configurations of the space: CPU time, unlike wall time,
    hardly depends on what else the machine is running."""
    from raysearch.search.space import load_space, trial_config
    from raysearch.train import train

    space = load_space(space_path)
    base = config_from_dict(merge_dotted(Config().to_dict(), {**space.fixed, **overrides}, "bench"))
    data = load_faces(base.data)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    costs = []
    marks: list[float] = []
    for _ in range(configs):
        trial = study.ask()
        space.define_by_run()(trial)
        cfg = trial_config(base, trial.params).with_overrides(
            {"train.epochs": 2, "train.num_threads": 1})
        marks.clear()
        with tempfile.TemporaryDirectory() as d:
            train(cfg, Path(d), data=data, report=lambda _m, _c: marks.append(time.process_time()))
        costs.append(marks[1] - marks[0])
    return float(np.mean(costs))


def estimate_full(r: dict[str, Any], quick: Scale, full: Scale, cpu_epoch: float) -> str:
    """The full run's duration on a quiet 2-core machine, from CPU costs and this run's overheads."""
    searches_q, searches_f = 4 * quick.seeds, 4 * full.seeds
    trials_q = sum(sum(v) for v in r["real"]["trials_per_search"].values())
    train_q = r["timing"]["train_s_total"] / quick.max_concurrent  # wall spent training, 2 at once
    per_trial = max(0.0, r["timing"]["real_s"] - train_q) / trials_q  # start-up, checkpoints, Tune
    trials_f = searches_f * full.trials * (trials_q / searches_q) / quick.trials
    search_s = (searches_f * full.budget * cpu_epoch + trials_f * per_trial) / full.max_concurrent
    # presets: this run's wall per run, less ~5 s of start-up, scaled to the full data and epochs
    grow = len(parse_id_ranges(full.train_ids, "ids")) / len(parse_id_ranges(quick.train_ids, "ids")) \
        * full.epochs / quick.epochs
    preset_s = 0.0
    for name, row in (r.get("presets") or {"rows": {}})["rows"].items():
        copies = full.seeds if name.startswith("search winner") else full.preset_seeds
        for x in row["runs"]:
            if x["wall_s"] is not None:
                preset_s += copies / len(row["runs"]) * (5 + max(0.0, x["wall_s"] - 5) * grow)
    preset_s /= full.max_concurrent
    # simulation: measured per search, plus the longer budget's replayed epochs (2 at a time)
    sim_s = 4 * full.sim_seeds * (float(np.median(r["sim"]["seconds_per_search"])) + (
        full.budget - quick.budget) * quick.seconds_per_epoch / quick.max_concurrent) \
        if r.get("sim") else 0.0
    return (f"full-scale estimate: a training epoch at {len(parse_id_ranges(full.train_ids, 'ids'))} "
            f"faces costs {cpu_epoch:.1f} CPU s (1 thread, mean of 3 random configurations); "
            f"{searches_f * full.budget} search epochs + ~{trials_f:.0f} trials at {per_trial:.1f} s "
            f"overhead each (measured here, under load) -> {search_s / 60:.0f} min; preset and "
            f"winner runs (from this run's, scaled) -> {preset_s / 60:.0f} min; simulation "
            f"{sim_s / 60:.0f} min; total about "
            f"{(search_s + preset_s + sim_s) / 60:.0f} min on a quiet 2-core machine "
            f"(this run's load average was {r['timing']['load_mean']:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny scale: checks the whole pipeline")
    ap.add_argument("--celeba", type=Path, default=SHARED / "celeba")
    ap.add_argument("--masks", type=Path, default=SHARED / "masks")
    ap.add_argument("--space", type=Path, default=REPO / "search_spaces" / "quickstart.yaml")
    ap.add_argument("--presets", type=Path, default=REPO / "search_spaces",
                    help="folder of search spaces; those with fixed model.generator are presets")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="experiments (default: results/bench-strategies[-quick])")
    ap.add_argument("--out", type=Path, default=None,
                    help="json + png (default: bench/results, or the workdir with --quick)")
    ap.add_argument("--fresh", action="store_true", help="delete the workdir first")
    for key in ("seeds", "sim_seeds", "preset_seeds", "trials", "epochs"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=None,
                        help=f"override the scale's {key}")
    ap.add_argument("--strategies", default="abcd",
                    help="which of (a)-(d) to run, e.g. ad (a and d are needed for the ratio)")
    ap.add_argument("--skip-presets", action="store_true")
    ap.add_argument("--skip-sim", action="store_true")
    args = ap.parse_args()
    if not set(args.strategies) <= set("abcd") or not {"a", "d"} <= set(args.strategies):
        raise SystemExit(f"--strategies: letters from abcd including a and d, got {args.strategies!r}")
    if args.strategies != "abcd" and not args.skip_sim:
        raise SystemExit("--strategies with fewer than all four needs --skip-sim (the simulator "
                         "ranks all four)")
    for what, path in (("CelebA faces", args.celeba / "000001.jpg"), ("NVIDIA masks", args.masks)):
        if not path.exists():
            raise SystemExit(f"{what} not found at {path} (../shared/data beside the checkout)")
    sc = SCALES["quick" if args.quick else "full"]
    sc = dataclasses.replace(sc, **{k: v for k in ("seeds", "sim_seeds", "preset_seeds", "trials",
                                                   "epochs") if (v := getattr(args, k)) is not None})
    workdir = (args.workdir or REPO / "results" / f"bench-strategies{'-quick' if args.quick else ''}")
    out = args.out or (workdir if args.quick else REPO / "bench" / "results")
    if args.fresh and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    loads: list[float] = []
    # quiet consoles: Tune's progress boxes and Optuna's "study created" line, once per search
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start_ray(num_cpus=2)
    say(f"scale {'quick' if args.quick else 'full'}: {asdict(sc)}")

    # 1. real searches
    base = SearchSpec(name="bench", space_path=str(args.space), results=str(workdir / "real"),
                      data=str(args.celeba), max_epochs=sc.epochs, max_concurrent=sc.max_concurrent,
                      cpus_per_worker=1.0, startup_trials=sc.startup_trials, keep_checkpoints=1,
                      overrides=data_overrides(sc, args.celeba, args.masks, sc.val_ids))
    real_runs = RealRuns(workdir / "real", None if args.quick else out / "searches")
    chosen = [st for st in STRATEGIES if LETTERS[st.label] in args.strategies]
    runs = compare_strategies(real_runs, base, chosen, range(sc.seeds), sc.trials)
    real_s = real_runs.wall_s
    loads.append(os.getloadavg()[1])
    real = analyse_real(runs, sc)

    # 2. presets against the winners of (d)
    t0 = time.perf_counter()
    presets = None
    if not args.skip_presets:
        overrides = {**data_overrides(sc, args.celeba, args.masks, sc.test_ids),
                     "train.epochs": sc.epochs, "train.num_threads": 1}
        presets = presets_vs_winners(sc, overrides, runs[DEFAULT_LABEL], args.presets)
    presets_s = time.perf_counter() - t0
    loads.append(os.getloadavg()[1])

    # 3. simulation
    t0 = time.perf_counter()
    sim = None if args.skip_sim else analyse_sim(simulated(sc, runs, workdir / "sim"), real, sc)
    sim_s = time.perf_counter() - t0
    loads.append(os.getloadavg()[1])

    result = {
        "quick": args.quick, "date": time.strftime("%Y-%m-%d"), "scale": asdict(sc),
        "machine": f"{os.cpu_count()}-core CPU", "space": str(args.space.relative_to(REPO))
        if args.space.is_relative_to(REPO) else str(args.space),
        "real": real, "presets": presets, "sim": sim, "wall_s": real_s + presets_s + sim_s,
        "invocation_s": time.perf_counter() - t_start,
        "timing": {"real_s": real_s, "presets_s": presets_s, "sim_s": sim_s,
                   "epoch_s_mean": real["epoch_s_mean"], "load_mean": float(np.mean(loads)),
                   "presets_n": len(preset_files(args.presets)),
                   "train_s_total": real["train_s_total"]},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "strategies.json").write_text(json.dumps(result, indent=1, default=str))
    figure = out / "strategies.png"
    plot(real["stats"], sim["stats"] if sim else None, sc.budget, figure)
    rel = figure.relative_to(REPO) if figure.is_relative_to(REPO) else figure
    print("\n" + markdown(result, str(rel)) + "\n")
    if args.quick:
        full = SCALES["full"]
        cpu_epoch = calibrate_epoch(args.space, {**data_overrides(full, args.celeba, args.masks,
                                                                  full.val_ids)})
        say(estimate_full(result, sc, full, cpu_epoch))
    say(f"wrote {out / 'strategies.json'} and {figure}")


if __name__ == "__main__":
    main()
