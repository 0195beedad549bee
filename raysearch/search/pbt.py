"""Ray Tune's PBT and PB2 schedulers as ``raysearch refine`` runs them: resumable in synch mode.

``Tuner.restore`` brings back the scheduler as it was pickled when the Tuner was made, without
its state (ray-project/ray 30838). Synchronous PBT then waits for every member to reach its
first perturbation point, which the restored members have passed: once they have all met again
and been paused, none is below the next point, nothing is chosen to run, and the refinement
hangs. When nothing runs and nothing can be chosen, the next point moves to one interval past
the members that wait.
"""

from __future__ import annotations

from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import PopulationBasedTraining
from ray.tune.schedulers.pb2 import PB2


class _SynchAfterRestore:
    """``choose_trial_to_run`` that cannot deadlock a synchronous population after a restore."""

    _synch: bool
    _trial_state: dict[Trial, Any]
    _next_perturbation_sync: float
    _perturbation_interval: float

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        trial: Trial | None = super().choose_trial_to_run(tune_controller)  # type: ignore[misc]
        if trial is not None or not self._synch:
            return trial
        trials = tune_controller.get_trials()
        waiting = [t for t in trials if t.status in (Trial.PENDING, Trial.PAUSED)]
        if not waiting or any(t.status == Trial.RUNNING for t in trials):
            return None  # the others wait for a running member: as PBT means them to
        self._next_perturbation_sync = (min(self._trial_state[t].last_train_time for t in waiting)
                                        + self._perturbation_interval)
        chosen: Trial | None = super().choose_trial_to_run(tune_controller)  # type: ignore[misc]
        return chosen


class RefinePBT(_SynchAfterRestore, PopulationBasedTraining):
    """Ray Tune's ``PopulationBasedTraining``, resumable in synch mode."""


class RefinePB2(_SynchAfterRestore, PB2):
    """Ray Tune's ``PB2``, resumable in synch mode."""
