"""Comparing search strategies on one epoch budget, and summarising their anytime curves.

Every strategy gets the epochs of ``trials`` full-length trials. A strategy without early stopping
runs exactly ``trials`` trials; one with ASHA runs as many as that budget allows (each trial
trains at least one epoch, so ``budget`` trials can never be too few).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from raysearch.errors import UserError
from raysearch.search.anytime import CurveStats, anytime_curve, epochs_to_reach, stack_curves
from raysearch.search.records import read_trials
from raysearch.search.runner import SearchSpec
from raysearch.search.strategy import Strategy


def strategy_spec(base: SearchSpec, strategy: Strategy, seed: int, trials: int,
                  name: str | None = None) -> SearchSpec:
    """``base`` with this strategy and seed, on the budget of ``trials`` full trials."""
    if base.max_epochs is None:
        raise UserError("comparing strategies needs the epochs per trial (max_epochs)")
    if trials < 1:
        raise UserError(f"trials must be at least 1, got {trials}")
    budget = trials * base.max_epochs
    return dataclasses.replace(
        base, name=name or f"{strategy.sampler}-{strategy.scheduler}-s{seed}",
        sampler=strategy.sampler, scheduler=strategy.scheduler, seed=seed,
        num_samples=trials if strategy.scheduler == "none" else budget, epoch_budget=budget,
        overrides=dict(base.overrides))


def strategy_curves(experiments: list[Path], metric: str, mode: str, budget: int) -> CurveStats:
    """The anytime curves of one strategy's experiments (one per seed), padded to the budget."""
    return stack_curves([anytime_curve(read_trials(p), metric, mode) for p in experiments], budget)


def summarise(stats: CurveStats, mode: str, target: float | None = None) -> dict[str, Any]:
    """Mean, spread and per-seed values of one strategy; epochs to reach ``target`` per seed."""
    budget = stats.curves.shape[1]
    out: dict[str, Any] = {
        "seeds": len(stats.curves),
        "final": stats.final.tolist(),
        "final_mean": float(stats.final.mean()),
        "final_sd": float(stats.final.std(ddof=1)) if len(stats.curves) > 1 else 0.0,
        "at_third": stats.at(max(1, budget // 3)).tolist(),
        "at_half": stats.at(max(1, budget // 2)).tolist(),
        "area": stats.area().tolist(),
        "mean_curve": stats.mean.tolist(),
        "sd_curve": stats.sd.tolist(),
    }
    if target is not None:
        out["target"] = target
        out["epochs_to_target"] = [epochs_to_reach(c, target, mode) for c in stats.curves]
        out["mean_curve_epochs_to_target"] = epochs_to_reach(stats.mean, target, mode)
    return out


# the four strategies of the comparison, in the order a table lists them
STRATEGIES = (Strategy("random", "none"), Strategy("tpe", "none"), Strategy("random", "asha"),
              Strategy("tpe", "asha"))


def compare_strategies(run_one: Callable[[SearchSpec], Path], base: SearchSpec,
                       strategies: Sequence[Strategy], seeds: Sequence[int], trials: int,
                       prefix: str = "") -> dict[str, list[Path]]:
    """Run every strategy once per seed on the same budget; experiment folders by strategy label."""
    out: dict[str, list[Path]] = {s.label: [] for s in strategies}
    for seed in seeds:
        for s in strategies:
            name = f"{prefix}{s.sampler}-{s.scheduler}-s{seed}"
            out[s.label].append(run_one(strategy_spec(base, s, seed, trials, name)))
    return out


def comparison_table(runs: dict[str, list[Path]], metric: str, mode: str, budget: int
                     ) -> tuple[str, dict[str, dict[str, Any]]]:
    """A Markdown table of each strategy's anytime results, and the numbers behind it."""
    stats = {label: summarise(strategy_curves(paths, metric, mode, budget), mode)
             for label, paths in runs.items()}
    lines = [f"| strategy | seeds | best {metric} at {budget} epochs | at {max(1, budget // 3)} epochs | "
             "mean best-so-far over the budget |", "|---|---|---|---|---|"]
    for label, s in stats.items():
        lines.append(f"| {label} | {s['seeds']} | {_mean_sd(s['final'])} | "
                     f"{_mean_sd(s['at_third'])} | {_mean_sd(s['area'])} |")
    return "\n".join(lines), stats


def _mean_sd(values: list[float]) -> str:
    a = np.asarray(values, dtype=float)
    sd = float(np.std(a, ddof=1)) if len(a) > 1 else 0.0
    return f"{np.mean(a):.3f} ± {sd:.3f}"
