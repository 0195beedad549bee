"""Trials that ASHA stopped, shown to a model that only learns from complete ones (``--sampler gp``).

Optuna's ``GPSampler`` fits its Gaussian process to COMPLETE trials and ignores PRUNED ones. Under
ASHA most trials of a search end PRUNED (raysearch tells Optuna what happened, see ``study.py``),
so the model never hears that a region was tried and stopped: on the quick-start benchmark it
proposed one configuration that ASHA had stopped after an epoch 11 times (issue 20). Optuna's
own ``CmaEsSampler(consider_pruned_trials=True)`` answers this by counting a pruned trial at its
last intermediate value, and ``PrunedAsComplete`` does the same for any model: the model sees the
study through a view in which every PRUNED trial with a finite intermediate value is COMPLETE with
that value. A trial stopped at its first rung so counts at its first epoch's score, below what it
would have reached: the penalty ASHA's verdict implies. A pruned trial without one (it diverged
before its first epoch) stays PRUNED, which the model ignores, as before. The study itself, and
every other reader of it (plots, importances, ``raysearch show``), still sees PRUNED.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Container
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from raysearch.search.delegating import DelegatingSampler


def as_complete(trial: FrozenTrial) -> FrozenTrial | None:
    """The pruned ``trial`` as COMPLETE with its last finite intermediate value, or None."""
    steps = [s for s, v in trial.intermediate_values.items() if math.isfinite(v)]
    if not steps:
        return None
    shown = copy.copy(trial)  # the params and distributions are shared, never written
    shown.state = TrialState.COMPLETE
    shown.values = [trial.intermediate_values[max(steps)]]
    return shown


class _StudyView:
    """``study`` for the model: its pruned trials with a score read as complete; all else passes
    through (the model writes its proposals to the real storage)."""

    def __init__(self, study: Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(self, deepcopy: bool = True, states: Container[TrialState] | None = None,
                    use_cache: bool = False) -> list[FrozenTrial]:
        shown = []
        for t in self._study._get_trials(deepcopy=deepcopy, states=None, use_cache=use_cache):
            if t.state == TrialState.PRUNED:
                t = as_complete(t) or t
            if states is None or t.state in states:
                shown.append(t)
        return shown

    def get_trials(self, deepcopy: bool = True,
                   states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        return self._get_trials(deepcopy=deepcopy, states=states)

    @property
    def trials(self) -> list[FrozenTrial]:
        return self.get_trials()


class PrunedAsComplete(DelegatingSampler):
    """``model``, told of the pruned trials at their last intermediate value (one objective)."""

    def _view(self, study: Study) -> Any:
        # several objectives keep no intermediate values (study.py): nothing to show
        return study if len(study.directions) > 1 else _StudyView(study)

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        # the same view every time: the model's intersection search space caches by trial number
        return super().infer_relative_search_space(self._view(study), trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return super().sample_relative(self._view(study), trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return super().sample_independent(self._view(study), trial, param_name,
                                           param_distribution)
