"""Searches on a real local multi-node Ray cluster: Jobs API, placement, DDP across nodes, PBT
refinement, node loss.

The tests share one cluster (head with 0 CPUs, worker-1 and worker-2 with 1 CPU each) and run in
file order; the node-failure test kills worker-2, so it comes last.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cluster_helpers import SCRIPT, read_trials, run_cli

pytestmark = pytest.mark.slow

WORKERS = ("worker-1", "worker-2")


def _worker_ids(cluster: dict[str, Any]) -> set[str]:
    return {cluster["by_name"][w]["node_id"] for w in WORKERS}


def _listening_hosts(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (from /proc/net/tcp and tcp6)."""
    hosts = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                hosts.add(addr)
    return hosts


def test_dashboard_listens_on_loopback_only(cluster: dict[str, Any]) -> None:
    port = int(cluster["dashboard"].rsplit(":", 1)[1])
    assert _listening_hosts(port) == {"0100007F"}  # 127.0.0.1, nothing else


def test_jobs_api_requires_the_token_and_raysearch_sends_it(cluster: dict[str, Any]) -> None:
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{cluster['dashboard']}/api/jobs/", timeout=10)
    assert e.value.code == 401  # token authentication is on in the local cluster
    # with the token (sent by raysearch, no RAY_AUTH_MODE set) the request is answered
    out = run_cli("status", "nothing-yet", "--address", cluster["dashboard"], timeout=60, expect=2)
    assert "error: no raysearch job named 'nothing-yet'" in out


def test_search_through_jobs_api_spreads_trials_and_pulls_best(
        cluster: dict[str, Any], shards: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    # Tune reuses a trial's actor for the next trial: trials of a fraction of a second (2 epochs at
    # 32 px) could all run on the first worker's actor before the second worker's actor had even
    # started (a clean-clone CI run saw that twice). Trials of several seconds (64 px, 4 epochs, no
    # early stopping) outlast an actor's start, so the second worker gets one.
    out = run_cli("submit", "--address", cluster["dashboard"], "--data", shards,
                  "--results", str(results), "--name", "spread", "--num-samples", "3",
                  "--max-epochs", "4", "--scheduler", "none", "--set", "data.num_val=16",
                  "--set", "data.image_size=64")
    assert "submitted job raysearch-spread-" in out
    log = run_cli("status", "spread", "--address", cluster["dashboard"], "--follow")
    assert ": SUCCEEDED" in log, log[-3000:]
    assert "2 Parquet shard(s)" in log and "read by each trial on its node" in log

    trials = read_trials(results, "spread")
    assert len(trials) == 3 and all(t["state"] == "TERMINATED" and not t["error"] for t in trials)
    nodes = {t["node_id"] for t in trials}
    assert len(nodes) == 2 and nodes == _worker_ids(cluster)  # both workers; never the 0-CPU head
    assert {t["node_name"] for t in trials} == set(WORKERS)
    table = run_cli("status", "spread", "--results", str(results))
    assert "worker-1" in table and "worker-2" in table

    best = run_cli("best", "spread", "--results", str(results), "--out", str(tmp_path / "best"))
    assert "(loads)" in best and (tmp_path / "best" / "checkpoint.pt").is_file()


def test_two_worker_trial_trains_ddp_across_two_nodes(
        cluster: dict[str, Any], shards: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    run_cli("submit", "--address", cluster["address"], "--data", shards, "--results", str(results),
            "--name", "ddp", "--num-samples", "1", "--max-epochs", "2", "--workers-per-trial", "2",
            "--cpus-per-worker", "1", "--set", "data.num_val=16")
    (trial,) = read_trials(results, "ddp")
    assert trial["state"] == "TERMINATED" and trial["epochs"] == 2
    ranks = trial["worker_nodes"]
    assert [r["rank"] for r in ranks] == [0, 1]
    assert {r["node_id"] for r in ranks} == _worker_ids(cluster)  # one rank on each worker node
    best = run_cli("best", "ddp", "--results", str(results), "--out", str(tmp_path / "best"))
    assert "(loads)" in best


def test_refine_trains_its_population_on_the_worker_nodes(
        cluster: dict[str, Any], shards: str, tmp_path: Path) -> None:
    """A search with its driver attached to the cluster, then its refinement as a Ray Job with
    two Ray Train workers per member: the members' ranks train on the worker nodes, and PBT's
    exploit hands one member's checkpoint to the other."""
    results = tmp_path / "results"
    run_cli("submit", "--address", cluster["address"], "--results", str(results), "--data", shards,
            "--name", "src", "--num-samples", "2", "--max-epochs", "1", "--scheduler", "none",
            "--set", "data.num_val=16")
    out = run_cli("refine", "src", "--address", cluster["dashboard"], "--results", str(results),
                  "--population", "2", "--epochs", "2", "--perturb-interval", "1",
                  "--workers-per-trial", "2", "--cpus-per-worker", "0.5")
    assert "submitted job raysearch-src-refine-" in out, out
    log = run_cli("status", "src-refine", "--address", cluster["dashboard"], "--follow")
    assert ": SUCCEEDED" in log and "refine finished" in log, log[-3000:]
    members = read_trials(results, "src-refine")
    assert len(members) == 2 and all(
        t["state"] == "TERMINATED" and t["epochs"] == 2 for t in members), members
    ranks = {r["node_id"] for t in members for r in t["worker_nodes"]}
    assert ranks <= _worker_ids(cluster) and all(len(t["worker_nodes"]) == 2 for t in members)
    (taker,) = [t for t in members if t["exploits"]]  # synch PBT: the lower of two takes the upper's
    assert taker["exploits"][0]["epoch"] == 2 and taker["history"][-1]["resumed_from_epoch"] == 1


def test_a_failing_job_reports_raysearchs_error(cluster: dict[str, Any], tmp_path: Path) -> None:
    """A path that does not exist on the cluster fails the job with the one-line user error."""
    run_cli("submit", "--address", cluster["dashboard"], "--name", "nodata",
            "--data", "/nonexistent/shards", "--results", str(tmp_path / "results"))
    out = run_cli("status", "nodata", "--address", cluster["dashboard"], "--follow", expect=1)
    assert ": FAILED" in out and "exit code 2" in out
    assert "error: data path /nonexistent/shards does not exist" in out


def _kill_when_training_on(node: dict[str, Any], results: Path, name: str, state_file: str,
                           min_epochs: int, timeout: float = 240) -> dict[str, Any]:
    """Wait until a trial on ``node`` has reported ``min_epochs`` epochs, then kill the node."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        trials = read_trials(results, name)
        on = [t for t in trials if t.get("node_id") == node["node_id"] and t["state"] == "RUNNING"
              and t["epochs"] >= min_epochs]
        if on:
            subprocess.run([sys.executable, str(SCRIPT), "--state", state_file, "kill", node["name"]],
                           check=True, capture_output=True, timeout=30)
            return on[0]
        time.sleep(0.2)
    raise AssertionError(f"no trial reached {min_epochs} epochs on {node['name']} in {timeout} s")


def test_killing_a_worker_node_mid_trial_retries_it_and_loses_nothing(
        cluster: dict[str, Any], tmp_path: Path) -> None:
    results, epochs = tmp_path / "results", 6
    spec = tmp_path / "search.json"  # grace_period = epochs: ASHA stops nothing, every trial runs out
    spec.write_text(json.dumps({"name": "survive", "num_samples": 2, "max_epochs": epochs,
                                "grace_period": epochs, "max_failures": 1,
                                "results": str(results)}))
    run_cli("submit", "--address", cluster["dashboard"], "--spec", str(spec))
    victim = cluster["by_name"]["worker-2"]
    killed = _kill_when_training_on(victim, results, "survive", cluster["state_file"], min_epochs=2)
    assert killed["epochs"] < epochs

    log = run_cli("status", "survive", "--address", cluster["dashboard"], "--follow")
    assert ": SUCCEEDED" in log, log[-3000:]
    trials = {t["number"]: t for t in read_trials(results, "survive")}
    assert len(trials) == 2
    for t in trials.values():  # nothing lost: both trials ran all their epochs, in order
        assert t["state"] == "TERMINATED" and t["epochs"] == epochs and not t["error"]
        assert [h["epoch"] for h in t["history"]] == list(range(1, epochs + 1))
        assert t["best_checkpoint"] and Path(t["best_checkpoint"]).is_dir()
    retried = trials[killed["number"]]
    (failure,) = retried["failures"]
    assert failure["node_name"] == "worker-2" and failure["epochs"] >= 2
    before, after = retried["nodes"]
    assert before["node_name"] == "worker-2" and after["node_name"] == "worker-1"
    # resumed from its last checkpoint, not from scratch
    assert 2 < after["from_epoch"] <= failure["epochs"] + 1
    assert "retried" in run_cli("status", "survive", "--results", str(results))
