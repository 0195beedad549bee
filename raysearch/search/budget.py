"""An epoch budget for a search: a Tune stopper that ends it once its trials have trained enough.

Strategies that stop trials early (ASHA) run more trials on the same budget; the budget makes
their comparison with strategies that train every trial fully a fair one.
"""

from __future__ import annotations

from typing import Any

from ray.tune import Stopper


class EpochBudget(Stopper):
    """Ends the search (running trials included) once its trials have trained ``budget`` epochs."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._seen: set[tuple[str, int]] = set()  # (trial, epoch): a repeated result counts once

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        self._seen.add((trial_id, int(result.get("training_iteration", 0))))
        return False

    def stop_all(self) -> bool:
        return len(self._seen) >= self.budget
