"""Reading experiment files for the report: objectives, ASHA rungs, Pareto front, importance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from raysearch.report.importance import param_importances
from raysearch.report.plots import pareto_mask, rung_counts
from raysearch.report.records import Objective, asha_rungs, objectives


@pytest.mark.parametrize(("spec", "want"), [
    ({"metric": "val_psnr", "mode": "max"}, [("val_psnr", "max")]),
    ({"metric": "val_l1", "mode": "min"}, [("val_l1", "min")]),
    ({"objectives": "val_psnr:max,val_ssim:max"}, [("val_psnr", "max"), ("val_ssim", "max")]),
    ({"spec": {"objectives": ["val_psnr:max", "val_l1"]}}, [("val_psnr", "max"), ("val_l1", "min")]),
    ({"objectives": [{"metric": "val_ssim", "mode": "maximize"}, ["val_l1", "min"]]},
     [("val_ssim", "max"), ("val_l1", "min")]),
    ({"objectives": {"val_psnr": "max", "val_l1_hole": "min"}},
     [("val_psnr", "max"), ("val_l1_hole", "min")]),
    ({"metric": ["val_psnr", "val_ssim"], "mode": ["max", "max"]},
     [("val_psnr", "max"), ("val_ssim", "max")]),
    ({"objectives": [], "metric": "val_ssim", "mode": "max"}, [("val_ssim", "max")]),
])
def test_objectives_are_read_from_every_layout(spec: dict[str, Any], want: list[tuple[str, str]]
                                               ) -> None:
    assert objectives(spec) == [Objective(m, d) for m, d in want]


@pytest.mark.parametrize(("epochs", "grace", "rf", "want"), [
    (4, 1, 2, [1, 2, 4]), (6, 1, 2, [1, 2, 4]), (8, 1, 3, [1, 3]), (9, 1, 3, [1, 3, 9]),
    (8, 2, 2, [2, 4, 8]), (1, 1, 2, [1]),
])
def test_rungs_are_where_ray_puts_them(epochs: int, grace: int, rf: int, want: list[int]) -> None:
    from ray.tune.schedulers import ASHAScheduler

    spec = {"spec": {"grace_period": grace, "reduction_factor": rf},
            "base_config": {"train": {"epochs": epochs}}}
    ray_rungs = ASHAScheduler(metric="m", mode="max", max_t=epochs, grace_period=grace,
                              reduction_factor=rf)._brackets[0]._rungs
    assert asha_rungs(spec) == want == sorted(r for r, _ in ray_rungs)


def test_rung_counts_split_what_happened_at_each_rung() -> None:
    trials = [{"epochs": 4, "state": "TERMINATED"}, {"epochs": 1, "state": "TERMINATED",
              "stopped_early": True}, {"epochs": 2, "state": "RUNNING"},
              {"epochs": 2, "state": "TERMINATED", "stopped_early": True}]
    marks, counts = rung_counts(trials, [1, 2, 4], 4)
    assert marks == [1, 2, 4]
    assert counts["stopped by ASHA here"] == [1, 1, 0]
    assert counts["running or failed here"] == [0, 1, 0]
    assert counts["went on / finished"] == [3, 1, 1]


def test_pareto_mask_keeps_the_non_dominated() -> None:
    pts = np.array([[20.0, 0.1], [22.0, 0.2], [21.0, 0.05], [19.0, 0.3], [22.0, 0.2]])
    # maximise the first, minimise the second: [19, 0.3] is dominated by all others
    assert pareto_mask(pts, ["max", "min"]).tolist() == [False, True, True, False, True]


def _trial(number: int, psnr: float, lr: float, skip: bool, **extra: Any) -> dict[str, Any]:
    return {"number": number, "state": "TERMINATED", "best": {"val_psnr": psnr},
            "params": {"optim.lr_g": lr, "model.skip": skip, **extra}}


SPACE = {"space": {"parameters": {
    "optim.lr_g": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "model.skip": {"type": "categorical", "choices": [True, False]},
    "model.depth": {"type": "int", "low": 2, "high": 4, "when": {"model.skip": [True]}}}}}


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
    trials.append({**_trial(99, 30.0, 0.5, True), "note": "outside the space: left out"})
    trials.append({**_trial(98, 30.0, 1e-3, True), "state": "RUNNING"})  # not ended: left out
    found, note = param_importances(SPACE, trials, Objective("val_psnr", "max"))
    assert next(iter(found)) == "optim.lr_g" and found["optim.lr_g"] > 0.8
    assert "24 ended trials" in note and "model.depth" in note  # conditional: left out
