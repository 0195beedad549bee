"""Hyperparameter importance (fANOVA) from an in-memory Optuna study rebuilt from trials.json.

Each ended trial becomes a COMPLETE Optuna trial whose value is its best value of the objective,
with the distributions of the search-space file. fANOVA only weighs parameters that every such
trial has, so a conditional parameter (``when:``) is left out unless it was always active.
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

from raysearch.report.records import Objective, finished, searched_params, value

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


def study_from_trials(spec: dict[str, Any], trials: list[dict[str, Any]], objective: Objective
                      ) -> optuna.Study:
    """An in-memory study holding every ended trial whose parameters fit the space."""
    dists = {name: distribution(p) for name, p in searched_params(spec).items()}
    with _quiet():
        study = optuna.create_study(direction="maximize" if objective.mode == "max" else "minimize")
        for t in finished(trials, objective.metric):
            params = {k: v for k, v in (t.get("params") or {}).items() if k in dists}
            try:
                frozen = optuna.trial.create_trial(
                    state=optuna.trial.TrialState.COMPLETE, value=value(t, objective.metric),
                    params=params, distributions={k: dists[k] for k in params})
            except ValueError:  # a value outside the space (the file changed): leave it out
                continue
            study.add_trial(frozen)
    return study


def param_importances(spec: dict[str, Any], trials: list[dict[str, Any]], objective: Objective
                      ) -> tuple[dict[str, float], str]:
    """fANOVA importances (summing to 1) and a note; empty with the reason when it cannot run."""
    study = study_from_trials(spec, trials, objective)
    n = len(study.trials)
    if n < MIN_TRIALS:
        return {}, (f"needs at least {MIN_TRIALS} ended trials with "
                    f"{objective.metric}; {n} so far")
    with _quiet():
        found = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    if not found:
        return {}, "no parameter was present in every ended trial: nothing to weigh"
    left_out = sorted(set(searched_params(spec)) - set(found))
    note = f"fANOVA on {n} ended trials, value = each trial's best {objective.metric}"
    if left_out:
        note += f"; conditional parameters left out: {', '.join(left_out)}"
    return found, note
