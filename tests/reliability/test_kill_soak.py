"""One search, its driver SIGKILLed at five seeded random moments, resumed after each: no
finished trial is lost or changed, every configuration runs once, and the search ends with the
trials it asked for. Prints what the faults cost (trials lost, epochs run twice).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from tests.search.survive_helpers import cli, kill_driver, read_records, wait_for, write_space

NUM_SAMPLES, EPOCHS, KILLS, SEED = 6, 4, 5, 20261202


@pytest.mark.slow
def test_five_kills_at_seeded_moments_lose_no_finished_trial(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    space = write_space(tmp_path, {
        "optim.lr_g": {"type": "float", "low": 1.0e-4, "high": 2.0e-3, "log": True},
        "model.base_channels": {"type": "categorical", "choices": [16, 24]},
    }, **{"data.num_images": 1200})
    results, name = tmp_path / "results", "soak"
    exp, args = results / name, ["--results", str(results)]
    trials_json = exp / "trials.json"
    finished: dict[str, dict] = {}  # trial id -> its record when first seen ended
    kills: list[dict] = []
    proc = cli("submit", "--name", name, "--space", str(space), "--num-samples", str(NUM_SAMPLES),
               "--max-epochs", str(EPOCHS), "--max-concurrent", "2", "--grace-period", "2", *args,
               log=tmp_path / "run0.log")
    def epochs() -> int:
        return sum(len(t["history"]) for t in read_records(trials_json) or [])

    for k in range(KILLS):
        # each kill lands while trials train: after this run's first new epoch, then a random wait
        before = epochs()
        wait_for("a new epoch", lambda b=before, p=proc: epochs() > b or p.poll() is not None, 300)
        delay = rng.uniform(0.0, 4.0)
        time.sleep(delay)
        if proc.poll() is not None:
            break  # the search finished before this kill
        kill_driver(proc)
        at_kill = read_records(trials_json) or []
        kills.append({"wait_s": round(delay, 1), "epochs": sum(len(t["history"]) for t in at_kill),
                      "ended": sum(t["state"] == "TERMINATED" for t in at_kill),
                      "running": sum(t["state"] == "RUNNING" for t in at_kill)})
        for t in at_kill:
            if t["state"] == "TERMINATED":
                assert finished.setdefault(t["trial_id"], t) == t, f"kill {k}: a finished trial changed"
        proc = cli("resume", name, *args, log=tmp_path / f"run{k + 1}.log")
    assert proc.wait(timeout=900) == 0, (tmp_path / f"run{len(kills)}.log").read_text()[-3000:]
    final = read_records(trials_json)
    by_id = {t["trial_id"]: t for t in final}
    for tid, before in finished.items():
        assert by_id[tid] == before, "a trial that had finished was changed by a later resume"
    live = [t for t in final if t["state"] != "LOST"]
    assert len(live) == NUM_SAMPLES and all(t["state"] == "TERMINATED" for t in live), final
    configs = [json.dumps(t["params"], sort_keys=True) for t in final]
    assert len(set(configs)) == len(configs), "a configuration ran twice"
    cost = {"kills": len(kills), "lost_trials": len(final) - len(live),
            "epochs_rerun": sum(t.get("rerun_epochs", 0) for t in final),
            "epochs_trained": sum(len(t["history"]) for t in final), "moments": kills}
    print("kill soak:", json.dumps(cost))
    assert len(kills) >= 3, f"the search ended before most kills ({kills}); make it longer"
