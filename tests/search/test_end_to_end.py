"""A real search on a real local Ray: Tune + OptunaSearch (TPE) + ASHA over the training loop."""

from __future__ import annotations

import logging
from pathlib import Path

import optuna
import pytest
import torch

from raysearch.build import validate_names
from raysearch.errors import UserError
from raysearch.search.experiment import open_experiment, pull_checkpoint, status_table
from raysearch.search.runner import SearchSpec, prepare_search, run_search
from raysearch.search.studies import study_storage

SPACE = """
description: tiny end-to-end test space
fixed:
  data.num_images: 160
  data.num_val: 16
  model.critic_channels: 8
  train.batch_size: 16
parameters:
  model.skip: {type: categorical, choices: [true, false]}
  model.depth: {type: int, low: 2, high: 3}
  model.base_channels: {type: int, low: 8, high: 16, step: 8, when: {model.skip: true}}
  optim.lr_g: {type: float, low: 1.0e-5, high: 3.0e-3, log: true}
"""


@pytest.mark.slow
def test_search_end_to_end(ray_local: None, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    spec = SearchSpec(name="e2e", space_path=str(space), results=str(tmp_path / "results"),
                      num_samples=5, max_epochs=3, max_concurrent=1, seed=1)
    lines: list[str] = []
    # what Tune's result grid logs as fit() returns; raysearch leaves out the per-trial files it
    # reads, and its "Failed to fetch metrics" warning (a line per trial) reads like a fault
    grid_log = logging.getLogger("ray.tune.analysis.experiment_analysis")
    monkeypatch.setattr(grid_log, "level", logging.WARNING)
    grid: list[logging.LogRecord] = []
    catcher = logging.Handler()
    catcher.emit = grid.append  # type: ignore[method-assign]
    grid_log.addHandler(catcher)
    try:
        best = run_search(prepare_search(spec, check=validate_names, say=lines.append),
                          say=lines.append)
    finally:
        grid_log.removeHandler(catcher)
    assert not [r.getMessage() for r in grid if "Failed to fetch metrics" in r.getMessage()]

    exp = open_experiment("e2e", tmp_path / "results")
    assert not (exp.path / ".driver.lock").exists()  # the driver let go of the experiment
    assert len(exp.trials) == 5
    assert all(t.state == "TERMINATED" for t in exp.trials)
    stopped = [t for t in exp.trials if t.stopped_early]
    assert stopped, "ASHA stopped no trial"
    assert all(t.epochs < 3 for t in stopped)
    assert any(t.epochs == 3 for t in exp.trials)
    for t in exp.trials:  # conditional parameter present exactly when its condition holds
        assert ("model.base_channels" in t.params) is t.params["model.skip"]
        assert [h["epoch"] for h in t.history] == list(range(1, t.epochs + 1))
    assert len({tuple(sorted(t.params.items())) for t in exp.trials}) == 5
    # the study, opened with Optuna itself: ASHA's stops are PRUNED with every epoch's value
    study = optuna.load_study(study_name="e2e", storage=study_storage(exp.spec["study_url"]))
    told = {t.user_attrs["tune_trial_id"]: t for t in study.trials}
    for t in exp.trials:
        assert told[t.trial_id].state.name == ("PRUNED" if t.stopped_early else "COMPLETE")
        assert told[t.trial_id].intermediate_values == {
            h["epoch"]: h["val_psnr"] for h in t.history}

    assert best is not None
    assert best.best["val_psnr"] == max(t.best["val_psnr"] for t in exp.trials)
    assert any("stopped early by ASHA" in ln for ln in lines)
    # the progress a user watches: each start with its parameters, the counts, the summary
    assert sum(" started   " in ln for ln in lines) == 5, lines
    assert any("5/5   done" in ln and "best val_psnr" in ln for ln in lines), lines
    assert any(ln.startswith("5 of 5 trials ended: ") and "stopped early by ASHA" in ln
               for ln in lines), lines
    assert any(ln.startswith("Ray dashboard: http://127.0.0.1:") for ln in lines), lines
    table = status_table(exp)
    assert "5/5 trials ended" in table and "ASHA stop" in table

    out = tmp_path / "best"
    pulled = pull_checkpoint(exp, out)
    assert pulled.trial_id == best.trial_id
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == best.best_checkpoint_epoch == best.best_epoch
    assert (out / "config.yaml").exists() and (out / "sample.png").stat().st_size > 0


@pytest.mark.slow
def test_multi_worker_trial_through_torch_trainer(ray_local: None, tmp_path: Path) -> None:
    """workers_per_trial=2: the trial is a Ray Train TorchTrainer run; Tune gets its checkpoint."""
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    spec = SearchSpec(name="ddp", space_path=str(space), results=str(tmp_path / "results"),
                      num_samples=1, max_epochs=2, workers_per_trial=2)
    best = run_search(prepare_search(spec, check=validate_names, say=lambda _m: None),
                      say=lambda _m: None)
    exp = open_experiment("ddp", tmp_path / "results")
    assert [t.state for t in exp.trials] == ["TERMINATED"]
    assert best is not None and best.epochs == 2
    assert "/train_runs/" in best.best_checkpoint  # written by Ray Train, passed to Tune
    state = torch.load(Path(best.best_checkpoint) / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == best.best_epoch


def test_gpus_the_cluster_does_not_have_are_refused_before_the_search(ray_local: None,
                                                                        tmp_path: Path) -> None:
    """Without the check, Tune keeps the trials PENDING for ever on a CPU-only cluster."""
    import ray

    if ray.cluster_resources().get("GPU", 0):
        pytest.skip("this Ray cluster has a GPU")
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    spec = SearchSpec(name="gpu", space_path=str(space), results=str(tmp_path / "results"),
                      num_samples=1, max_epochs=1, gpus_per_worker=0.25)
    prepared = prepare_search(spec, check=validate_names, say=lambda _m: None)
    with pytest.raises(UserError, match=r"--gpus-per-worker 0.25: the Ray cluster has 0 GPUs"):
        run_search(prepared, say=lambda _m: None)
    assert not (spec.experiment / "raysearch.json").exists()
