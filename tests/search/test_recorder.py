"""The trial recorder's PBT bookkeeping: a run that reports an epoch again (a driver restart)
replaces what an earlier run said about that epoch and after it, its exploit included."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

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
