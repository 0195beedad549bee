"""ASHA whose rung records survive a driver restart.

``Tuner.restore`` brings back the scheduler as it was pickled when the search was submitted, with
empty rungs (ray-project/ray issue 30838): after a resume every trial would be judged against the
trials of the resumed run only. This scheduler records every change of its rungs as it happens
(one line of ``asha.journal``, compacted into ``asha.json`` once it outgrows it) and reads them
back before its first decision in a new driver. It also remembers which
trials completed, so a trial that ended after Tune's last state snapshot is not run again.

With several brackets (asynchronous Hyperband, ``brackets > 1``) each trial's bracket is kept as
well: a trial resumed in a new driver goes back to the bracket whose rungs hold its scores. A new
trial's bracket is drawn as Ray draws it (brackets with more rungs more often), from a generator
seeded by the search's seed and the trial's place in the order of arrival, not from numpy's
global state, so that a seeded search places its trials alike.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from raysearch.search.records import journal_lines
from raysearch.search.store import ASHA_FILE, ASHA_JOURNAL, COMPACT_BYTES, RecordStore


def read_asha_state(store: RecordStore) -> dict[str, Any] | None:
    """What the scheduler has recorded, as ``asha.json`` holds it after a compaction: the file
    with the journal's changes applied (None before the first trial)."""
    state = store.read_json(ASHA_FILE)
    lines = journal_lines(store.folder / ASHA_JOURNAL)
    if state is None and not lines:
        return None
    state = state or {"brackets": [], "completed": [], "bracket_of": {}}
    completed = set(state.get("completed", []))
    for line in lines:
        if "rung" in line:
            b, milestone, tid, value = line["rung"]
            while len(state["brackets"]) <= b:
                state["brackets"].append([])
            rungs = state["brackets"][b]
            rung = next((r for r in rungs if float(r["milestone"]) == float(milestone)), None)
            if rung is None:
                rung = {"milestone": milestone, "recorded": {}}
                rungs.append(rung)
            rung["recorded"][tid] = value
        elif "bracket_of" in line:
            tid, index = line["bracket_of"]
            state.setdefault("bracket_of", {})[tid] = index
        elif "completed" in line:
            completed.add(line["completed"])
    state["completed"] = sorted(completed)
    return state


class PersistentASHA(ASHAScheduler):
    """``ASHAScheduler`` + its rungs and completed trials kept in the experiment's records."""

    def __init__(self, store: RecordStore, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.seed = seed
        self._completed: set[str] = set()
        self._bracket_of: dict[str, int] = {}  # trial id -> index in self._brackets
        self._logged: dict[tuple[int, float, str], float] = {}  # what the files hold of the rungs
        self._file_bytes = self._journal_bytes = 0
        self._loaded = False
        self._unchecked = False  # trials completed before this driver, not yet looked for

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_loaded"] = False  # an unpickled copy (a restored Tuner) must read the file first
        return state

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        self._file_bytes = self.store.size(ASHA_FILE)
        self._journal_bytes = self.store.size(ASHA_JOURNAL)
        state = read_asha_state(self.store)
        self._unchecked = bool(state and state.get("completed"))  # choose_trial_to_run looks once
        if not state:
            return
        for b, (bracket, saved) in enumerate(zip(self._brackets, state["brackets"], strict=False)):
            by_milestone = {float(r["milestone"]): r["recorded"] for r in saved}
            for milestone, recorded in bracket._rungs:
                recorded.update(by_milestone.get(float(milestone), {}))
                self._logged.update({(b, float(milestone), tid): v for tid, v in recorded.items()})
        self._completed = set(state.get("completed", []))
        self._bracket_of = {k: int(v) for k, v in state.get("bracket_of", {}).items()
                            if 0 <= int(v) < len(self._brackets)}

    def _state(self) -> dict[str, Any]:
        return {
            # scores are signed so that higher is better (ASHA's own convention)
            "metric": self._metric, "mode": self._mode, "time_attr": self._time_attr,
            "brackets": [[{"milestone": m, "recorded": dict(r)} for m, r in b._rungs]
                         for b in self._brackets],
            "completed": sorted(self._completed),
            "bracket_of": dict(sorted(self._bracket_of.items())),
        }

    def _journal(self, trial_id: str, *extra: dict[str, Any]) -> None:
        """Append what changed for this trial (its scores in its bracket's rungs, ``extra``) to
        asha.journal; compact it into asha.json once it has outgrown the file."""
        lines = list(extra)
        b = self._bracket_of.get(trial_id)
        if b is not None:
            for milestone, recorded in self._brackets[b]._rungs:
                key = (b, float(milestone), trial_id)
                if trial_id in recorded and self._logged.get(key) != recorded[trial_id]:
                    self._logged[key] = recorded[trial_id]
                    lines.append({"rung": [b, milestone, trial_id, recorded[trial_id]]})
        if not lines:
            return
        self._journal_bytes += self.store.append_text(
            ASHA_JOURNAL, "".join(json.dumps(line) + "\n" for line in lines))
        if self._journal_bytes > max(self._file_bytes, COMPACT_BYTES):
            self.store.write_json(ASHA_FILE, self._state())
            self.store.remove(ASHA_JOURNAL)
            self._file_bytes, self._journal_bytes = self.store.size(ASHA_FILE), 0

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
        if len(self._brackets) == 1:  # plain ASHA: nothing to draw
            return 0
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
            self._journal(trial.trial_id, {"bracket_of": [trial.trial_id, index]})
        self._trial_info[trial.trial_id] = self._brackets[index]

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        self._load()
        if result.get("diverged"):  # its metric is NaN: nothing to rank, and the trial is over
            return TrialScheduler.STOP
        action = super().on_trial_result(tune_controller, trial, result)
        self._journal(trial.trial_id)
        return action

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        self._load()
        if result.get("diverged") or trial.trial_id not in self._trial_info:
            self._trial_info.pop(trial.trial_id, None)
        else:
            super().on_trial_complete(tune_controller, trial, result)
        self._completed.add(trial.trial_id)
        self._journal(trial.trial_id, {"completed": trial.trial_id})

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        self._trial_info.pop(trial.trial_id, None)

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        self._load()
        if self._unchecked:
            # completed after Tune's last snapshot, so restored as unfinished: do not pay again.
            # Tune restores every trial before its first step, and a trial that completes in
            # this driver never turns pending again: one look, not one per step (issue 20)
            self._unchecked = False
            for trial in list(tune_controller.get_trials()):
                if trial.status == Trial.PENDING and trial.trial_id in self._completed:
                    tune_controller.stop_trial(trial)
        return super().choose_trial_to_run(tune_controller)
