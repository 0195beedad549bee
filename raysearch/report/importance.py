"""Hyperparameter importance (fANOVA) from an in-memory Optuna study rebuilt from trials.json.

Trials are compared at one fidelity: the latest epoch that at least three ended trials reached.
Each of those becomes a COMPLETE Optuna trial valued by its best objective up to that epoch, with
the distributions of the search-space file; trials stopped before it (ASHA) are left out, since a
1-epoch score is not comparable with a 4-epoch one.
fANOVA only weighs parameters that every such trial has, so a conditional parameter (``when:``) is
left out unless it was always active.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.importance import FanovaImportanceEvaluator, get_param_importances

from raysearch.search.objectives import Objective
from raysearch.search.records import TrialRecord, finite

MIN_TRIALS = 3  # fANOVA fits a forest on the trials: fewer than this says nothing


def distribution(p: dict[str, Any]) -> BaseDistribution:
    """The Optuna distribution of one search-space parameter definition."""
    if p["type"] == "categorical":
        return CategoricalDistribution(list(p["choices"]))
    log = bool(p.get("log", False))
    if p["type"] == "int":
        return IntDistribution(int(p["low"]), int(p["high"]), log=log, step=int(p.get("step") or 1))
    step = p.get("step")
    return FloatDistribution(float(p["low"]), float(p["high"]), log=log,
                             step=float(step) if step is not None else None)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Optuna's INFO lines and experimental-feature warnings are noise in a report."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)


def best_up_to(t: TrialRecord, objective: Objective, epoch: int) -> float | None:
    """The trial's best value of the objective over its first ``epoch`` epochs."""
    values = [float(h[objective.metric]) for h in t.history
              if h["epoch"] <= epoch and finite(h.get(objective.metric))]
    if not values:
        return None
    return max(values) if objective.mode == "max" else min(values)


def common_epoch(trials: list[TrialRecord], objective: Objective, at_least: int = MIN_TRIALS
                 ) -> int | None:
    """The latest epoch that ``at_least`` ended trials reached: there, every one of them has been
    measured at the same fidelity (an ASHA-stopped trial's 1-epoch score is not a final one)."""
    ended = [t for t in trials if t.finished_normally]
    for epoch in sorted({t.epochs for t in ended}, reverse=True):
        if sum(t.epochs >= epoch and best_up_to(t, objective, epoch) is not None
               for t in ended) >= at_least:
            return epoch
    return None


def study_from_trials(space: dict[str, dict[str, Any]], trials: list[TrialRecord],
                      objective: Objective, epoch: int) -> optuna.Study:
    """An in-memory study of the ended trials that reached ``epoch``, each valued by its best
    objective up to that epoch, whose parameters fit the space."""
    dists = {name: distribution(p) for name, p in space.items()}
    with _quiet():
        study = optuna.create_study(direction="maximize" if objective.mode == "max" else "minimize")
        for t in trials:
            score = best_up_to(t, objective, epoch) if t.finished_normally and t.epochs >= epoch \
                else None
            if score is None:
                continue
            params = {k: v for k, v in t.params.items() if k in dists}
            try:
                frozen = optuna.trial.create_trial(
                    state=optuna.trial.TrialState.COMPLETE, value=score,
                    params=params, distributions={k: dists[k] for k in params})
            except ValueError:  # a value outside the space (the file changed): leave it out
                continue
            study.add_trial(frozen)
    return study


def param_importances(space: dict[str, dict[str, Any]], trials: list[TrialRecord],
                      objective: Objective) -> tuple[dict[str, float], str]:
    """fANOVA importances (summing to 1) and a note that says which trials, at which epoch."""
    epoch = common_epoch(trials, objective)
    ended = sum(t.finished_normally for t in trials)
    if epoch is None:
        return {}, (f"needs at least {MIN_TRIALS} ended trials with {objective.metric}; "
                    f"{ended} so far")
    study = study_from_trials(space, trials, objective, epoch)
    n = len(study.trials)
    if n < MIN_TRIALS:
        return {}, f"needs at least {MIN_TRIALS} ended trials inside the space; {n} so far"
    with _quiet():
        found = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    if not found:
        return {}, "no parameter was present in every ended trial: nothing to weigh"
    left_out = sorted(set(space) - set(found))
    note = (f"fANOVA on {n} ended trials at epoch {epoch} (the latest epoch that at least "
            f"{MIN_TRIALS} reached; value = each trial's best {objective.metric} up to it)")
    if ended > n:
        note += f"; {ended - n} ended trials left out (stopped before epoch {epoch}, or outside the space)"
    if left_out:
        note += f"; conditional parameters left out: {', '.join(left_out)}"
    return found, note
