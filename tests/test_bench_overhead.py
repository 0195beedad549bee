"""The overhead bench's analysis (bench/bench_overhead_vs_tune.py, issue 20 item 5): the slopes it
fits, one per actor count, and the pooled ratio with its interval. No Ray: rows as runs write them."""

import json
from pathlib import Path

from bench.bench_overhead_vs_tune import fits, pooled, ratio_intervals


def _rows(driver: str, per_trial: dict[int, float], start: float = 3.0) -> list[dict]:
    """Runs at 100, 300 and 1000 trials, on one actor and on two, with a known cost per trial."""
    rows = []
    for actors, s in per_trial.items():
        for n, noise in ((100, 0.3), (300, -0.2), (1000, 0.1)):
            rows.append({"driver": driver, "trials": n, "wall_s": start + s * n + noise,
                         "driver_cpu_s": 0.5 * s * n, "actors": actors})
    return rows


def test_fits_recover_each_actor_counts_own_slope() -> None:
    f = fits(_rows("tune-reuse", {1: 0.04, 2: 0.02}) + _rows("raysearch", {1: 0.05}))
    assert abs(f["tune-reuse"]["per_trial_s_one_actor"] - 0.04) < 1e-3
    assert abs(f["tune-reuse"]["per_trial_s_two_actor"] - 0.02) < 1e-3
    assert abs(f["raysearch"]["per_trial_s_one_actor"] - 0.05) < 1e-3
    assert "per_trial_s_two_actor" not in f["raysearch"]  # no two-actor runs: no slope
    assert f["raysearch"]["one_actor_runs"] == 3


def test_like_for_like_ratio_and_its_interval() -> None:
    rows = _rows("tune-reuse", {1: 0.04, 2: 0.02}) + _rows("raysearch", {1: 0.05, 2: 0.02})
    table = ratio_intervals(rows, draws=200)
    one = next(line for line in table.splitlines() if line.startswith("| raysearch / tune-reuse | 1 |"))
    two = next(line for line in table.splitlines() if line.startswith("| raysearch / tune-reuse | 2 |"))
    assert "| 1.25 |" in one and "| 1.00 |" in two
    low, high = (float(x) for x in one.rstrip(" |").rsplit("| ", 1)[1].split("-"))
    assert low <= 1.25 <= high
    assert "tune-lean" not in table  # a pair without runs has no line


def test_every_pair_with_runs_gets_its_ratio() -> None:
    rows = (_rows("tune-reuse", {1: 0.04}) + _rows("tune-lean", {1: 0.03})
            + _rows("raysearch", {1: 0.042}) + _rows("raysearch-tune-logs", {1: 0.048}))
    lines = ratio_intervals(rows, draws=100).splitlines()
    ratio = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[3] for line in lines[2:]}
    assert ratio == {"raysearch / tune-reuse": "1.05", "raysearch-tune-logs / tune-reuse": "1.20",
                     "raysearch / raysearch-tune-logs": "0.87", "raysearch / tune-lean": "1.40"}


def test_pool_fits_each_round_and_all_together(tmp_path: Path) -> None:
    files = []
    for i, s in enumerate((0.05, 0.06)):
        f = tmp_path / f"round{i}.json"
        f.write_text(json.dumps({"date": "2026-12-06", "raysearch_snapshots": "floor",
                                 "rows": _rows("tune-reuse", {1: 0.04}) + _rows("raysearch", {1: s})}))
        files.append(f)
    text = pooled(files)
    assert text.count("### ") == 3 and "### all 2 rounds together" in text
    assert "| 1.25 |" in text and "| 1.50 |" in text  # each round's ratio over all its runs
