"""submit --warm-start: earlier searches' trials told to a new study, their best run first, and
incompatible spaces refused before anything starts (no Ray: the study and the searcher only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from raysearch.cli import main
from raysearch.errors import UserError
from raysearch.search.runner import Prepared, SearchSpec, check_search, prepare_search, write_spec
from raysearch.search.study import StudySearch, study_storage
from raysearch.search.warm import WARM_ATTR, load_warm_start

FIXED = """
fixed:
  data.num_images: 64
  data.num_val: 8
  model.critic_channels: 8
  train.batch_size: 16
  train.epochs: 2
"""
NARROW = FIXED + """  model.skip: true
parameters:
  optim.lr_g: {type: float, low: 1.0e-4, high: 1.0e-3, log: true}
  model.depth: {type: int, low: 2, high: 3}
"""
# the same, widened: a larger range, and a parameter the first search fixed (skip) now searched,
# with a knob that exists only without skip connections
WIDE = FIXED + """parameters:
  optim.lr_g: {type: float, low: 5.0e-5, high: 2.0e-3, log: true}
  model.depth: {type: int, low: 2, high: 4}
  model.skip: {type: categorical, choices: [true, false]}
  model.base_channels: {type: categorical, choices: [8, 16], when: {model.skip: false}}
"""


def score(params: dict[str, Any]) -> float:
    return 20.0 + 1e3 * params["optim.lr_g"] + params["model.depth"]


def earlier_search(tmp_path: Path, name: str, space_text: str, trials: int = 6) -> SearchSpec:
    """An experiment as a finished search leaves it: raysearch.json and its Optuna study, whose
    trials were asked through the space's define-by-run function (two of them PRUNED)."""
    space = tmp_path / f"{name}.yaml"
    space.write_text(space_text)
    spec = SearchSpec(name=name, space_path=str(space), results=str(tmp_path / "results"))
    parsed, base, objectives = check_search(spec, say=lambda _m: None)
    spec.experiment.mkdir(parents=True)
    write_spec(Prepared(spec, parsed, base, "val_psnr", "max", None, objectives))
    study = optuna.create_study(storage=study_storage(spec.study_url), study_name=name,
                                direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=1))
    for i in range(trials):
        trial = study.ask()
        parsed.define_by_run()(trial)
        trial.report(score(trial.params) - 1, 1)
        if i % 3 == 2:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, score(trial.params))
    return spec


def new_spec(tmp_path: Path, space_text: str, warm: tuple[str, ...], **kw: Any) -> SearchSpec:
    space = tmp_path / "new.yaml"
    space.write_text(space_text)
    return SearchSpec(name="new", space_path=str(space), results=str(tmp_path / "results"),
                      warm_start=warm, **kw)


def test_a_widened_search_is_told_the_earlier_trials_and_runs_their_best_first(tmp_path: Path
                                                                              ) -> None:
    old = earlier_search(tmp_path, "first", NARROW)
    spec = new_spec(tmp_path, WIDE, ("first", "first"))  # a name given twice counts once
    space, base, objectives = check_search(spec, say=lambda _m: None)
    warm = load_warm_start(spec.warm_start, tmp_path / "results", space, base, objectives)
    assert warm is not None and warm.sources == ["first"] and warm.left_out == 0
    assert len(warm.trials) == 6
    assert "6 finished trials told to the sampler" in warm.lines[0]
    earlier = optuna.load_study(study_name="first", storage=study_storage(old.study_url))
    best = earlier.best_trial
    # written in the new space: the skip connections the first search fixed are a value now
    assert warm.first == [{**best.params, "model.skip": True}]

    spec.experiment.mkdir(parents=True)
    sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=6)
    searcher = StudySearch(space=space.define_by_run(), metric="val_psnr", mode="max",
                           sampler=sampler, study_name="new",
                           storage=study_storage(spec.study_url), max_t=2, warm=warm)
    study = searcher.study
    told = study.get_trials(deepcopy=False)
    assert [t.state for t in told].count(TrialState.PRUNED) == 2
    assert all(t.user_attrs[WARM_ATTR].startswith("first#") for t in told[:6])
    assert [t.value for t in told if t.state == TrialState.COMPLETE] == \
        [t.value for t in earlier.trials if t.state == TrialState.COMPLETE]
    assert told[2].intermediate_values == earlier.trials[2].intermediate_values
    first = searcher.suggest("tune-1")
    assert first == warm.first[0]  # the enqueued best is the new search's first trial
    second = searcher.suggest("tune-2")  # the sampler's own (the told trials are its start-up)
    assert second is not None and second != first and "model.skip" in second
    assert len(study.get_trials(deepcopy=False)) == 8

    # a study loaded again (as a resume does) is not given the trials a second time
    again = StudySearch(space=space.define_by_run(), metric="val_psnr", mode="max",
                        sampler=optuna.samplers.TPESampler(seed=0), study_name="new",
                        storage=study_storage(spec.study_url), max_t=2, warm=warm)
    assert len(again.study.trials) == 8


@pytest.mark.parametrize("space_text, names, message", [
    (NARROW.replace("high: 1.0e-3", "high: 5.0e-4"), ("wide",),
     "parameters.optim.lr_g was searched over [5e-05, 0.002] there"),
    (NARROW.replace("low: 1.0e-4, high: 1.0e-3", "low: 5.0e-5, high: 2.0e-3")
     .replace("high: 3}", "high: 4}"), ("wide",), "parameters.model.skip was searched there, but"),
    (WIDE.replace("train.epochs: 2", "train.epochs: 3"), ("wide",),
     "its trials trained with train.epochs = 2, this search's with 3; give --max-epochs 2 to "
     "match"),
    (WIDE.replace("data.num_val: 8", "data.num_val: 16"), ("wide",),
     "data.num_val = 8, this search's with 16; give --set data.num_val=8 to match"),
    (WIDE.replace("choices: [true, false]", "choices: [false]"), ("wide",),
     "parameters.model.skip had the choices [True, False] there"),
    (WIDE.replace("model.depth: {type: int", "model.depth: {type: float"), ("wide",),
     "parameters.model.depth is int there and float"),
    (WIDE, ("nosuch",), "--warm-start nosuch: no experiment 'nosuch' in"),
])
def test_an_incompatible_warm_start_is_one_error_naming_the_parameter(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], space_text: str,
        names: tuple[str, ...], message: str) -> None:
    earlier_search(tmp_path, "wide", WIDE)
    space = tmp_path / "new.yaml"
    space.write_text(space_text)
    argv = ["submit", "--space", str(space), "--results", str(tmp_path / "results"),
            "--name", "new"]
    for n in names:
        argv += ["--warm-start", n]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: --warm-start"), err
    assert message in err, err
    assert len(err.strip().splitlines()) == 1
    # refused before the experiment folder (and Ray: tests/reliability's case "warm-start from
    # nothing" checks that in a session where no test has started it yet)
    assert not (tmp_path / "results" / "new").exists()


def test_other_objectives_and_a_missing_study_are_refused(tmp_path: Path) -> None:
    old = earlier_search(tmp_path, "psnr", WIDE)
    with pytest.raises(UserError, match=r"it optimised val_psnr \(max\), this search val_ssim"):
        prepare_search(new_spec(tmp_path, WIDE, ("psnr",), metric="val_ssim"), say=lambda _m: None)
    (old.experiment / "optuna.journal").unlink()
    with pytest.raises(UserError, match="its Optuna study journal:.* is gone"):
        prepare_search(new_spec(tmp_path, WIDE, ("psnr",)), say=lambda _m: None)
    assert not (old.experiment / "optuna.journal").exists()  # not created empty by looking
