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


def _hyperband(folder: Path, seed: int = 0) -> PersistentASHA:
    """Asynchronous Hyperband as ``--scheduler hyperband`` builds it at 4 epochs, grace 1, rf 2."""
    from raysearch.search.strategy import make_scheduler

    s = make_scheduler("hyperband", RecordStore(str(folder)), "val_psnr", "max", 4, 1, 2, seed=seed)
    assert isinstance(s, PersistentASHA)
    return s


def test_hyperband_brackets_and_their_trials_survive_a_restart(tmp_path: Path) -> None:
    before = _hyperband(tmp_path)
    assert [[m for m, _ in b] for b in before.rungs()] == [[4, 2, 1], [4, 2], [4]]
    submitted = pickle.dumps(before)  # what Tuner.restore brings back: no rungs, no placements
    trials = [_Trial(f"t{i}") for i in range(30)]
    for t in trials:
        before.on_trial_add(None, t)
    placed = {t.trial_id: before.bracket_of(t.trial_id) for t in trials}
    assert set(placed.values()) == {0, 1, 2}  # 30 draws reach every bracket at this seed
    for i, t in enumerate(trials):  # every trial's epoch 2, the rung of brackets 0 and 1
        _epoch(before, t, 1, 20.0 + i)
        _epoch(before, t, 2, 20.0 + i)

    after = pickle.loads(submitted)
    resumed = [t for t in trials if placed[t.trial_id] == 2][:2] + \
        [t for t in trials if placed[t.trial_id] == 1][:2]
    for t in resumed:  # resumed trials go back to their own brackets, not to a new draw
        after.on_trial_add(None, t)
        assert after.bracket_of(t.trial_id) == placed[t.trial_id]
    assert after.rungs() == before.rungs()
    late = _Trial("late")
    after.on_trial_add(None, late)
    bracket = after.bracket_of("late")
    assert bracket is not None
    # judged against the scores the old trials left in its bracket's rung at epoch 2
    first = [m for m, _ in before.rungs()[bracket]][-1]
    action = _epoch(after, late, int(first), 0.0)
    assert action == (TrialScheduler.CONTINUE if bracket == 2 else TrialScheduler.STOP)


def test_hyperband_places_trials_by_its_seed(tmp_path: Path) -> None:
    def placements(seed: int, folder: str) -> list[int | None]:
        (tmp_path / folder).mkdir()
        s = _hyperband(tmp_path / folder, seed)
        out = []
        for i in range(20):
            s.on_trial_add(None, _Trial(f"x{i}-{folder}"))  # other ids: only the order counts
            out.append(s.bracket_of(f"x{i}-{folder}"))
        return out

    assert placements(5, "a") == placements(5, "b")
    assert placements(5, "a2") != placements(6, "c")
    # Ray's weights e^(rungs - most rungs): bracket 0 (three rungs) gets most of the trials
    spread = placements(7, "d") + placements(8, "e")
    assert spread.count(0) > spread.count(1) > 0 and spread.count(2) < spread.count(0)


def test_a_scheduler_with_its_journal_open_pickles_and_its_copy_goes_on(tmp_path: Path) -> None:
    """The journal stays open between events; a pickled copy (Tune saves the scheduler) opens
    its own and appends after the lines already there."""
    s = _asha(tmp_path)
    first = _Trial("first")
    s.on_trial_add(None, first)
    _epoch(s, first, 1, 20.0)
    copy = pickle.loads(pickle.dumps(s))
    second = _Trial("second")
    copy.on_trial_add(None, second)
    _epoch(copy, second, 1, 22.0)
    assert _asha(tmp_path).rungs()[0][-1][1] == {"first": 20.0, "second": 22.0}
