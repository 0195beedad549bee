"""Start-up proposals from a scrambled Sobol sequence instead of at random (``--sampler gp-sobol``).

A model sampler (TPE, GP) proposes at random until ``startup_trials`` trials have finished, then
models them. Four random points can all land in one corner: on the quick-start benchmark all four
of ``gp``'s start-up trials of seed 2 had ``lr_g`` at or below 5e-4, and the GP needed 21 trials
to climb to the best learning rates at the top of the range (issue 20). The points of a scrambled
Sobol sequence are spread evenly in every parameter: its first two are in different halves of each
range, its first four in different quarters. Ax and BoTorch start their Gaussian processes the same
way. ``SobolStart`` hands every call for a trial to Optuna's own ``QMCSampler`` while fewer than
``startup_trials`` trials have finished (the count the model itself uses), and to the model after.
The decision is made once per trial, so a trial that finishes while another is being proposed
cannot split that proposal between the two.

As in ``QMCSampler``, the very first trial is random: nothing tells the sequence the space before
a trial has suggested its parameters. The sequence's position is kept in the study (its system
attributes), so a resumed search goes on with the next point.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.exceptions import ExperimentalWarning
from optuna.samplers import BaseSampler, QMCSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from raysearch.search.delegating import DelegatingSampler


class SobolStart(DelegatingSampler):
    """``model`` after ``startup_trials`` finished trials (of ``counted`` states), Sobol before."""

    def __init__(self, model: BaseSampler, startup_trials: int, seed: int,
                 counted: Sequence[TrialState] = (TrialState.COMPLETE,)) -> None:
        super().__init__(model)
        self._startup = startup_trials
        self._counted = tuple(counted)
        with warnings.catch_warnings():
            # "experimental since Optuna 3.0": a warning at every search its user can do nothing
            # about; the space is fixed (no conditions): no warning per parameter either
            warnings.simplefilter("ignore", ExperimentalWarning)
            self._sobol = QMCSampler(qmc_type="sobol", scramble=True, seed=seed,
                                     warn_independent_sampling=False)
        self._starting: dict[int, bool] = {}  # trial id -> proposed by the sequence

    def _for(self, study: Study, trial: FrozenTrial) -> BaseSampler:
        starting = self._starting.get(trial._trial_id)
        if starting is None:
            finished = study._get_trials(deepcopy=False, states=self._counted, use_cache=False)
            starting = self._starting[trial._trial_id] = len(finished) < self._startup
        return self._sobol if starting else self._model

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        return self._for(study, trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        return self._for(study, trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._for(study, trial).sample_independent(study, trial, param_name,
                                                          param_distribution)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Sequence[float] | None) -> None:
        self._starting.pop(trial._trial_id, None)
        super().after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._sobol.reseed_rng()
        super().reseed_rng()
