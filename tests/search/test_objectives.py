"""Several objectives: parsing, Optuna's multi-objective study, the Pareto set, pulling any trial."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from raysearch.cli import main
from raysearch.errors import UserError
from raysearch.search.experiment import open_experiment, pareto_set
from raysearch.search.objectives import Objective, parse_objectives
from raysearch.search.studies import study_storage
from tests.search.survive_helpers import write_space


def test_parse_objectives() -> None:
    assert parse_objectives("val_psnr:max, generator_params") == [
        Objective("val_psnr", "max"), Objective("generator_params", "min")]
    assert parse_objectives("val_l1") == [Objective("val_l1", "min")]


@pytest.mark.parametrize(("text", "says"), [
    ("val_psnr:up", "mode must be max or min"),
    ("psnr", "unknown metric 'psnr'; known: .*val_psnr"),
    ("val_psnr,val_psnr:max", "given twice"),
    (" , ", "is empty"),
])
def test_bad_objectives_are_user_errors(text: str, says: str) -> None:
    with pytest.raises(UserError, match=says):
        parse_objectives(text)


def test_metric_and_objectives_together_are_refused(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["submit", "--name", "x", "--results", str(tmp_path), "--metric", "val_psnr",
              "--objectives", "val_ssim:max"])
    assert e.value.code == 2 and "not both" in capsys.readouterr().err


@pytest.mark.slow
def test_multi_objective_search_lists_its_pareto_set(tmp_path: Path, ray_local: None,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    space = write_space(tmp_path, {
        "model.base_channels": {"type": "categorical", "choices": [8, 16, 24]},
        "optim.lr_g": {"type": "float", "low": 1.0e-4, "high": 2.0e-3, "log": True},
    })
    results, storage = str(tmp_path / "results"), f"file://{tmp_path}/bucket"
    main(["submit", "--name", "mo", "--space", str(space), "--num-samples", "4", "--max-epochs", "2",
          "--results", results, "--objectives", "val_psnr:max,generator_params:min",
          "--reduction-factor", "4", "--storage", storage])
    exp = open_experiment("mo", results)
    # Tune wrote to the storage URI, and the records were mirrored there
    assert (tmp_path / "bucket" / "mo" / "tune" / "tuner.pkl").is_file()
    # the search has ended: trials.json holds its records (the journal compacted into it); ASHA's
    # journal is compacted only once it outgrows asha.json, which a search this small never does
    for name in ("raysearch.json", "trials.json", "asha.journal", "optuna.journal"):
        assert (tmp_path / "bucket" / "mo" / name).read_bytes() == (exp.path / name).read_bytes()
    study = optuna.load_study(study_name="mo", storage=study_storage(exp.spec["study_url"]))
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and all(len(t.values) == 2 for t in complete)
    front = pareto_set(exp)
    assert {t.trial_id for t in front} == {t.user_attrs["tune_trial_id"] for t in study.best_trials}

    capsys.readouterr()
    main(["best", "mo", "--results", results, "--pareto"])
    listed = capsys.readouterr().out.splitlines()[1:]
    assert sorted(int(line.split()[0]) for line in listed) == sorted(t.number for t in front)
    other = max(exp.trials, key=lambda t: t.number)  # any trial, on the front or not
    main(["best", "mo", "--results", results, "--trial", str(other.number),
          "--out", str(tmp_path / "pulled")])
    assert (tmp_path / "pulled" / "checkpoint.pt").is_file()
    assert f"trial {other.number} " in capsys.readouterr().out

    # another machine: no local records; resume fetches them from the storage, finds it finished
    main(["resume", "mo", "--results", str(tmp_path / "elsewhere"), "--storage", storage])
    assert "already finished: 4 of 4" in capsys.readouterr().out
    assert open_experiment("mo", tmp_path / "elsewhere").trials == exp.trials
