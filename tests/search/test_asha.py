"""ASHA's rungs survive a driver restart (ray-project/ray issue 30838), without a Ray cluster."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path

from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from raysearch.search.asha import PersistentASHA
from raysearch.search.store import RecordStore


@dataclass(eq=False)
class _Trial:
    """What the scheduler reads of a Tune trial."""

    trial_id: str
    status: str = "PENDING"


@dataclass
class _Controller:
    """What the scheduler may call on Tune's controller (its whitelisted methods)."""

    trials: list[_Trial] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)

    def get_trials(self) -> list[_Trial]:
        return self.trials

    def stop_trial(self, trial: _Trial) -> None:
        self.stopped.append(trial.trial_id)
        trial.status = "TERMINATED"


def _asha(folder: Path) -> PersistentASHA:
    return PersistentASHA(RecordStore(str(folder)), time_attr="training_iteration",
                          metric="val_psnr", mode="max", max_t=4, grace_period=1,
                          reduction_factor=2)


def _epoch(s: ASHAScheduler, trial: _Trial, epoch: int, psnr: float) -> str:
    return s.on_trial_result(None, trial, {"training_iteration": epoch, "val_psnr": psnr})


def test_a_restored_scheduler_judges_new_trials_against_the_old_rungs(tmp_path: Path) -> None:
    before = _asha(tmp_path)
    submitted = pickle.dumps(before)  # what Tuner.restore brings back: the scheduler at submit
    for i, psnr in enumerate([20.0, 22.0, 24.0]):
        t = _Trial(f"old{i}")
        before.on_trial_add(None, t)
        assert _epoch(before, t, 1, psnr) == TrialScheduler.CONTINUE

    after = pickle.loads(submitted)
    weak = _Trial("weak")
    after.on_trial_add(None, weak)
    assert after.rungs() == before.rungs()
    # 19 is below the rung's median of the old trials: stopped; a fresh ASHA would let it run
    assert _epoch(after, weak, 1, 19.0) == TrialScheduler.STOP
    fresh = ASHAScheduler(metric="val_psnr", mode="max", max_t=4, grace_period=1, reduction_factor=2)
    fresh.on_trial_add(None, weak)
    assert _epoch(fresh, weak, 1, 19.0) == TrialScheduler.CONTINUE


def test_a_trial_that_completed_after_tunes_snapshot_is_not_run_again(tmp_path: Path) -> None:
    before = _asha(tmp_path)
    done = _Trial("done", "RUNNING")
    before.on_trial_add(None, done)
    _epoch(before, done, 4, 25.0)
    before.on_trial_complete(None, done, {"training_iteration": 4, "val_psnr": 25.0})

    after = _asha(tmp_path)  # Tune's snapshot still had "done" running: it comes back pending
    tune = _Controller([_Trial("done"), _Trial("other")])
    for t in tune.trials:
        after.on_trial_add(tune, t)
    chosen = after.choose_trial_to_run(tune)
    assert tune.stopped == ["done"] and chosen is not None and chosen.trial_id == "other"


def test_a_diverged_result_stops_its_trial_and_is_not_ranked(tmp_path: Path) -> None:
    s = _asha(tmp_path)
    t = _Trial("nan")
    s.on_trial_add(None, t)
    assert s.on_trial_result(None, t, {"training_iteration": 1, "val_psnr": float("nan"),
                                       "diverged": True}) == TrialScheduler.STOP
    s.on_trial_complete(None, t, {"training_iteration": 1, "val_psnr": float("nan"), "diverged": True})
    assert all(not recorded for bracket in s.rungs() for _, recorded in bracket)
