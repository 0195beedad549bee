"""The trial recorder's PBT bookkeeping: a run that reports an epoch again (a driver restart)
replaces what an earlier run said about that epoch and after it, its exploit included."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from raysearch.search.recorder import TrialRecorder
from raysearch.search.records import read_trials


def _result(epoch: int, lr: float, **extra: Any) -> dict[str, Any]:
    return {"training_iteration": epoch, "val_psnr": 20.0 + epoch, "optim_lr_g": lr,
            "config": {"optim.lr_g": lr}, **extra}


def _member(tmp_path: Path) -> tuple[TrialRecorder, SimpleNamespace]:
    rec = TrialRecorder(tmp_path, "val_psnr", "max", max_epochs=4, schedule=("optim.lr_g",))
    donor = SimpleNamespace(trial_id="b", config={"optim.lr_g": 1e-3}, path=str(tmp_path / "b"))
    member = SimpleNamespace(trial_id="a", config={"optim.lr_g": 2e-3}, path=str(tmp_path / "a"))
    rec.on_step_begin(0, [member, donor])
    for epoch in (1, 2):
        rec.on_trial_result(0, [], member, _result(epoch, 2e-3))
    return rec, member


def test_an_exploit_reported_again_after_a_restart_keeps_what_the_later_run_trained_with(
        tmp_path: Path) -> None:
    rec, member = _member(tmp_path)
    took = {"exploited_from": "b", "exploited_from_epoch": 2}
    rec.on_trial_result(0, [], member, _result(3, 3e-3, **took))
    # the driver dies; the resumed run takes the same checkpoint with another learning rate
    rec.on_trial_result(0, [], member, _result(3, 4e-3, **took))
    rec.on_trial_result(0, [], member, _result(4, 4e-3))
    (a,) = [r for r in read_trials(tmp_path) if r.trial_id == "a"]
    assert [h["epoch"] for h in a.history] == [1, 2, 3, 4]
    assert [(e["epoch"], e["from_trial_id"], e["params"]["optim.lr_g"]) for e in a.exploits] \
        == [(3, "b", 4e-3)]
    assert a.history[2]["optim_lr_g"] == a.exploits[0]["params"]["optim.lr_g"]
    assert [s["optim.lr_g"] for s in a.schedule] == [2e-3, 2e-3, 4e-3, 4e-3]


def test_an_epoch_trained_again_without_the_exploit_drops_it(tmp_path: Path) -> None:
    rec, member = _member(tmp_path)
    rec.on_trial_result(0, [], member, _result(3, 3e-3, exploited_from="b", exploited_from_epoch=2))
    rec.on_trial_result(0, [], member, _result(3, 2e-3))  # resumed from its own checkpoint
    (a,) = [r for r in read_trials(tmp_path) if r.trial_id == "a"]
    assert a.exploits == []
    assert [h["optim_lr_g"] for h in a.history] == [2e-3, 2e-3, 2e-3]


def test_an_event_appends_the_records_it_changed_and_readers_merge_them(tmp_path: Path) -> None:
    """trials.json is not rewritten for each event (issue 20): the records an event changed go
    to trials.journal, one line each; a reader takes the newest copy of each record."""
    _member(tmp_path)
    journal = (tmp_path / "trials.journal").read_text().splitlines()
    assert not (tmp_path / "trials.json").exists()
    # both trials added (one line each), then two results of one trial: one line each
    assert [json.loads(x)["trial_id"] for x in journal] == ["a", "b", "a", "a"]
    assert [r.epochs for r in read_trials(tmp_path)] == [2, 0]
    # the driver dies mid-line: the line cut short is left out
    with (tmp_path / "trials.journal").open("a") as f:
        f.write(journal[-1][:40])
    assert [r.epochs for r in read_trials(tmp_path)] == [2, 0]


def test_the_journal_is_compacted_once_it_outgrows_trials_json(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import raysearch.search.recorder as recorder

    monkeypatch.setattr(recorder, "COMPACT_BYTES", 3000)
    rec, member = _member(tmp_path)
    sizes = []
    for epoch in range(3, 40):
        rec.on_trial_result(0, [], member, _result(epoch, 2e-3))
        sizes.append(((tmp_path / "trials.json").stat().st_size
                      if (tmp_path / "trials.json").exists() else 0,
                      (tmp_path / "trials.journal").stat().st_size
                      if (tmp_path / "trials.journal").exists() else 0))
    assert (tmp_path / "trials.json").exists()
    assert all(j <= max(f, 3000) + 3000 for f, j in sizes)  # never far past the threshold
    assert any(j == 0 for _f, j in sizes[5:])  # compacted more than once as the file grew
    assert [len(r.history) for r in read_trials(tmp_path)] == [39, 0]


def test_a_reader_between_a_compaction_and_the_journal_s_removal_gets_the_newest(
        tmp_path: Path) -> None:
    from raysearch.search.store import RecordStore, write_trials

    rec, member = _member(tmp_path)
    old_journal = (tmp_path / "trials.journal").read_text()
    rec.on_trial_result(0, [], member, _result(3, 2e-3))
    write_trials(RecordStore(str(tmp_path)), list(rec.records.values()))
    (tmp_path / "trials.journal").write_text(old_journal)  # the old lines, not yet removed
    assert [r.epochs for r in read_trials(tmp_path)] == [3, 0]


def test_trials_json_holds_every_record_as_trials_json_writes_it(tmp_path: Path) -> None:
    """After the journal is compacted, trials.json holds every record as trials_json has it."""
    from raysearch.search.records import trials_json

    rec, member = _member(tmp_path)
    rec.on_trial_result(0, [], member, _result(3, 2e-3))
    rec.on_trial_complete(0, [], member)
    rec.on_experiment_end([])  # the search has ended: one trials.json, no journal
    assert not (tmp_path / "trials.journal").exists()
    on_disk = json.loads((tmp_path / "trials.json").read_text())
    assert on_disk == json.loads(json.dumps(trials_json(list(rec.records.values())), default=str))
    assert [t["trial_id"] for t in on_disk] == ["a", "b"] and on_disk[0]["state"] == "TERMINATED"


def test_the_running_tally_matches_a_count_of_every_record(tmp_path: Path) -> None:
    from raysearch.search.progress import Tally

    rec, member = _member(tmp_path)
    other = SimpleNamespace(trial_id="b", config={"optim.lr_g": 1e-3}, path=str(tmp_path / "b"))
    rec.on_trial_result(0, [], other, _result(1, 1e-3) | {"val_psnr": 30.0})
    rec.on_trial_complete(0, [], other)
    rec.on_trial_result(0, [], member, _result(3, 2e-3))
    rec.on_trial_error(0, [], SimpleNamespace(trial_id="a", config={}, path="", error_file=None))
    fresh = Tally("val_psnr", "max", rec.records.values())
    kept = rec.tally
    assert (kept.done, kept.running, kept.stopped, kept.failed) == \
        (fresh.done, fresh.running, fresh.stopped, fresh.failed) == (2, 0, 1, 1)
    assert kept.best is fresh.best is rec.records["b"]


def test_a_record_looked_at_but_not_changed_is_not_written_again(tmp_path: Path) -> None:
    rec, member = _member(tmp_path)
    rec.on_trial_complete(0, [], member)
    before = (tmp_path / "trials.journal").read_text()
    rec.on_trial_complete(0, [], member)  # Tune restarts a finished trial after a resume
    assert (tmp_path / "trials.journal").read_text() == before
    (a,) = [r for r in read_trials(tmp_path) if r.trial_id == "a"]
    assert a.revision == rec.records["a"].revision == 4  # added, 2 epochs, ended


def test_a_line_cut_short_by_a_killed_driver_does_not_spoil_the_next_driver_s_lines(
        tmp_path: Path) -> None:
    """A driver killed mid-line leaves a last line without its newline: the next driver drops it
    before its first line, which would otherwise run into it (and read as broken)."""
    _rec, member = _member(tmp_path)
    line = (tmp_path / "trials.journal").read_text().splitlines()[-1]
    with (tmp_path / "trials.journal").open("a") as f:
        f.write(line[:40])
    resumed = TrialRecorder(tmp_path, "val_psnr", "max", max_epochs=4, schedule=("optim.lr_g",))
    resumed.on_trial_result(0, [], member, _result(3, 2e-3))
    assert [r.epochs for r in read_trials(tmp_path)] == [3, 0]
    assert all(json.loads(x) for x in (tmp_path / "trials.journal").read_text().splitlines())


def test_a_journal_removed_while_open_is_started_again(tmp_path: Path) -> None:
    """The recorder keeps its journal open; when another writer folds it into trials.json and
    removes it (the end of a budget-stopped search), the next line starts a new journal."""
    from raysearch.search.store import RecordStore, write_trials

    rec, member = _member(tmp_path)
    write_trials(RecordStore(str(tmp_path)), list(rec.records.values()))
    assert not (tmp_path / "trials.journal").exists()
    rec.on_trial_result(0, [], member, _result(3, 2e-3))
    assert [json.loads(x)["epochs"] for x in (tmp_path / "trials.journal").read_text().splitlines()] == [3]
    assert [r.epochs for r in read_trials(tmp_path)] == [3, 0]
