"""Kill the driver with SIGKILL mid-search, resume, and check that nothing finished is paid twice."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from raysearch.search.experiment import open_experiment, status_table
from raysearch.search.studies import study_storage
from tests.search.survive_helpers import (
    cli,
    kill_driver,
    read_asha,
    read_records,
    snapshot_with_checkpoints,
    wait_for,
    write_space,
)

NUM_SAMPLES = 5
EPOCHS = 4
GRACE = 2  # ASHA's first rung


def _progress(trials_json: Path) -> list[dict] | None:
    """Enough happened to make the kill interesting: a trial ended, another is mid-way."""
    trials = read_records(trials_json) or []
    ended = [t for t in trials if t["state"] == "TERMINATED"]
    running = [t for t in trials if t["state"] == "RUNNING" and 1 <= t["epochs"] < EPOCHS]
    return running if ended and running else None


def _ready_to_kill(trials_json: Path) -> list[dict] | None:
    """Progress, then long enough for Tune's snapshot to hold the mid-way trials' checkpoints,
    and those trials still running (ASHA may have stopped them meanwhile: then look again)."""
    mid_way = _progress(trials_json)
    if not mid_way or not snapshot_with_checkpoints(trials_json.parent):
        return None
    running = {t["trial_id"] for t in read_records(trials_json) or [] if t["state"] == "RUNNING"}
    return [t for t in mid_way if t["trial_id"] in running] or None


def _rung_entries(asha: dict) -> set[tuple[float, str, float]]:
    return {(r["milestone"], tid, v) for bracket in asha["brackets"] for r in bracket
            for tid, v in r["recorded"].items()}


@pytest.mark.slow
def test_sigkill_then_resume_completes_the_search(tmp_path: Path) -> None:
    space = write_space(tmp_path, {
        "optim.lr_g": {"type": "float", "low": 1.0e-4, "high": 2.0e-3, "log": True},
        "model.base_channels": {"type": "categorical", "choices": [16, 24]},
        "loss.l1_hole": {"type": "float", "low": 1.0, "high": 10.0},
    }, **{"data.num_images": 2400})  # epochs of 1-5 s here: long enough to be caught mid-way
    results, name = tmp_path / "results", "killed"
    exp = results / name
    args = ["--results", str(results)]
    driver = cli("submit", "--name", name, "--space", str(space), "--num-samples", str(NUM_SAMPLES),
                 "--max-epochs", str(EPOCHS), "--max-concurrent", "2", "--grace-period", str(GRACE), *args,
                 log=tmp_path / "submit.log")
    try:
        mid_way = wait_for("a finished trial and one mid-way",
                           lambda: _ready_to_kill(exp / "trials.json"), timeout=300, proc=driver)
    finally:
        stragglers = kill_driver(driver)
    assert stragglers == [], f"Ray processes outlived their killed driver: {stragglers}"
    at_kill = read_records(exp / "trials.json")  # the records as the driver left them
    rungs_at_kill = _rung_entries(read_asha(exp / "asha.json"))
    finished_at_kill = {t["trial_id"]: t for t in at_kill if t["state"] == "TERMINATED"}
    running_at_kill = {t["trial_id"]: t for t in at_kill if t["state"] == "RUNNING"}
    assert finished_at_kill and rungs_at_kill

    resumed = cli("resume", name, *args, log=tmp_path / "resume.log")
    assert resumed.wait(timeout=400) == 0, (tmp_path / "resume.log").read_text()[-3000:]
    log = (tmp_path / "resume.log").read_text()
    assert "resuming 'killed'" in log

    final = open_experiment(name, results)
    live = [t for t in final.trials if t.state != "LOST"]
    # the requested number of trials, all ended, each configuration once
    assert len(live) == NUM_SAMPLES, status_table(final)
    assert all(t.state == "TERMINATED" for t in live), status_table(final)
    configs = [json.dumps(t.params, sort_keys=True) for t in final.trials]
    assert len(set(configs)) == len(configs), "a configuration ran twice"
    # trials that had finished were not touched
    by_id = {t["trial_id"]: t for t in read_records(exp / "trials.json")}  # as written, to compare
    for tid, before in finished_at_kill.items():
        assert by_id[tid] == before
    # trials that were running went on from their last checkpoint, not from epoch 1
    for tid in running_at_kill:
        after = by_id[tid]
        assert [h["epoch"] for h in after["history"]] == list(range(1, after["epochs"] + 1))
    checked = [t["trial_id"] for t in mid_way if t["trial_id"] in running_at_kill]
    assert checked, "no trial was mid-way at the kill; make the trials longer"
    for tid in checked:
        after = by_id[tid]
        # the epochs run after the resume started from a checkpoint, not from scratch
        resumed = [h["resumed_from_epoch"] for h in after["history"]][running_at_kill[tid]["epochs"]:]
        assert resumed and min(resumed) >= 1, after["history"]
        assert after["rerun_epochs"] < running_at_kill[tid]["epochs"], "restarted from scratch"
    # ASHA kept its rungs: every record made before the kill is still there, unchanged, and
    # every trial that reached the first rung is recorded in it, also those that reached it after
    # the resume (how many did depends on how far the search had got at the kill)
    rungs = _rung_entries(read_asha(exp / "asha.json"))
    assert rungs_at_kill <= rungs
    reached = {tid for tid, t in by_id.items() if t["state"] != "LOST" and t["epochs"] >= GRACE}
    assert reached <= {tid for _, tid, _ in rungs}, (reached, rungs)
    # the same Optuna study went on; ASHA's stops are PRUNED with their intermediate values
    url = json.loads((exp / "raysearch.json").read_text())["study_url"]
    assert [s.study_name for s in optuna.get_all_study_summaries(study_storage(url))] == [name]
    study = optuna.load_study(study_name=name, storage=study_storage(url))
    told = [t for t in study.trials if t.state != optuna.trial.TrialState.FAIL]
    assert sorted(t.user_attrs["tune_trial_id"] for t in told) == sorted(t.trial_id for t in live)
    for t in told:
        record = by_id[t.user_attrs["tune_trial_id"]]
        expected = optuna.trial.TrialState.PRUNED if record["stopped_early"] \
            else optuna.trial.TrialState.COMPLETE
        assert t.state == expected
        assert sorted(t.intermediate_values) == list(range(1, record["epochs"] + 1))

    # resuming a finished search says so and changes nothing
    files = {p: p.read_bytes() for p in exp.rglob("*") if p.is_file()}
    again = cli("resume", name, *args, log=tmp_path / "again.log")
    assert again.wait(timeout=120) == 0
    assert "already finished" in (tmp_path / "again.log").read_text()
    assert {p: p.read_bytes() for p in exp.rglob("*") if p.is_file()} == files


def test_resuming_what_cannot_be_resumed_says_why(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from raysearch.cli import main

    with pytest.raises(SystemExit) as e:
        main(["resume", "nothing", "--results", str(tmp_path)])
    assert e.value.code == 2 and "no experiment 'nothing'" in capsys.readouterr().err
    # killed before Tune wrote anything: the records exist, Tune's state does not
    exp = tmp_path / "early"
    exp.mkdir()
    (exp / "raysearch.json").write_text(json.dumps({
        "spec": {"name": "early", "results": str(tmp_path), "num_samples": 2},
        "metric": "val_psnr", "mode": "max", "study_url": f"journal:{exp / 'optuna.journal'}"}))
    with pytest.raises(SystemExit) as e:
        main(["resume", "early", "--results", str(tmp_path)])
    assert e.value.code == 2 and "holds no Ray Tune state" in capsys.readouterr().err
