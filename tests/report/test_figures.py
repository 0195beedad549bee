"""The report's own figures (plots.py), drawn from made-up trial records: no search, no Ray."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PathCollection
from matplotlib.lines import Line2D

from raysearch.report.plots import learning_curves, parallel_coordinates, slices
from raysearch.search.objectives import Objective
from raysearch.search.records import TrialRecord, TrialState

SPACE = {
    "optim.lr_g": {"type": "float", "low": 1e-4, "high": 2e-3, "log": True},
    "loss.l1_hole": {"type": "float", "low": 1.0, "high": 10.0},
    "model.skip": {"type": "categorical", "choices": [True, False]},
}


def _trial(number: int, epochs: int, psnr: float, stopped_early: bool = False) -> TrialRecord:
    history = [{"epoch": e, "val_psnr": psnr - (epochs - e)} for e in range(1, epochs + 1)]
    return TrialRecord(str(number), number, state=TrialState.TERMINATED, epochs=epochs,
                       history=history, best={"val_psnr": psnr}, last={"val_psnr": psnr},
                       stopped_early=stopped_early,
                       params={"optim.lr_g": 1e-3, "loss.l1_hole": 2.0 + number,
                               "model.skip": number % 2 == 0})


TRIALS = [_trial(0, 4, 22.0), _trial(1, 1, 18.0, stopped_early=True), _trial(2, 2, 20.0, True),
          _trial(3, 4, 23.0)]


def test_a_one_epoch_asha_stop_is_drawn_and_the_legend_names_only_what_is_drawn() -> None:
    fig = learning_curves(TRIALS, ["val_psnr", "val_ssim"], [1, 2, 4], best=3)
    psnr, ssim = fig.axes[:2]
    one = next(ln for ln in psnr.get_lines() if ln.get_label() == "trial 1")
    assert list(one.get_xdata()) == [1] and list(one.get_ydata()) == [18.0]
    assert one.get_marker() == "o" and one.get_markersize() >= 5  # a dot, not a hidden speck
    # the stop mark over it is a hollow ring: the trial's own colour shows through
    rings = [c for c in psnr.collections if isinstance(c, PathCollection)]
    assert rings and all(np.allclose(c.get_facecolors()[:, 3], 0) for c in rings)
    assert any(np.allclose(off, [1, 18.0]) for c in rings for off in c.get_offsets())
    drawn = {a.get_label() for a in [*psnr.get_lines(), *psnr.collections]}
    legend = psnr.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert set(labels) <= drawn
    assert labels.count("stopped by ASHA") == 1 and "trial 3 (best)" in labels
    # no SSIM recorded: no trial drawn there, so no legend
    assert ssim.get_legend() is None
    assert not [ln for ln in ssim.get_lines() if not str(ln.get_label()).startswith("_")]


def test_parallel_coordinates_have_a_trial_number_colour_bar_and_inner_ticks() -> None:
    fig = parallel_coordinates(SPACE, TRIALS, Objective("val_psnr", "max"), best=3)
    bars = [a for a in fig.axes if getattr(a, "_colorbar", None) is not None]
    assert len(bars) == 1 and bars[0]._colorbar.ax.get_ylabel() == "trial number (order of proposal)"
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"0.0001", "0.002", "0.0005", "0.001"} <= texts  # log axis: ends and round values between
    assert {"1", "10", "4", "6"} <= texts  # linear axis
    assert {"18", "23", "20"} <= texts  # the objective's axis too
    assert all(float(v).is_integer() for v in bars[0].get_yticks())  # trial numbers are whole


def test_slices_mark_asha_stops_with_their_own_marker_and_a_legend() -> None:
    fig = slices(SPACE, TRIALS, Objective("val_psnr", "max"))
    panel = fig.axes[0]
    assert len(panel.collections) == 2  # ran every epoch, stopped by ASHA: one scatter each
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["ran every epoch", "stopped by ASHA"]
    markers = [h.get_marker() for h in fig.legends[0].legend_handles if isinstance(h, Line2D)]
    assert markers == ["o", "v"]
    assert any(getattr(a, "_colorbar", None) for a in fig.axes)
