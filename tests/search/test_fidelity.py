"""Rung-by-rung Spearman correlation with the final rank, from recorded curves (no Ray)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.search.fidelity import rung_correlation


def experiment(folder: Path, curves: list[list[float]], scheduler: str = "none",
               params: list[dict[str, Any]] | None = None) -> Path:
    folder.mkdir(parents=True)
    base = Config().to_dict()
    base["train"]["epochs"] = len(curves[0])
    (folder / "raysearch.json").write_text(json.dumps({
        "spec": {"scheduler": scheduler}, "metric": "val_psnr", "mode": "max", "base_config": base}))
    (folder / "trials.json").write_text(json.dumps([
        {"trial_id": f"t{i}", "number": i, "state": "TERMINATED", "epochs": len(c),
         "params": (params or [{}] * len(curves))[i],
         "history": [{"epoch": e, "val_psnr": v} for e, v in enumerate(c, 1)]}
        for i, c in enumerate(curves)]))
    return folder


def test_each_epoch_is_ranked_against_the_last_over_searches_without_early_stopping(
        tmp_path: Path) -> None:
    # epoch 1 orders the trials as the end does, epoch 2 the other way round
    a = experiment(tmp_path / "a", [[1, 4, 10], [2, 3, 20], [3, 2, 30], [4, 1, 40]])
    b = experiment(tmp_path / "b", [[1, 1, 10], [2, 2, 20], [3, 3, 30]])
    asha = experiment(tmp_path / "asha", [[1, 1, 1], [2, 2, 2], [3, 3, 3]], scheduler="asha")
    few = experiment(tmp_path / "few", [[1, 1, 1], [2, 2, 2]])
    r = rung_correlation([a, b, asha, few], grace_period=1, reduction_factor=2)
    assert r.searches == ["a", "b"] and r.trials == 7 and r.epochs == 3 and r.rungs == [1, 2]
    assert set(r.skipped) == {"asha", "few"} and "survived early stopping" in r.skipped["asha"]
    assert r.per_search_rho["a"] == pytest.approx([1.0, -1.0, 1.0])
    assert r.per_search_rho["b"] == pytest.approx([1.0, 1.0, 1.0])
    assert r.median_rho == pytest.approx([1.0, 0.0, 1.0])
    # in a, the trial that ends best is last at epoch 2: ASHA (rf 2) would have stopped it there
    assert r.best_kept == [1.0, 0.5, 1.0]
    assert "| 2 | yes | " in r.markdown()
    with pytest.raises(UserError, match="no search without early stopping"):
        rung_correlation([asha, few])


def test_the_first_rung_names_the_groups_it_stops_more_often_than_they_end_low(
        tmp_path: Path) -> None:
    """Slow starters (low learning rates) are last at epoch 1 and first at the end: ASHA's first
    rung stops them all, though they end in the top half; a plain parameter is judged fairly."""
    params = [{"optim.lr_g": lr, "model.skip": skip}
              for lr, skip in ((1e-4, True), (2e-4, False), (1e-3, True), (2e-3, False),
                               (3e-3, True))]
    curves = [[10, 20, 30], [11, 21, 29], [15, 20, 25], [16, 20, 24], [17, 20, 23]]
    a = experiment(tmp_path / "a", curves, params=params)
    b = experiment(tmp_path / "b", curves, params=params)
    r = rung_correlation([a, b], grace_period=1, reduction_factor=2)
    bias = {(x.param, x.group): x for x in r.bias}
    assert set(bias) == {("model.skip", "False"), ("model.skip", "True"),
                         ("optim.lr_g", "< 0.001"), ("optim.lr_g", ">= 0.001")}
    slow, fast = bias["optim.lr_g", "< 0.001"], bias["optim.lr_g", ">= 0.001"]
    assert (slow.trials, slow.rung, slow.stopped, slow.ends_low) == (4, 1, 1.0, 0.0)
    assert slow.median_gain == pytest.approx(19.0)
    assert (fast.trials, fast.stopped) == (6, 0.0) and fast.ends_low == pytest.approx(2 / 3)
    assert fast.median_gain == pytest.approx(8.0)
    table = r.bias_markdown()
    assert "| optim.lr_g | < 0.001 | 4 | +19.00 | 100% | 0% |" in table
    assert json.loads(json.dumps(r.to_json()))["bias"][0]["param"] == "model.skip"
