"""Reading experiment files for the report: objectives, ASHA rungs, Pareto front, importance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from raysearch.report.importance import param_importances
from raysearch.report.plots import pareto_mask, rung_counts
from raysearch.search.experiment import Experiment, rung_epochs
from raysearch.search.objectives import Objective
from raysearch.search.records import TrialRecord, TrialState


def test_objectives_are_read_as_the_driver_writes_them(tmp_path: Path) -> None:
    one = Experiment(tmp_path, {"metric": "val_l1", "mode": "min", "spec": {}}, [])
    assert one.objectives == [Objective("val_l1", "min")]
    two = Objective("val_psnr", "max"), Objective("generator_params", "min")
    spec = {"metric": "val_psnr", "mode": "max", "spec": {}, "objectives": [o.to_json() for o in two]}
    assert Experiment(tmp_path, json.loads(json.dumps(spec)), []).objectives == list(two)


@pytest.mark.parametrize(("epochs", "grace", "rf", "want"), [
    (4, 1, 2, [1, 2, 4]), (6, 1, 2, [1, 2, 4]), (8, 1, 3, [1, 3]), (9, 1, 3, [1, 3, 9]),
    (8, 2, 2, [2, 4, 8]), (1, 1, 2, [1]),
])
def test_rungs_are_where_ray_puts_them(epochs: int, grace: int, rf: int, want: list[int]) -> None:
    from ray.tune.schedulers import ASHAScheduler

    ray_rungs = ASHAScheduler(metric="m", mode="max", max_t=epochs, grace_period=grace,
                              reduction_factor=rf)._brackets[0]._rungs
    assert rung_epochs(epochs, grace, rf) == want == sorted(r for r, _ in ray_rungs)


def test_rung_counts_split_what_happened_at_each_rung() -> None:
    done, running = TrialState.TERMINATED, TrialState.RUNNING
    trials = [TrialRecord("a", 0, epochs=4, state=done),
              TrialRecord("b", 1, epochs=1, state=done, stopped_early=True),
              TrialRecord("c", 2, epochs=2, state=running),
              TrialRecord("d", 3, epochs=2, state=done, stopped_early=True)]
    marks, counts = rung_counts(trials, [1, 2, 4], 4)
    assert marks == [1, 2, 4]
    assert counts["stopped by ASHA here"] == [1, 1, 0]
    assert counts["running or failed here"] == [0, 1, 0]
    assert counts["went on / finished"] == [3, 1, 1]


def test_pareto_mask_keeps_the_non_dominated() -> None:
    pts = np.array([[20.0, 0.1], [22.0, 0.2], [21.0, 0.05], [19.0, 0.3], [22.0, 0.2]])
    # maximise the first, minimise the second: [19, 0.3] is dominated by all others
    assert pareto_mask(pts, ["max", "min"]).tolist() == [False, True, True, False, True]


def _trial(number: int, psnr: float, lr: float, skip: bool, epochs: int = 2,
           stopped_early: bool = False, **extra: Any) -> TrialRecord:
    """An ended trial whose objective climbs to ``psnr`` at its last epoch."""
    history = [{"epoch": e, "val_psnr": psnr - (epochs - e)} for e in range(1, epochs + 1)]
    return TrialRecord(str(number), number, state=TrialState.TERMINATED, epochs=epochs,
                       history=history, best={"val_psnr": psnr}, stopped_early=stopped_early,
                       params={"optim.lr_g": lr, "model.skip": skip, **extra})


SPACE = {
    "optim.lr_g": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "model.skip": {"type": "categorical", "choices": [True, False]},
    "model.depth": {"type": "int", "low": 2, "high": 4, "when": {"model.skip": [True]}}}


def test_importance_needs_enough_trials_and_says_so() -> None:
    found, note = param_importances(SPACE, [_trial(0, 20.0, 1e-3, True)], Objective("val_psnr", "max"))
    assert found == {} and "at least 3 ended trials" in note and "1 so far" in note


def test_importance_finds_the_parameter_that_matters() -> None:
    rng = np.random.default_rng(0)
    trials = []
    for i in range(24):
        lr = float(10 ** rng.uniform(-4, -2))
        skip = bool(rng.integers(2))
        extra = {"model.depth": int(rng.integers(2, 5))} if skip else {}
        trials.append(_trial(i, 20 + 4 * np.log10(lr) + 0.01 * skip, lr, skip, **extra))
    trials.append(_trial(99, 30.0, 0.5, True))  # outside the space: left out
    running = _trial(98, 30.0, 1e-3, True)
    running.state = TrialState.RUNNING  # not ended: left out
    early = _trial(97, 40.0, 1e-4, True, epochs=1, stopped_early=True)
    found, note = param_importances(SPACE, [*trials, running, early], Objective("val_psnr", "max"))
    assert next(iter(found)) == "optim.lr_g" and found["optim.lr_g"] > 0.8
    # the 1-epoch score of the ASHA-stopped trial is not ranked against 2-epoch ones
    assert "24 ended trials at epoch 2" in note and "model.depth" in note  # conditional: left out
    assert "2 ended trials left out" in note  # the early stop, and the one outside the space


def test_importance_compares_trials_at_the_epoch_enough_of_them_reached() -> None:
    """Most trials stopped by ASHA at epoch 1: fANOVA weighs everyone's epoch-1 value."""
    rng = np.random.default_rng(1)
    trials = []
    for i in range(12):
        lr = float(10 ** rng.uniform(-4, -2))
        full = i < 2
        trials.append(_trial(i, 20 + 4 * np.log10(lr), lr, bool(i % 2), epochs=4 if full else 1,
                             stopped_early=not full))
    found, note = param_importances(SPACE, trials, Objective("val_psnr", "max"))
    assert "12 ended trials at epoch 1" in note and next(iter(found)) == "optim.lr_g"
