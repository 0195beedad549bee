"""bench/bench_candidates.py's analysis, on the archived real searches of the 20-trial benchmark."""

from __future__ import annotations

import json

import numpy as np

from bench.bench_candidates import analyse, markdown
from bench.bench_seed_reliability import REPO
from bench.bench_strategies import BASELINE_LABEL, DEFAULT_LABEL, paired_ratios
from raysearch.search.compare import strategy_curves

RESULTS = REPO / "bench" / "results" / "budget20_ema"


def test_analyse_gives_the_reported_paired_figures_and_the_unpaired_share() -> None:
    """gp and the default on seeds 0-4: the per-seed ratios and mean curves bench_candidates
    reported when it ran them, and gp's unpaired share over the 20 pairs of different seeds."""
    searches = RESULTS / "searches"
    runs = {label: [searches / f"{prefix}-s{s}" for s in range(5)]
            for label, prefix in ((BASELINE_LABEL, "random-none"), (DEFAULT_LABEL, "tpe-asha"),
                                  ("gp+asha", "gp-asha"))}
    rows = {r["strategy"]: r for r in analyse(runs, 80)}
    reported = {r["strategy"]: r for r in
                json.loads((RESULTS / "candidates_gp.json").read_text())["rows"]}
    for label in ("gp+asha", DEFAULT_LABEL):
        assert rows[label]["per_seed_ratio"] == reported[label]["per_seed_ratio"]
        assert rows[label]["mean_curve_ratio"] == reported[label]["mean_curve_ratio"]
    # the unpaired share through another route: bench_strategies' paired ratios against (a)'s
    # seeds rotated by 1-4 places cover each pair of different seeds once
    base = strategy_curves(runs[BASELINE_LABEL], "val_psnr", "max", 80).curves
    mine = strategy_curves(runs["gp+asha"], "val_psnr", "max", 80).curves
    ratios = [p["ratio"] for k in range(1, 5)
              for p in paired_ratios(np.roll(base, k, axis=0), mine, 80, "max")]
    gp = rows["gp+asha"]["unpaired"]
    assert gp["pairs"] == len(ratios) == 20
    assert gp["within_half"] == np.mean([r is not None and r <= 0.5 for r in ratios])
    assert gp["reached"] == np.mean([r is not None for r in ratios])
    assert "unpaired: within half" in markdown(list(rows.values()), {}, 80)
