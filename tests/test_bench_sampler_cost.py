"""bench/bench_sampler_cost.py on a tiny study: the study is filled as ASHA leaves one, and each
sampler is timed on its own proposals."""

from __future__ import annotations

import optuna

from bench.bench_sampler_cost import filled_study, measure, score


def test_the_study_is_filled_as_asha_leaves_one() -> None:
    from bench.bench_sampler_cost import REPO
    from raysearch.search.space import load_space

    space = load_space(REPO / "search_spaces" / "quickstart.yaml")
    study = filled_study(optuna.samplers.RandomSampler(seed=1), space, 8, seed=0)
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) == 2
    assert states.count(optuna.trial.TrialState.PRUNED) == 6
    assert all(len(t.intermediate_values) == 4 for t in study.trials
               if t.state == optuna.trial.TrialState.COMPLETE)


def test_the_synthetic_score_prefers_the_corner_the_real_searches_found() -> None:
    best = {"model.skip": True, "model.depth": 4, "model.base_channels": 32, "optim.lr_g": 2e-3,
            "loss.l1_hole": 3.0, "loss.adv_weight": 1e-3}
    worse = {**best, "model.base_channels": 16, "optim.lr_g": 1e-4}
    assert score(best) > score(worse)


def test_each_sampler_is_timed_on_its_proposals() -> None:
    for name in ("tpe", "gp"):
        row = measure(name, 8, proposals=1)
        assert row["sampler"] == name and row["trials"] == 8
        assert row["cpu_s_median"] > 0 and row["wall_s_median"] > 0
