"""Measure what a driver kill costs: SIGKILL `raysearch submit` at a few moments, resume, and report
how long the resume took and how much work was paid twice.

    PYTHONPATH=. .venv/bin/python bench/bench_resume.py --out /tmp/resume-bench

Each cycle is a fresh search (the quick-start space, embedded faces, 32 px) killed at one moment.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.search.survive_helpers import cli, kill_driver, read_records, wait_for

MOMENTS = {  # when to kill: a check on the trials.json records
    "mid-first-trial": lambda ts: any(t["epochs"] >= 2 for t in ts),
    "after-first-end": lambda ts: any(t["state"] == "TERMINATED" for t in ts)
    and any(t["state"] == "RUNNING" and t["epochs"] >= 1 for t in ts),
    "after-three-ends": lambda ts: sum(t["state"] == "TERMINATED" for t in ts) >= 3,
}


def cycle(out: Path, moment: str, samples: int, epochs: int) -> dict:
    name, results = f"bench-{moment}", out / "results"
    args = ["--results", str(results)]
    t_submit = time.monotonic()
    driver = cli("submit", "--name", name, "--num-samples", str(samples), "--max-epochs", str(epochs),
                 "--max-concurrent", "2", *args, log=out / f"{name}-submit.log")
    trials_json = results / name / "trials.json"
    try:
        wait_for("the first result", lambda: any(t["history"] for t in read_records(trials_json) or []),
                 900, driver)
        submit_first_s = time.monotonic() - t_submit
        wait_for(moment, lambda: MOMENTS[moment](read_records(trials_json) or []), 900, driver)
    finally:
        kill_driver(driver)
    at_kill = read_records(trials_json)
    reported_at_kill = sum(t["epochs"] for t in at_kill)
    t0 = time.monotonic()
    resumed = cli("resume", name, *args, log=out / f"{name}-resume.log")

    def new_result() -> bool:
        now = read_records(trials_json) or []
        return sum(len(t["history"]) for t in now) > sum(len(t["history"]) for t in at_kill) \
            or any(t["rerun_epochs"] for t in now)

    wait_for("the first result after the resume", new_result, 900, resumed)
    first_result_s = time.monotonic() - t0
    assert resumed.wait(timeout=1800) == 0
    total_s = time.monotonic() - t0
    log = (out / f"{name}-resume.log").read_text()
    ready = log.split("ready in ")[1]
    ready_s, ray_s, tune_s = (float(ready.split(" s")[0]), float(ready.split("(Ray ")[1].split(" s")[0]),
                              float(ready.split("Tune state ")[1].split(" s")[0]))
    final = read_records(trials_json)
    return {"moment": moment, "running_at_kill": sum(t["state"] == "RUNNING" for t in at_kill),
            "ended_at_kill": sum(t["state"] == "TERMINATED" for t in at_kill),
            "epochs_reported_at_kill": reported_at_kill,
            "epochs_rerun": sum(t["rerun_epochs"] for t in final),
            "lost_trials": sum(t["state"] == "LOST" for t in final),
            "ready_s": ready_s, "ray_s": ray_s, "tune_restore_s": tune_s,
            "first_result_s": round(first_result_s, 1),
            "submit_first_result_s": round(submit_first_s, 1),
            "resume_total_s": round(total_s, 1),
            "trials": sum(t["state"] != "LOST" for t in final)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--samples", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=4)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    rows = [cycle(a.out, m, a.samples, a.epochs) for m in MOMENTS]
    (a.out / "resume_bench.json").write_text(json.dumps(rows, indent=1))
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
