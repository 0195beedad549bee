"""Optuna's figures in the report, from a study rebuilt from made-up records: no search, no Ray.

The stored study of a real search, and the fall-back when it is missing: tests/report/test_plots.py.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from optuna.trial import TrialState as OptunaState
from PIL import Image

from raysearch.report.optuna_plots import rebuilt_study, study_plots
from raysearch.search.experiment import Experiment
from raysearch.search.records import TrialRecord, TrialState

SPACE = {
    "optim.lr_g": {"type": "float", "low": 1e-4, "high": 2e-3, "log": True},
    "loss.l1_hole": {"type": "float", "low": 1.0, "high": 10.0},
    "model.skip": {"type": "categorical", "choices": [True, False]},
}


def _trial(number: int, epochs: int, state: TrialState = TrialState.TERMINATED,
           stopped_early: bool = False, **extra: Any) -> TrialRecord:
    t0 = 1_700_000_000.0 + 5 * number
    history = [{"epoch": e, "val_psnr": 18.0 + number % 5 + e, "val_l1": 0.1 / e,
                "reported_at": t0 + 10 * e} for e in range(1, epochs + 1)]
    return TrialRecord(str(number), number, state=state, epochs=epochs, history=history,
                       last=dict(history[-1]) if history else {}, stopped_early=stopped_early,
                       params={"optim.lr_g": 1e-4 * (1 + number), "loss.l1_hole": 1.0 + number,
                               "model.skip": number % 2 == 0}, **extra)


def _experiment(tmp_path: Path, space: dict[str, Any] = SPACE, **spec: Any) -> Experiment:
    trials = [_trial(n, 3) for n in range(5)] + [
        _trial(5, 1, stopped_early=True), _trial(6, 2, state=TrialState.ERROR),
        _trial(7, 2, state=TrialState.RUNNING), _trial(8, 0, state=TrialState.PENDING)]
    return Experiment(tmp_path, {"metric": "val_psnr", "mode": "max",
                                 "spec": {"name": "made", "max_epochs": 3},
                                 "space": {"parameters": space}, **spec}, trials)


def test_the_rebuilt_study_tells_what_the_search_told_optuna(tmp_path: Path) -> None:
    study = rebuilt_study(_experiment(tmp_path))
    states = [t.state for t in study.trials]
    assert states == [OptunaState.COMPLETE] * 5 + [OptunaState.PRUNED, OptunaState.FAIL,
                                                   OptunaState.RUNNING]  # PENDING: not started
    assert study.trials[0].value == 21.0  # the last epoch's value, as the search told it
    assert study.trials[5].intermediate_values == {1: 19.0}
    assert study.trials[5].value == 19.0  # PRUNED: its last intermediate value, as tell does
    # times from the epochs' reports: a bar starts one epoch before the first report
    first = study.trials[0]
    assert first.datetime_start is not None and first.datetime_complete is not None
    assert (first.datetime_complete - first.datetime_start).total_seconds() == 30.0
    assert study.trials[7].datetime_complete is None


def test_every_optuna_figure_is_drawn_without_leaking_pyplot_state(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    style = dict(matplotlib.rcParams)
    plots, source = study_plots(_experiment(tmp_path, study_url=f"journal:{tmp_path}/optuna.journal"))
    assert source.startswith("a study rebuilt in memory from trials.json")
    assert f"{tmp_path}/optuna.journal is missing" in source
    assert not (tmp_path / "optuna.journal").exists()  # looking for it did not create it
    assert [p.name for p in plots] == ["optimization_history", "timeline", "contour", "edf"]
    for p in plots:
        assert p.png is not None, p.caption
        with Image.open(io.BytesIO(p.png)) as im:
            assert im.format == "PNG" and im.width >= 300
        assert "rebuilt" in p.caption
    assert "loss.l1_hole" in plots[2].caption and "model.skip" not in plots[2].caption
    assert "the 1 PRUNED" in plots[0].caption
    assert plt.get_fignums() == []  # every figure closed
    assert matplotlib.get_backend().lower() == "agg"
    assert dict(matplotlib.rcParams) == style  # Optuna's ggplot style did not stay


def test_contours_say_when_there_are_fewer_than_two_numeric_parameters(tmp_path: Path) -> None:
    one = {k: v for k, v in SPACE.items() if k != "loss.l1_hole"}
    plots, _ = study_plots(_experiment(tmp_path, space=one))
    contour = next(p for p in plots if p.name == "contour")
    assert contour.png is None
    assert contour.caption == "contour plots need two numeric parameters; the space has 1 (optim.lr_g)"


@pytest.mark.parametrize("objectives", [[{"metric": "val_psnr", "mode": "max"},
                                         {"metric": "val_l1", "mode": "min"}]])
def test_several_objectives_are_drawn_for_the_first(tmp_path: Path,
                                                    objectives: list[dict[str, str]]) -> None:
    plots, _ = study_plots(_experiment(tmp_path, objectives=objectives))
    assert all(p.png is not None for p in plots)
    assert "drawn for the first, val_psnr" in plots[0].caption
