"""ASHA whose rung records survive a driver restart.

``Tuner.restore`` brings back the scheduler as it was pickled when the search was submitted, with
empty rungs (ray-project/ray issue 30838): after a resume every trial would be judged against the
trials of the resumed run only. This scheduler writes its rungs to ``asha.json`` after every
change and reads them back before its first decision in a new driver. It also remembers which
trials completed, so a trial that ended after Tune's last state snapshot is not run again.

With several brackets (asynchronous Hyperband, ``brackets > 1``) each trial's bracket is kept as
well: a trial resumed in a new driver goes back to the bracket whose rungs hold its scores. A new
trial's bracket is drawn as Ray draws it (brackets with more rungs more often), from a generator
seeded by the search's seed and the trial's place in the order of arrival, not from numpy's
global state, so that a seeded search places its trials alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from raysearch.search.store import RecordStore

ASHA_FILE = "asha.json"


class PersistentASHA(ASHAScheduler):
    """``ASHAScheduler`` + its rungs and completed trials kept in the experiment's records."""

    def __init__(self, store: RecordStore, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.seed = seed
        self._completed: set[str] = set()
        self._bracket_of: dict[str, int] = {}  # trial id -> index in self._brackets
        self._loaded = False

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_loaded"] = False  # an unpickled copy (a restored Tuner) must read the file first
        return state

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        state = self.store.read_json(ASHA_FILE)
        if not state:
            return
        for bracket, saved in zip(self._brackets, state["brackets"], strict=False):
            by_milestone = {float(r["milestone"]): r["recorded"] for r in saved}
            for milestone, recorded in bracket._rungs:
                recorded.update(by_milestone.get(float(milestone), {}))
        self._completed = set(state.get("completed", []))
        self._bracket_of = {k: int(v) for k, v in state.get("bracket_of", {}).items()
                            if 0 <= int(v) < len(self._brackets)}

    def _save(self) -> None:
        self.store.write_json(ASHA_FILE, {
            # scores are signed so that higher is better (ASHA's own convention)
            "metric": self._metric, "mode": self._mode, "time_attr": self._time_attr,
            "brackets": [[{"milestone": m, "recorded": dict(r)} for m, r in b._rungs]
                         for b in self._brackets],
            "completed": sorted(self._completed),
            "bracket_of": dict(sorted(self._bracket_of.items())),
        })

    def rungs(self) -> list[list[tuple[float, dict[str, float]]]]:
        """Each bracket's rungs, highest milestone first: (milestone, {trial_id: signed score})."""
        self._load()
        return [[(m, dict(r)) for m, r in b._rungs] for b in self._brackets]

    def bracket_of(self, trial_id: str) -> int | None:
        """The index of the bracket a trial was placed in (None: not added yet)."""
        self._load()
        return self._bracket_of.get(trial_id)

    def _draw_bracket(self) -> int:
        """Ray's rule (a bracket's weight is e^(its rungs - the most rungs)), seeded."""
        sizes = np.array([len(b._rungs) for b in self._brackets], dtype=float)
        weights = np.exp(sizes - sizes.max())
        rng = np.random.default_rng([self.seed, len(self._bracket_of)])
        return int(rng.choice(len(self._brackets), p=weights / weights.sum()))

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        self._load()
        if not self._metric or not self._metric_op:
            super().on_trial_add(tune_controller, trial)  # Ray's error for a missing metric
        index = self._bracket_of.get(trial.trial_id)
        if index is None:
            index = self._bracket_of[trial.trial_id] = self._draw_bracket()
            self._save()
        self._trial_info[trial.trial_id] = self._brackets[index]

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        self._load()
        if result.get("diverged"):  # its metric is NaN: nothing to rank, and the trial is over
            return TrialScheduler.STOP
        action = super().on_trial_result(tune_controller, trial, result)
        self._save()
        return action

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        self._load()
        if result.get("diverged") or trial.trial_id not in self._trial_info:
            self._trial_info.pop(trial.trial_id, None)
        else:
            super().on_trial_complete(tune_controller, trial, result)
        self._completed.add(trial.trial_id)
        self._save()

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        self._trial_info.pop(trial.trial_id, None)

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        self._load()
        for trial in list(tune_controller.get_trials()):
            # completed after Tune's last snapshot, so restored as unfinished: do not pay again
            if trial.status == Trial.PENDING and trial.trial_id in self._completed:
                tune_controller.stop_trial(trial)
        return super().choose_trial_to_run(tune_controller)
