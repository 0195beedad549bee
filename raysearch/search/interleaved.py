"""A model-based sampler that draws every k-th proposal at random (``--sampler tpe-interleaved``).

TPE fits its "good" density to the best tenth of the trials, which in a search of 20-30 trials
is one to three of them: after a lucky start-up trial it can keep proposing one categorical choice
for the whole search (issue 20's seed 4 never left 16 channels). SMAC interleaves random
configurations for this reason, and BOHB draws a third of its proposals at random. Here trial
``number % every == every - 1`` is proposed by a seeded ``RandomSampler``, every other by the
model, which is told every trial either way; a random proposal that does well enters the model's
good set and moves the search.
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.study import Study
from optuna.trial import FrozenTrial

from raysearch.search.delegating import DelegatingSampler


class InterleavedRandomSampler(DelegatingSampler):
    """``model`` proposes, except every ``every``-th trial, which is drawn at random."""

    def __init__(self, model: BaseSampler, every: int, seed: int | None = None) -> None:
        if every < 2:
            raise ValueError(f"every must be at least 2, got {every}")
        super().__init__(model)
        self._every = every
        self._random = RandomSampler(seed=seed)

    def _at_random(self, trial: FrozenTrial) -> bool:
        return trial.number % self._every == self._every - 1

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        if self._at_random(trial):
            return {}
        return self._model.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        if self._at_random(trial):
            return {}
        return self._model.sample_relative(study, trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        sampler = self._random if self._at_random(trial) else self._model
        return sampler.sample_independent(study, trial, param_name, param_distribution)

    def reseed_rng(self) -> None:
        super().reseed_rng()
        self._random.reseed_rng()

