"""Failures end or retry one trial, never the search: a NaN loss, a killed trial process."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import optuna
import pytest

from raysearch.build import validate_names
from raysearch.search.experiment import open_experiment, status_table
from raysearch.search.runner import SearchSpec, prepare_search, run_search
from raysearch.search.studies import study_storage
from tests.search.survive_helpers import read_records, wait_for, write_space

NAN = "loss.l1_hole"  # 1e308 overflows the loss in the first step: a real divergence
HEALTHY, OVERFLOW = 6.0, 1.0e308


def _kill_first_healthy_trial(trials_json: Path, killed: dict) -> None:
    """SIGKILL the process of the first healthy trial as soon as its first checkpoint is in."""

    def target() -> dict | None:
        for t in read_records(trials_json) or []:
            # Tune has registered the epoch's checkpoint (it does so after the result itself)
            if t["params"].get(NAN) == HEALTHY and t["state"] == "RUNNING" and t["epochs"] == 1 \
                    and "1" in t["checkpoints"]:
                return t
        return None

    try:
        trial = wait_for("a healthy trial's first epoch", target, timeout=240)
        os.kill(trial["pid"], signal.SIGKILL)  # a trial actor of the Ray this test started
        killed["trial"] = trial
    except AssertionError as e:
        killed["failure"] = str(e)


@pytest.mark.slow
def test_nan_ends_its_trial_and_a_killed_trial_resumes_from_its_checkpoint(
        tmp_path: Path, ray_local: None) -> None:
    space = write_space(tmp_path, {
        NAN: {"type": "categorical", "choices": [HEALTHY, OVERFLOW]},
        "optim.lr_g": {"type": "float", "low": 1.0e-4, "high": 2.0e-3, "log": True},
    })
    # seed 11 asks [6, 6, 1e308, 6] for loss.l1_hole (before lr_g: the keys are sorted): one
    # trial diverges, three are healthy
    spec = SearchSpec(name="failures", space_path=str(space), results=str(tmp_path / "results"),
                      num_samples=4, max_epochs=3, seed=11, max_concurrent=2, keep_checkpoints=1,
                      max_failures=2)
    prepared = prepare_search(spec, check=validate_names, say=lambda _m: None)
    killed: dict = {}
    killer = threading.Thread(target=_kill_first_healthy_trial,
                              args=(spec.experiment / "trials.json", killed), daemon=True)
    killer.start()
    run_search(prepared, say=lambda _m: None)
    killer.join(timeout=5)
    assert "trial" in killed, killed.get("failure")

    exp = open_experiment("failures", spec.results)
    table = status_table(exp)
    diverged = [t for t in exp.trials if t.params[NAN] == OVERFLOW]
    healthy = [t for t in exp.trials if t.params[NAN] == HEALTHY]
    assert len(exp.trials) == 4 and diverged and len(healthy) >= 2, table
    # the NaN trial ended as an error with its reason, was not retried, and the others finished
    for t in diverged:
        assert t.state == "ERROR" and t.diverged, table
        assert t.error and "diverged: generator loss became inf at epoch 1" in t.error, t.error
        assert t.retries == 0
    assert all(t.state == "TERMINATED" for t in healthy), table
    # the killed trial was retried once, from its checkpoint: its second run began at epoch 2
    victim = next(t for t in exp.trials if t.trial_id == killed["trial"]["trial_id"])
    assert victim.retries == 1, table
    assert victim.state == "TERMINATED" and victim.epochs >= 2, table
    assert [h["epoch"] for h in victim.history] == list(range(1, victim.epochs + 1))
    assert [h["resumed_from_epoch"] for h in victim.history] == [0] + [1] * (victim.epochs - 1)
    # at most the best checkpoint plus the latest one are kept, and the records say which
    for t in exp.trials:
        on_disk = sorted(p.name for p in Path(t.trial_dir).glob("checkpoint_*"))
        assert len(on_disk) <= 2, (t.number, on_disk)
        assert sorted(Path(p).name for p in t.checkpoints.values()) == on_disk
    # Optuna: the diverged trial is PRUNED with its reason (TPE learns from it), not COMPLETE
    study = optuna.load_study(study_name="failures", storage=study_storage(exp.spec["study_url"]))
    by_tune_id = {t.user_attrs["tune_trial_id"]: t for t in study.trials}
    for t in diverged:
        told = by_tune_id[t.trial_id]
        assert told.state == optuna.trial.TrialState.PRUNED
        assert told.user_attrs["raysearch_end"].startswith("diverged: generator loss became inf")


@pytest.mark.slow
def test_a_config_that_cannot_train_ends_its_trial_without_retries(tmp_path: Path,
                                                                   ray_local: None) -> None:
    """A deterministic error inside a trial (here: train.device cuda on a machine without one,
    which only the trial's own node can know) is not retried --max-failures times."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: cuda trains")
    space = write_space(tmp_path, {"train.device": {"type": "categorical", "choices": ["cpu", "cuda"]}})
    # seed 0 asks cuda, cpu (random sampler)
    spec = SearchSpec(name="nocuda", space_path=str(space), results=str(tmp_path / "results"),
                      num_samples=2, max_epochs=1, seed=0, sampler="random", max_concurrent=1,
                      max_failures=2)
    run_search(prepare_search(spec, check=validate_names, say=lambda _m: None), say=lambda _m: None)
    exp = open_experiment("nocuda", spec.results)
    (bad,) = [t for t in exp.trials if t.params["train.device"] == "cuda"]
    (good,) = [t for t in exp.trials if t.params["train.device"] == "cpu"]
    assert bad.state == "ERROR" and bad.retries == 0 and bad.diverged, status_table(exp)
    assert bad.error and bad.error.startswith("invalid config: device cuda"), bad.error
    assert good.state == "TERMINATED"
    study = optuna.load_study(study_name="nocuda", storage=study_storage(exp.spec["study_url"]))
    told = {t.user_attrs["tune_trial_id"]: t for t in study.trials}[bad.trial_id]
    assert told.state == optuna.trial.TrialState.FAIL  # TPE ignores it rather than learning from it
