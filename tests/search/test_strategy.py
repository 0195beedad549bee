"""Search strategies: --sampler, --scheduler, --startup-trials and --epoch-budget on real training,
and the anytime curves computed from what the searches record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from raysearch.cli import main
from raysearch.errors import UserError
from raysearch.search.anytime import anytime_curve, epochs_to_reach, kendall_tau, pad_curve, ranking
from raysearch.search.experiment import budget_end, open_experiment, status_table
from raysearch.search.records import TrialRecord
from raysearch.search.resume import resume_search
from raysearch.search.runner import SearchSpec, prepare_search, run_search
from raysearch.search.space import parse_space
from raysearch.search.strategy import (
    SAMPLERS,
    Strategy,
    check_sampler_space,
    check_strategy,
    describe_settings,
    hyperband_brackets,
    make_sampler,
    strategy_label,
)
from raysearch.search.study import open_study

SPACE = """
fixed:
  data.num_images: 160
  data.num_val: 16
  model.critic_channels: 8
  model.base_channels: 8
  train.batch_size: 16
parameters:
  model.depth: {type: int, low: 2, high: 3}
  optim.lr_g: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
"""


def test_strategy_parse_and_errors(tmp_path: Path) -> None:
    assert Strategy.parse("random+none") == Strategy("random", "none")
    assert Strategy.parse("tpe").label == "tpe+asha"
    assert Strategy.parse("tpe-group+hyperband") == Strategy("tpe-group", "hyperband")
    with pytest.raises(UserError, match="--sampler must be one of gp, gp-sobol, random, tpe, tpe-group"):
        Strategy.parse("grid+asha")
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    for bad, message in ((dict(scheduler="fifo"), "--scheduler must be one of asha, hyperband, none"),
                         (dict(epoch_budget=-1), "--epoch-budget must be >= 0"),
                         (dict(startup_trials=-2), "--startup-trials must be >= 0")):
        with pytest.raises(UserError, match=message):
            prepare_search(SearchSpec(name="x", space_path=str(space), results=str(tmp_path),
                                      **bad), say=lambda _m: None)


def test_cli_refuses_unknown_sampler(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["submit", "--sampler", "grid"])
    assert exc.value.code == 2
    assert "'grid' is not one of 'gp', 'gp-sobol', 'random', 'tpe', 'tpe-group'" in capsys.readouterr().err


def test_anytime_curve_counts_epochs_in_the_order_reported() -> None:
    trials = [  # two trials side by side: their epochs interleave by reported_at
        TrialRecord("a", 0, history=[{"epoch": 1, "val_psnr": 15.0, "reported_at": 1.0},
                                     {"epoch": 2, "val_psnr": 18.0, "reported_at": 3.0}]),
        TrialRecord("b", 1, history=[{"epoch": 1, "val_psnr": 17.0, "reported_at": 2.0},
                                     {"epoch": 2, "val_psnr": float("nan"), "reported_at": 4.0},
                                     {"epoch": 3, "val_psnr": 19.0, "reported_at": 5.0}]),
    ]
    curve = anytime_curve(trials, "val_psnr", "max")
    assert curve.tolist() == [15.0, 17.0, 18.0, 18.0, 19.0]
    assert anytime_curve(trials, "val_psnr", "min").tolist() == [15.0] * 5
    assert epochs_to_reach(curve, 18.0, "max") == 3 and epochs_to_reach(curve, 20, "max") is None
    assert pad_curve(curve, 7).tolist() == [*curve.tolist(), 19.0, 19.0]
    assert np.array_equal(pad_curve(curve, 2), curve[:2])


def test_ranking_and_kendall_tau() -> None:
    real = {"a": 20.0, "b": 20.5, "c": 21.0, "d": 21.0}
    assert ranking(real, "max") == "c = d > b > a"
    assert kendall_tau(real, real) == pytest.approx(1.0)
    assert kendall_tau({"a": 1, "b": 2, "c": 3}, {"a": 3, "b": 2, "c": 1}) == pytest.approx(-1.0)


@pytest.mark.slow
def test_random_search_without_early_stopping_then_a_budget(ray_local: None, tmp_path: Path
                                                            ) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    common = dict(space_path=str(space), results=str(tmp_path / "results"), max_epochs=2,
                  max_concurrent=2, seed=3)
    lines: list[str] = []
    fifo = SearchSpec(name="fifo", sampler="random", scheduler="none", num_samples=3, **common)
    run_search(prepare_search(fifo, say=lines.append), say=lines.append)
    trials = open_experiment("fifo", tmp_path / "results").trials
    assert len(trials) == 3 and all(t.epochs == 2 and not t.stopped_early for t in trials)
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 3
    assert any("random search + no early stopping" in ln for ln in lines)

    budget = SearchSpec(name="budget", num_samples=20, epoch_budget=3, **common)  # TPE + ASHA
    run_search(prepare_search(budget, say=lines.append), say=lines.append)
    trials = open_experiment("budget", tmp_path / "results").trials
    spent = sum(len(t.history) for t in trials)
    assert 3 <= spent <= 4  # the budget ends the search; a trial running beside may add one
    assert len(trials) < 20


def test_time_budget_ends_the_search_and_keeps_what_finished(ray_local: None, tmp_path: Path
                                                             ) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    spec = SearchSpec(name="timed", space_path=str(space), results=str(tmp_path / "results"),
                      num_samples=200, max_epochs=3, max_concurrent=2, time_budget_s=40)
    lines: list[str] = []
    best = run_search(prepare_search(spec, say=lines.append), say=lines.append)
    trials = open_experiment("timed", tmp_path / "results").trials
    # (20 s was too short on a loaded machine: no trial finished an epoch)
    assert 1 <= len(trials) < 200  # 200 trials of 3 epochs cannot fit in 40 s here
    assert best is not None and best.best_checkpoint
    assert any("at most 40 s" in ln for ln in lines)
    assert any("time budget of 40 s reached" in ln for ln in lines)
    # trials the budget cut short are ended in the records and PRUNED in the study, not RUNNING
    assert all(t.state in ("TERMINATED", "ERROR") for t in trials)
    study = open_study(spec.study_url, "timed")
    states = {t.state for t in study.get_trials(deepcopy=False)}
    assert optuna.trial.TrialState.RUNNING not in states
    # the end is recorded: status says why, and resume leaves the search as it is (Tune's restored
    # stopper would end it again at once, and it used to say "continue with: raysearch resume")
    exp = open_experiment("timed", tmp_path / "results")
    assert exp.ended_by == "time budget of 40 s reached"
    assert "\nended early: time budget of 40 s reached" in status_table(exp)
    before = (exp.path / "trials.json").read_text()
    said: list[str] = []
    resumed = resume_search("timed", str(tmp_path / "results"), say=said.append)
    assert resumed.already_finished and len(said) == 1, said
    assert said[0].startswith("search 'timed' already ended: time budget of 40 s reached; nothing "
                              "to resume") and "raysearch submit --warm-start timed --results" in said[0]
    assert (exp.path / "trials.json").read_text() == before


def test_an_epoch_budget_spent_ends_a_search_recorded_before_the_end_was() -> None:
    """A search whose records predate raysearch.json's "ended": its epoch budget, if spent."""
    trials = [TrialRecord(f"t{i}", i, history=[{"epoch": e} for e in range(1, 3)])
              for i in range(2)]
    assert budget_end({"spec": {"epoch_budget": 4}}, trials) == (
        "epoch budget of 4 reached (4 epochs trained)")
    assert budget_end({"spec": {"epoch_budget": 5}}, trials) is None
    assert budget_end({"spec": {}}, trials) is None
    assert budget_end({"spec": {"epoch_budget": 5}, "ended": {"reason": "time budget of 9 s "
                                                               "reached"}}, trials) == (
        "time budget of 9 s reached")


def test_negative_time_budget_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["submit", "--time-budget", "-5"])
    assert exc.value.code == 2
    assert "--time-budget must be a finite number >= 0" in capsys.readouterr().err


def test_samplers_and_schedulers_are_registries_that_name_themselves() -> None:
    from raysearch.search.strategy import SCHEDULERS, strategy_label

    assert {"tpe", "random"} <= set(SAMPLERS) and {"asha", "none"} <= set(SCHEDULERS)
    assert strategy_label("random", "none") == "random search + no early stopping"
    assert strategy_label("tpe", "asha") == "TPE + ASHA"
    assert strategy_label("tpe-group", "hyperband") == \
        "TPE (multivariate, grouped) + asynchronous Hyperband"
    assert strategy_label("gp", "none") == "Gaussian process (GPSampler) + no early stopping"
    with pytest.raises(UserError, match="--sampler must be one of gp, gp-sobol, random, tpe, .*got 'cmaes'"):
        check_strategy("cmaes", "asha")
    # the settings that decide a strategy, as the search's first line says them
    assert describe_settings("tpe-no-liar", "hyperband", 4, 4, 1, 2) == (
        "TPE (no constant liar), 4 random start-up trials + asynchronous Hyperband (3 brackets, "
        "first judged after 1, 2, 4 epochs; reduction factor 2)")
    assert describe_settings("random", "asha", 4, 6, 2, 3) == (
        "random search + ASHA (1 bracket, first judged after 2 epochs; reduction factor 3)")
    assert [hyperband_brackets(*a) for a in ((4, 1, 2), (8, 1, 2), (1, 1, 2), (9, 1, 3), (8, 3, 2))
            ] == [3, 4, 1, 3, 2]


UNCONDITIONAL = parse_space({"parameters": {
    "optim.lr_g": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "model.depth": {"type": "int", "low": 2, "high": 4},
    "model.skip": {"type": "categorical", "choices": [True, False]}}}, where="test")


@pytest.mark.parametrize("name", SAMPLERS.names())
def test_every_sampler_proposes_in_a_real_study_with_its_settings(name: str) -> None:
    """Each registered sampler, built as a search builds it, proposes the space's parameters in
    an Optuna study past its start-up trials; TPE's entries pass their settings to Optuna."""
    sampler = make_sampler(name, seed=3, startup_trials=2)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    define = UNCONDITIONAL.define_by_run()

    def objective(trial: optuna.Trial) -> float:
        define(trial)
        return -abs(np.log10(trial.params["optim.lr_g"]) + 3) + 0.1 * trial.params["model.depth"]

    study.optimize(objective, n_trials=3)  # 2 at random, 1 modelled
    assert len(study.trials) == 3
    assert all(set(t.params) == {p.name for p in UNCONDITIONAL.params} for t in study.trials)
    for key, value in SAMPLERS.get(name).settings.items():
        assert getattr(sampler, f"_{key}") == value, key


def test_gp_refuses_a_missing_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    """(A conditional space is a case of tests/reliability/cases.py.)"""
    import importlib.util

    find = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda n, *a: None if n == "scipy" else find(n, *a))
    with pytest.raises(UserError, match=r"--sampler gp needs scipy .*pip install scipy"):
        check_sampler_space("gp", UNCONDITIONAL)


class _Lowest(optuna.samplers.BaseSampler):
    """A stand-in model that always proposes each distribution's lowest value."""

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        return dist.low


def test_interleaved_sampler_draws_every_third_proposal_at_random() -> None:
    """Trials 2, 5, 8, ... come from the random sampler, the others from the model, which is
    told every trial (its good set can take up a random proposal that did well)."""
    from raysearch.search.interleaved import InterleavedRandomSampler

    study = optuna.create_study(sampler=InterleavedRandomSampler(_Lowest(), every=3, seed=0))
    study.optimize(lambda t: t.suggest_float("x", 1.0, 2.0), n_trials=9)
    xs = [t.params["x"] for t in study.trials]
    assert [x > 1.0 for x in xs] == [False, False, True] * 3
    assert len({xs[2], xs[5], xs[8]}) == 3  # fresh draws, not one value again
    with pytest.raises(ValueError, match="every must be at least 2"):
        InterleavedRandomSampler(_Lowest(), every=1)


def test_tpe_wide_keeps_a_quarter_in_the_good_set_and_pickles() -> None:
    """tpe-wide's gamma: the best quarter (rounded up, at most 25), where Optuna's default keeps a
    tenth; a module-level function, so the searcher's snapshot pickles it."""
    import pickle

    from raysearch.search.strategy import quarter_gamma

    assert [quarter_gamma(n) for n in (1, 4, 5, 20, 30, 100, 200)] == [1, 1, 2, 5, 8, 25, 25]
    sampler = make_sampler("tpe-wide", seed=0, startup_trials=4)
    assert pickle.loads(pickle.dumps(sampler))._gamma is quarter_gamma


def test_tpe_wide_builds_without_optunas_deprecation_warning() -> None:
    """Optuna deprecated ``gamma`` in 4.9 (gone in 6; pyproject pins <6): building tpe-wide must
    not print that warning at every search, and the other entries must warn about nothing."""
    import warnings

    for name in ("tpe", "tpe-wide", "gp-sobol", "tpe-sobol"):  # QMCSampler is "experimental"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            make_sampler(name, seed=0, startup_trials=4)


def test_gp_is_told_of_the_trials_asha_stopped() -> None:
    """Optuna's GPSampler alone models COMPLETE trials only: after 3 pruned trials and no complete
    one it is still in its start-up (its proposal is random). raysearch's gp counts each pruned
    trial at its last intermediate value, so the fourth proposal is the model's; the study itself
    still says PRUNED."""
    import pickle

    from optuna.samplers import GPSampler

    from raysearch.search.pruned import PrunedAsComplete, as_complete

    def fourth(sampler: optuna.samplers.BaseSampler) -> optuna.trial.FrozenTrial:
        study = optuna.create_study(direction="maximize", sampler=sampler)
        for x in (0.1, 0.5, 0.9):
            study.enqueue_trial({"x": x})
            trial = study.ask()
            trial.suggest_float("x", 0.0, 1.0)
            trial.report(-10.0 * x, 1)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        assert [t.state for t in study.trials[:3]] == [optuna.trial.TrialState.PRUNED] * 3
        return study.trials[-1]

    modelled = "gp:relative_params:0"
    assert modelled not in fourth(GPSampler(seed=0, n_startup_trials=3)).system_attrs
    gp = make_sampler("gp", seed=0, startup_trials=3)
    assert isinstance(gp, PrunedAsComplete)
    assert modelled in fourth(gp).system_attrs
    # Tune's searcher snapshot pickles the sampler, with the model it has fitted by now
    assert isinstance(pickle.loads(pickle.dumps(gp))._model, GPSampler)
    # a pruned trial is shown at its last finite value; one without a value is left as it was
    t = optuna.trial.create_trial(params={"x": 0.2}, state=optuna.trial.TrialState.PRUNED,
                                  distributions={"x": optuna.distributions.FloatDistribution(0, 1)},
                                  intermediate_values={1: -1.0, 2: -0.5, 3: float("nan")})
    shown = as_complete(t)
    assert shown is not None and shown.state == optuna.trial.TrialState.COMPLETE
    assert shown.value == -0.5 and t.state == optuna.trial.TrialState.PRUNED
    assert as_complete(optuna.trial.create_trial(
        params={"x": 0.2}, distributions={"x": optuna.distributions.FloatDistribution(0, 1)},
        state=optuna.trial.TrialState.PRUNED)) is None


def test_gp_steers_away_from_what_asha_stopped() -> None:
    """Pruned trials crowd the low end of x with poor scores and one complete trial scores well at
    the high end: the GP that is told of them proposes far from the crowd (GPSampler alone is
    still in its start-up here, and this seed's random proposals include 0.0)."""
    from raysearch.search.pruned import PrunedAsComplete

    study = optuna.create_study(direction="maximize", sampler=PrunedAsComplete(
        optuna.samplers.GPSampler(seed=1, n_startup_trials=4)))
    for x, value, pruned in ((0.02, 0.0, True), (0.08, 0.1, True), (0.14, 0.2, True),
                             (0.2, 0.3, True), (0.25, 0.35, True), (0.8, 1.0, False)):
        study.enqueue_trial({"x": x})
        trial = study.ask()
        trial.suggest_float("x", 0.0, 1.0)
        trial.report(value, 1)
        study.tell(trial, None if pruned else value,
                   state=optuna.trial.TrialState.PRUNED if pruned else None)
    proposals = []
    for _ in range(3):
        trial = study.ask()
        proposals.append(trial.suggest_float("x", 0.0, 1.0))
        study.tell(trial, proposals[-1])
    assert min(proposals) > 0.3, proposals


def test_sobol_start_spreads_the_start_up_trials_then_hands_over_to_the_gp() -> None:
    """gp-sobol's start-up trials after the first (random, as in Optuna's QMCSampler) come from a
    scrambled Sobol sequence: 7 in 7 different eighths of x in every seed, where 7 random draws
    manage it 2 % of the time. From the first trial after the start-up on, the GP models; the
    sampler pickles with the sequence and the model (Tune's searcher snapshot)."""
    import pickle

    for seed in range(5):
        sampler = make_sampler("gp-sobol", seed=seed, startup_trials=8)
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(lambda t: -(t.suggest_float("x", 0.0, 1.0) - 0.7) ** 2, n_trials=10)
        xs = [t.params["x"] for t in study.trials]
        assert len({int(8 * x) for x in xs[1:8]}) == 7, (seed, xs)
        modelled = ["gp:relative_params:0" in t.system_attrs for t in study.trials]
        assert modelled == [False] * 8 + [True] * 2, seed
        assert pickle.loads(pickle.dumps(sampler)) is not None


def test_sobol_start_counts_what_the_model_counts_and_decides_once_per_trial() -> None:
    """Trials proposed while fewer than the start-up count have finished come from the sequence,
    however many are running; which finished trials count is the model's rule (TPE counts pruned
    ones, the GP's view counts them as complete, so tpe-sobol and gp-sobol both do)."""
    from optuna.trial import TrialState

    from raysearch.search.sobol import SobolStart

    def next_x(counted: tuple[TrialState, ...]) -> float:
        study = optuna.create_study(sampler=SobolStart(_Lowest(), 2, seed=0, counted=counted))
        running = [study.ask() for _ in range(3)]  # none finished: all three from the sequence
        xs = [t.suggest_float("x", 1.0, 2.0) for t in running]
        assert min(xs) > 1.0, xs
        for t in running[:2]:
            t.report(0.5, 1)
            study.tell(t, state=TrialState.PRUNED)
        return study.ask().suggest_float("x", 1.0, 2.0)

    assert next_x((TrialState.COMPLETE, TrialState.PRUNED)) == 1.0  # the model's lowest value
    assert next_x((TrialState.COMPLETE,)) > 1.0  # still starting: no trial completed
    assert make_sampler("tpe-sobol", seed=0, startup_trials=2)._counted == (
        TrialState.COMPLETE, TrialState.PRUNED)
    assert describe_settings("gp-sobol", "asha", 4, 4, 1, 2).startswith(
        "Gaussian process (GPSampler), 4 Sobol start-up trials + ASHA")
    assert describe_settings("tpe-sobol", "none", 1, 4, 1, 2) == (
        "TPE, 1 Sobol start-up trial + no early stopping")
    assert strategy_label("gp-sobol", "asha") == "Gaussian process (GPSampler), Sobol start + ASHA"
