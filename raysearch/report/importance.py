"""Hyperparameter importance (fANOVA) from an in-memory Optuna study rebuilt from trials.json.

Each trial that ran all its epochs becomes a COMPLETE Optuna trial whose value is its best value of
the objective, with the distributions of the search-space file. Trials stopped early (ASHA, an
epoch budget) are left out: their few-epoch scores are not comparable with full-length ones.
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
from raysearch.search.records import TrialRecord

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


def study_from_trials(space: dict[str, dict[str, Any]], trials: list[TrialRecord],
                      objective: Objective) -> optuna.Study:
    """An in-memory study holding every ended trial whose parameters fit the space."""
    dists = {name: distribution(p) for name, p in space.items()}
    with _quiet():
        study = optuna.create_study(direction="maximize" if objective.mode == "max" else "minimize")
        for t in trials:
            score = t.value(objective.metric)
            if not full_length(t) or score is None:
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


def full_length(t: TrialRecord) -> bool:
    return t.finished_normally and not t.stopped_early and not t.stopped_by_budget


def param_importances(space: dict[str, dict[str, Any]], trials: list[TrialRecord],
                      objective: Objective) -> tuple[dict[str, float], str]:
    """fANOVA importances (summing to 1) and a note; empty with the reason when it cannot run."""
    study = study_from_trials(space, trials, objective)
    n = len(study.trials)
    early = sum(t.finished_normally and not full_length(t) for t in trials)
    why_not = f"; {early} trials stopped early are left out" if early else ""
    if n < MIN_TRIALS:
        return {}, (f"needs at least {MIN_TRIALS} trials that ran all their epochs with "
                    f"{objective.metric}; {n} so far{why_not}")
    with _quiet():
        found = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    if not found:
        return {}, "no parameter was present in every ended trial: nothing to weigh"
    left_out = sorted(set(space) - set(found))
    note = (f"fANOVA on the {n} trials that ran all their epochs, value = each trial's best "
            f"{objective.metric}{why_not}")
    if left_out:
        note += f"; conditional parameters left out: {', '.join(left_out)}"
    return found, note
