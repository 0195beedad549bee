"""Rung-by-rung Spearman correlation with the final rank, from recorded curves (no Ray)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.search.fidelity import rung_correlation


def experiment(folder: Path, curves: list[list[float]], scheduler: str = "none") -> Path:
    folder.mkdir(parents=True)
    base = Config().to_dict()
    base["train"]["epochs"] = len(curves[0])
    (folder / "raysearch.json").write_text(json.dumps({
        "spec": {"scheduler": scheduler}, "metric": "val_psnr", "mode": "max", "base_config": base}))
    (folder / "trials.json").write_text(json.dumps([
        {"trial_id": f"t{i}", "number": i, "state": "TERMINATED", "epochs": len(c),
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
