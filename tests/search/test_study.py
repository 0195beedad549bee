"""What Optuna is told about each trial, and what survives a driver restart (no Ray cluster)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from raysearch.search.space import parse_space
from raysearch.search.store import default_storage_url
from raysearch.search.study import (
    END_ATTR,
    TUNE_ID_ATTR,
    StudySearch,
    open_study,
    study_storage,
)

SPACE = parse_space({"parameters": {"optim.lr_g": {"type": "float", "low": 1e-4, "high": 1e-2,
                                                   "log": True}}}, where="test")
EPOCHS = 3


def _searcher(folder: Path, name: str = "s", **kw: object) -> StudySearch:
    return StudySearch(space=SPACE.define_by_run(), metric=kw.pop("metric", "val_psnr"),
                       mode=kw.pop("mode", "max"), seed=0, study_name=name,
                       storage=study_storage(kw.pop("url", None) or default_storage_url(folder)),
                       max_t=EPOCHS, **kw)


def _result(epoch: int, psnr: float, **extra: object) -> dict:
    return {"training_iteration": epoch, "val_psnr": psnr, "generator_params": 1000.0 * epoch,
            **extra}


def _run(s: StudySearch, tid: str, psnrs: list[float], stopped_by_tune: bool = True) -> dict:
    """Report epochs the way Tune does: the result that ends a trial (ASHA's STOP, or max_t)
    is not passed to ``on_trial_result``, only to ``on_trial_complete``."""
    assert s.suggest(tid)
    results = [_result(i + 1, v) for i, v in enumerate(psnrs)]
    for r in results[:-1] if stopped_by_tune else results:
        s.on_trial_result(tid, r)
    return results[-1]


def test_each_ending_is_told_as_what_it_was(tmp_path: Path) -> None:
    s = _searcher(tmp_path)
    s.on_trial_complete("full", _run(s, "full", [20.0, 21.0, 22.0]))
    s.on_trial_complete("asha", _run(s, "asha", [15.0]))
    assert s.suggest("nan")
    s.on_trial_result("nan", _result(1, 19.0))
    s.on_trial_complete("nan", {**_result(2, float("nan")), "diverged": True,
                                "end_reason": "generator loss became nan at epoch 2, step 0"})
    assert s.suggest("dead")
    s.on_trial_result("dead", _result(1, 18.0))
    s.on_trial_complete("dead", _result(1, 18.0), error=True)

    study = optuna.load_study(study_name="s", storage=study_storage(default_storage_url(tmp_path)))
    got = {t.user_attrs[TUNE_ID_ATTR]: t for t in study.trials}
    assert got["full"].state == TrialState.COMPLETE and got["full"].value == 22.0
    assert got["full"].intermediate_values == {1: 20.0, 2: 21.0, 3: 22.0}
    # stopped by ASHA: PRUNED (Ray's OptunaSearch says COMPLETE), its last value kept as intermediate
    assert got["asha"].state == TrialState.PRUNED
    assert got["asha"].intermediate_values == {1: 15.0}
    assert got["asha"].user_attrs[END_ATTR] == "stopped by ASHA after 1 epochs"
    assert got["nan"].state == TrialState.PRUNED and got["nan"].intermediate_values == {1: 19.0}
    assert got["nan"].user_attrs[END_ATTR].startswith("diverged: generator loss became nan")
    assert got["dead"].state == TrialState.FAIL


def test_several_objectives_are_told_together(tmp_path: Path) -> None:
    s = _searcher(tmp_path, metric=["val_psnr", "generator_params"], mode=["max", "min"])
    s.on_trial_complete("a", _run(s, "a", [20.0, 21.0, 22.0]))
    s.on_trial_complete("b", _run(s, "b", [15.0]))
    study = optuna.load_study(study_name="s", storage=study_storage(default_storage_url(tmp_path)))
    a, b = study.trials
    assert a.state == TrialState.COMPLETE and a.values == [22.0, 3000.0]
    assert b.state == TrialState.PRUNED
    assert [t.number for t in study.best_trials] == [0]


def test_restore_keeps_running_trials_and_fails_the_ones_tune_never_saved(tmp_path: Path) -> None:
    s = _searcher(tmp_path)
    s.on_trial_complete("done", _run(s, "done", [20.0, 21.0, 22.0]))
    assert s.suggest("running")
    s.on_trial_result("running", _result(1, 18.0))
    snapshot = tmp_path / "searcher.pkl"
    s.save(str(snapshot))  # what Tune saves in its experiment state
    s.on_trial_result("running", _result(2, 19.0))  # after the snapshot, before the kill
    lost_params = s.suggest("lost")  # asked after the snapshot: Tune will not know this trial

    restored = _searcher(tmp_path)
    restored.restore(str(snapshot))
    study = optuna.load_study(study_name="s", storage=study_storage(default_storage_url(tmp_path)))
    by_number = {t.number: t for t in study.trials}
    assert by_number[2].state == TrialState.FAIL  # the lost one
    assert study.user_attrs["raysearch_lost_trials"] == [2]
    # the running trial goes on in the same study, re-reporting epoch 2 from its checkpoint
    restored.on_trial_result("running", _result(2, 19.5))
    restored.on_trial_complete("running", _result(3, 20.0))
    stored = study_storage(default_storage_url(tmp_path))
    running = optuna.load_study(study_name="s", storage=stored).trials[1]
    assert running.state == TrialState.COMPLETE and running.intermediate_values == {
        1: 18.0, 2: 19.5, 3: 20.0}
    # a finished trial that Tune restarts anyway is left as it was told
    restored.on_trial_complete("done", None)
    assert optuna.load_study(study_name="s", storage=stored).trials[0].value == 22.0
    # and the next suggestion is not the lost trial's configuration again
    assert restored.suggest("next") != lost_params


def test_the_study_is_a_journal_file_in_the_experiment_that_optuna_opens(tmp_path: Path) -> None:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    _searcher(tmp_path, name="exp-1")
    assert default_storage_url(tmp_path) == f"journal:{tmp_path.resolve() / 'optuna.journal'}"
    # what README tells a user to write (optuna-dashboard takes the same file's path)
    storage = JournalStorage(JournalFileBackend(str(tmp_path / "optuna.journal")))
    assert [s.study_name for s in optuna.get_all_study_summaries(storage)] == ["exp-1"]


def test_a_journal_file_holds_the_study_and_survives_a_pickle(tmp_path: Path) -> None:
    """--optuna-storage journal:FILE (for NFS): the same study, Optuna's JournalStorage."""
    import pickle

    url = f"journal:{tmp_path / 'study.log'}"
    s = _searcher(tmp_path, url=url)
    s.on_trial_complete("full", _run(s, "full", [20.0, 21.0, 22.0]))
    s.on_trial_complete("asha", _run(s, "asha", [15.0]))
    again = pickle.loads(pickle.dumps(s.study._storage))  # Tune pickles the searcher
    trials = optuna.load_study(study_name="s", storage=again).trials
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.PRUNED]
    assert open_study(url, "s").trials[0].value == 22.0
    assert not (tmp_path / "optuna.journal").exists()  # not the default file as well


@pytest.mark.slow
def test_sqlite_waits_for_a_busy_database(tmp_path: Path) -> None:
    """A reader such as optuna-dashboard may hold the database: writing waits for it (longer than
    sqlite3's own 5 s) instead of failing with 'database is locked'."""
    import sqlite3
    import threading
    import time

    url = f"sqlite:///{tmp_path / 'optuna.db'}"  # --optuna-storage sqlite:///...
    study_storage(url)  # creates the schema
    held = threading.Event()

    def hold() -> None:
        con = sqlite3.connect(tmp_path / "optuna.db", isolation_level=None)
        con.execute("BEGIN EXCLUSIVE")
        held.set()
        time.sleep(6.5)
        con.execute("COMMIT")
        con.close()

    thread = threading.Thread(target=hold)
    thread.start()
    held.wait()
    t0 = time.perf_counter()
    optuna.create_study(study_name="late", storage=study_storage(url))
    thread.join()
    assert time.perf_counter() - t0 > 5.0


def test_the_driver_s_journal_is_read_by_optuna_s_own_backend(tmp_path: Path) -> None:
    """The experiment's own study is written without Optuna's file lock and fsync (the driver
    is its only writer): what it writes is what Optuna's backend reads, also after a pickle."""
    import pickle

    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from raysearch.search.studies import DriverJournal

    written = study_storage(default_storage_url(tmp_path), single_writer=True)
    assert isinstance(written._backend, DriverJournal)  # type: ignore[attr-defined]
    s = StudySearch(space=SPACE.define_by_run(), metric="val_psnr", mode="max", seed=0,
                    study_name="s", storage=pickle.loads(pickle.dumps(written)), max_t=EPOCHS)
    s.on_trial_complete("full", _run(s, "full", [20.0, 21.0, 22.0]))
    s.on_trial_complete("asha", _run(s, "asha", [15.0]))
    read = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(
        str(tmp_path / "optuna.journal"))))
    assert [(t.state, t.value, t.intermediate_values) for t in read.trials] == [
        (TrialState.COMPLETE, 22.0, {1: 20.0, 2: 21.0, 3: 22.0}), (TrialState.PRUNED, 15.0, {1: 15.0})]


def test_a_study_line_cut_short_by_a_killed_driver_is_dropped_by_the_next_driver(
        tmp_path: Path) -> None:
    """The driver reads back its own writes from memory: it sees what Optuna's backend reads from
    the file; a line cut short by a kill is dropped before the next driver's first line."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    def driver() -> StudySearch:
        return StudySearch(space=SPACE.define_by_run(), metric="val_psnr", mode="max", seed=0,
                           study_name="s", max_t=EPOCHS,
                           storage=study_storage(default_storage_url(tmp_path), single_writer=True))

    def as_optuna_reads() -> list[tuple]:
        read = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(
            str(tmp_path / "optuna.journal"))))
        return [(t.state, t.value, t.params, t.intermediate_values, t.user_attrs) for t in read.trials]

    first = driver()
    first.on_trial_complete("full", _run(first, "full", [20.0, 21.0, 22.0]))
    mine = [(t.state, t.value, t.params, t.intermediate_values, t.user_attrs)
            for t in first.study.trials]
    assert mine == as_optuna_reads()
    line = (tmp_path / "optuna.journal").read_text().splitlines()[-1]
    with (tmp_path / "optuna.journal").open("a") as f:
        f.write(line[:30])  # killed mid-write
    second = driver()
    second.on_trial_complete("asha", _run(second, "asha", [15.0]))
    assert [(s, v) for s, v, *_ in as_optuna_reads()] == [(TrialState.COMPLETE, 22.0),
                                                           (TrialState.PRUNED, 15.0)]
