"""One driver per experiment: a second submit or a resume of a live search is refused, naming the
driver; a lock left by a killed driver is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from raysearch.errors import UserError
from raysearch.search.lock import LOCK_FILE, STALE_S, ExperimentLock

SPACE = "parameters:\n  model.depth: {type: int, low: 2, high: 3}\n"


def _hold(folder: Path, pid: int, host: str | None = None, age_s: float = 0.0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    path.write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                "started": time.time() - age_s}))
    os.utime(path, (time.time() - age_s, time.time() - age_s))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_live_driver_keeps_its_experiment(tmp_path: Path) -> None:
    _hold(tmp_path / "exp", os.getppid())  # a live process that is not this one
    with pytest.raises(UserError, match=rf"in use by the driver pid {os.getppid()} on "):
        ExperimentLock(tmp_path / "exp", "exp").acquire()


def test_a_killed_drivers_lock_is_taken_over_and_released(tmp_path: Path) -> None:
    _hold(tmp_path / "exp", _dead_pid())
    lock = ExperimentLock(tmp_path / "exp", "exp")
    lock.acquire()
    assert json.loads((tmp_path / "exp" / LOCK_FILE).read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / "exp" / LOCK_FILE).exists()
    assert [p.name for p in (tmp_path / "exp").iterdir()] == []


def test_another_hosts_lock_counts_while_its_heartbeat_is_fresh(tmp_path: Path) -> None:
    _hold(tmp_path / "a", 1, host="elsewhere", age_s=5)
    with pytest.raises(UserError, match="on elsewhere"):
        ExperimentLock(tmp_path / "a", "a").acquire()
    _hold(tmp_path / "b", 1, host="elsewhere", age_s=STALE_S + 10)
    lock = ExperimentLock(tmp_path / "b", "b")
    lock.acquire()
    lock.release()


def _cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raysearch.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_second_submit_and_resume_of_a_live_search_are_refused(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    results = tmp_path / "results"
    _hold(results / "twin", os.getppid())
    out = _cli(["submit", "--name", "twin", "--space", str(space), "--results", str(results)])
    assert out.returncode == 2 and out.stderr.startswith("error: experiment 'twin' is in use by")
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert sorted(p.name for p in (results / "twin").iterdir()) == [LOCK_FILE]  # nothing written
    (results / "twin" / "raysearch.json").write_text(json.dumps(
        {"spec": {"num_samples": 2}, "metric": "val_psnr", "mode": "max"}))  # as a driver starts it
    out = _cli(["resume", "twin", "--results", str(results)])
    assert out.returncode == 2 and "is in use by the driver pid" in out.stderr


def test_status_says_when_no_driver_runs_a_search_with_running_trials(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A driver killed mid-search leaves RUNNING records; status then says how to go on, but not
    while the driver lives, nor for a search whose trials have all ended."""
    from raysearch.search.experiment import open_experiment, status_table

    monkeypatch.chdir(tmp_path)
    exp = tmp_path / "results" / "k1"
    exp.mkdir(parents=True)
    (exp / "raysearch.json").write_text(json.dumps({
        "spec": {"name": "k1", "num_samples": 3}, "metric": "val_psnr", "mode": "max"}))

    def trials(*states: str) -> None:
        (exp / "trials.json").write_text(json.dumps([
            {"trial_id": f"t{i}", "number": i, "state": s, "epochs": 1,
             "history": [{"epoch": 1, "val_psnr": 20.0 + i}]} for i, s in enumerate(states)]))

    def last_line_of_summary(results: str = "results") -> str:
        return status_table(open_experiment("k1", results)).splitlines()[1]

    trials("TERMINATED", "RUNNING", "RUNNING")
    assert last_line_of_summary() == ("no driver runs this search now; trials 1, 2 were running "
                                      "when it stopped: go on with 'raysearch resume k1'")
    _hold(exp, _dead_pid())  # a SIGKILLed driver's lock
    assert "go on with 'raysearch resume k1'" in last_line_of_summary()
    assert f"'raysearch resume k1 --results {tmp_path / 'results'}'" in last_line_of_summary(
        str(tmp_path / "results"))
    _hold(exp, os.getpid())  # a live driver
    assert not last_line_of_summary().startswith("no driver")
    (exp / LOCK_FILE).unlink()
    trials("TERMINATED", "TERMINATED", "ERROR")
    assert "no driver" not in status_table(open_experiment("k1", "results"))
    # a budget ended it (records from before simulate closed such trials): that is the line
    (exp / "raysearch.json").write_text(json.dumps({
        "spec": {"name": "k1", "num_samples": 3, "epoch_budget": 2}, "metric": "val_psnr",
        "mode": "max"}))
    trials("TERMINATED", "RUNNING", "RUNNING")
    table = status_table(open_experiment("k1", "results"))
    assert table.splitlines()[1] == "ended early: epoch budget of 2 reached (3 epochs trained)"
    assert "no driver" not in table
