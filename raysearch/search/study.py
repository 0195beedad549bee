"""The Optuna side of a search: a persistent study that tells Optuna what really happened.

Ray's ``OptunaSearch`` tells Optuna a trial that ASHA stopped as COMPLETE with its low-fidelity
score, which TPE then ranks against full-length trials. Here a trial is told:

- COMPLETE with its final value(s) when it ran all epochs;
- PRUNED when ASHA stopped it (its per-epoch values are already intermediate values, the last
  one included), so TPE ranks it as a pruned trial;
- PRUNED with ``raysearch_end = diverged: ...`` when its loss became NaN or infinite: TPE keeps
  pruned trials in its model (it ignores FAIL ones) and so learns to stay away from a region
  that diverges, instead of proposing its neighbours again;
- FAIL when it errored (after its retries).

The study lives in a database (SQLite in the experiment folder by default), so Optuna's own tools
and optuna-dashboard open it, and a resumed search continues the same study.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

from raysearch.search.records import finite
from raysearch.search.studies import JOURNAL, SQLITE_BUSY_TIMEOUT_S, open_study, study_storage
from raysearch.search.warm import WarmStart

__all__ = ["END_ATTR", "JOURNAL", "SQLITE_BUSY_TIMEOUT_S", "TUNE_ID_ATTR", "StudySearch", "open_study",
           "study_storage"]

log = logging.getLogger(__name__)

END_ATTR = "raysearch_end"  # how the trial ended, in words (a user attribute of the Optuna trial)
TUNE_ID_ATTR = "tune_trial_id"


class StudySearch(OptunaSearch):
    """``OptunaSearch`` with honest trial states, a stored study and a clean resume."""

    def __init__(self, *args: Any, max_t: int, warm: WarmStart | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_t = max_t
        if warm is not None:  # not kept: Tune pickles the searcher, and a new study gets it once
            # (OptunaSearch's points_to_evaluate would enqueue again on every study set-up)
            warm.apply(self.study)
        self._steps: dict[str, set[int]] = {}  # steps already reported, per Tune trial
        self._told: set[str] = set()  # Tune trials the study had finished before a restore

    @property
    def study(self) -> optuna.Study:
        assert self._ot_study is not None, "the study is made when the space is set"
        return self._ot_study

    # -- asking ---------------------------------------------------------------------------------
    def suggest(self, trial_id: str) -> dict | None:
        params = super().suggest(trial_id)
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is not None:
            ot_trial.set_user_attr(TUNE_ID_ATTR, trial_id)
        return params

    # -- telling --------------------------------------------------------------------------------
    def _multi(self) -> bool:
        return isinstance(self.metric, list)

    def _report(self, trial_id: str, result: dict) -> None:
        if self._multi():
            return  # Optuna keeps no intermediate values for several objectives
        value, step = result.get(self.metric), result.get("training_iteration")
        if step is None or not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        steps = self._steps.setdefault(trial_id, set())
        if int(step) not in steps:  # a resumed trial re-reports the epochs after its checkpoint
            self._ot_trials[trial_id].report(float(value), int(step))
            steps.add(int(step))

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        # a trial told before a driver restart stays as it was told
        if trial_id in self._completed_trials or trial_id in self._told or result.get("diverged"):
            return
        self._report(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        self._completed_trials.add(trial_id)
        if trial_id in self._told:
            return
        ot_trial = self._ot_trials[trial_id]
        result = result or {}
        state, values, how = self._outcome(result, error)
        if state is not TrialState.FAIL:
            self._report(trial_id, result)  # the result that made ASHA stop it never came here
        ot_trial.set_user_attr(END_ATTR, how)
        self.study.tell(ot_trial, values, state=state)

    def _outcome(self, result: dict, error: bool) -> tuple[TrialState, Any, str]:
        if error:
            return TrialState.FAIL, None, "error"
        if result.get("diverged"):
            kind = result.get("end_kind", "diverged")
            # a config that cannot train is FAIL (TPE ignores it); a divergence is PRUNED (TPE
            # keeps it in its model and learns to stay away)
            state = TrialState.FAIL if kind == "invalid config" else TrialState.PRUNED
            return state, None, f"{kind}: {result.get('end_reason', '')}".strip()
        metrics = self.metric if self._multi() else [self.metric]
        values = [result.get(m) for m in metrics]
        if not values or not all(finite(v) for v in values):
            return TrialState.PRUNED, None, "ended without a finite result"
        epochs = int(result.get("training_iteration", 0))
        if epochs < self._max_t:
            return TrialState.PRUNED, None, f"stopped by ASHA after {epochs} epochs"
        return TrialState.COMPLETE, values if self._multi() else values[0], "complete"

    # -- resuming -------------------------------------------------------------------------------
    def restore(self, checkpoint_path: str) -> None:
        """Tune's searcher snapshot, then: fresh handles on the running trials, orphans failed."""
        super().restore(checkpoint_path)
        study = self.study
        frozen = {t.number: t for t in study.get_trials(deepcopy=False)}
        known = {t.number for t in self._ot_trials.values()}
        self._told = {tid for tid, t in self._ot_trials.items() if frozen[t.number].state.is_finished()}
        # _steps stays the snapshot's: an epoch re-run from an older checkpoint is reported again
        # and replaces the value, as it does in trials.json (the model descends from the re-run)
        lost = [n for n, t in frozen.items() if t.state == TrialState.RUNNING and n not in known]
        for number in lost:  # asked after Tune's last snapshot: Tune will never run it
            study.tell(number, state=TrialState.FAIL)
        if lost:
            previous = study.user_attrs.get("raysearch_lost_trials", [])
            study.set_user_attr("raysearch_lost_trials", previous + lost)
        # the sampler's random state is the snapshot's: without this, the trials asked after the
        # snapshot (lost with the driver) would be proposed again, configuration for configuration
        study.sampler.reseed_rng()
