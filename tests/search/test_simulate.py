"""The simulator: recorded curves replayed through the real Tune + Optuna + ASHA search."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.search.asha import read_asha_state
from raysearch.search.compare import STRATEGIES, compare_strategies
from raysearch.search.experiment import open_experiment, status_table
from raysearch.search.recorder import read_trials
from raysearch.search.runner import SPEC_FILE, TUNE_LOGGERS_ENV, SearchSpec, records_replace_tune_logs
from raysearch.search.simulate import CurveTable, simulate_search
from raysearch.search.store import RecordStore
from raysearch.search.strategy import Strategy

EPOCHS = 4
SPACE = {"description": "handcrafted", "metric": "val_psnr", "fixed": {},
         "parameters": {"optim.lr_g": {"type": "float", "low": 0.0001, "high": 0.01, "log": True},
                        "model.skip": {"type": "categorical", "choices": [True, False]},
                        "model.depth": {"type": "int", "low": 2, "high": 4,
                                        "when": {"model.skip": [True]}}}}
GOOD = [20.0, 22.0, 24.0, 26.0]  # every good curve is this one: ASHA never cuts a tie
BAD = [10.0, 11.0, 12.0, 13.0]


def curve(values: list[float]) -> list[dict[str, float]]:
    return [{"epoch": e, "val_psnr": v, "epoch_time_s": 1.0} for e, v in enumerate(values, 1)]


def write_experiment(folder: Path, rows: list[tuple[dict[str, Any], list[float]]],
                     space: dict[str, Any] | None = None, epochs: int = EPOCHS) -> Path:
    """An experiment folder as a finished search leaves it: raysearch.json and trials.json."""
    folder.mkdir(parents=True)
    base = Config().to_dict()
    base["train"]["epochs"] = epochs
    (folder / SPEC_FILE).write_text(json.dumps({"spec": {}, "metric": "val_psnr", "mode": "max",
                                                "space": space or SPACE, "base_config": base}))
    trials = [{"trial_id": f"t{i}", "number": i, "params": params, "state": "TERMINATED",
               "epochs": len(values),
               "history": curve(values)} for i, (params, values) in enumerate(rows)]
    (folder / "trials.json").write_text(json.dumps(trials))
    return folder


def table_rows() -> list[tuple[dict[str, Any], list[float]]]:
    """Low learning rates are good, high ones bad, whatever the architecture."""
    return [
        ({"optim.lr_g": 1.5e-4, "model.skip": True, "model.depth": 3}, GOOD),
        ({"optim.lr_g": 4e-4, "model.skip": False}, GOOD),
        ({"optim.lr_g": 3e-3, "model.skip": True, "model.depth": 2}, BAD),
        ({"optim.lr_g": 8e-3, "model.skip": False}, BAD),
        ({"optim.lr_g": 2e-4, "model.skip": True, "model.depth": 4}, [9.0, 9.5]),  # ASHA-stopped
    ]


def lr_rows() -> list[tuple[dict[str, Any], list[float]]]:
    """Only the learning rate matters, and only its lowest third is good."""
    rows = []
    for lr in (1.2e-4, 3e-4, 1e-3, 2.5e-3, 5e-3, 9e-3):
        for skip in (True, False):
            params = {"optim.lr_g": lr, "model.skip": skip, **({"model.depth": 3} if skip else {})}
            rows.append((params, GOOD if lr < 5e-4 else BAD))
    return rows


def replayed(table: CurveTable, params: dict[str, Any]) -> list[float]:
    return [h["val_psnr"] for h in table.lookup(params).history]


@pytest.fixture
def table(tmp_path: Path) -> CurveTable:
    return CurveTable.from_experiments([write_experiment(tmp_path / "recorded", table_rows())])


def test_table_keeps_complete_curves_and_finds_the_nearest(table: CurveTable) -> None:
    assert len(table.curves) == 4 and table.left_out == 1 and table.epochs == EPOCHS
    near = table.lookup({"optim.lr_g": 1.2e-4, "model.skip": True, "model.depth": 4})
    assert near.history[-1]["val_psnr"] == GOOD[-1] and near.source.endswith("#0")
    # the same learning rate, the other architecture: the categorical difference decides
    assert table.lookup({"optim.lr_g": 1.5e-4, "model.skip": False}).source.endswith("#1")
    assert table.lookup({"optim.lr_g": 9e-3, "model.skip": False}).source.endswith("#3")


def test_table_refuses_other_spaces_and_empty_tables(tmp_path: Path) -> None:
    a = write_experiment(tmp_path / "a", table_rows())
    other = {**SPACE, "parameters": {"optim.lr_g": SPACE["parameters"]["optim.lr_g"]}}
    b = write_experiment(tmp_path / "b", table_rows(), space=other)
    with pytest.raises(UserError, match="another space"):
        CurveTable.from_experiments([a, b])
    c = write_experiment(tmp_path / "c", [({"optim.lr_g": 1e-3, "model.skip": False}, [1.0])])
    with pytest.raises(UserError, match="ran all 4 epochs"):
        CurveTable.from_experiments([c])


def test_a_search_name_points_to_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    """status, best and resume take a search's name; simulate takes folders, and says which."""
    monkeypatch.chdir(tmp_path)
    write_experiment(Path("results") / "celeba-1", table_rows())
    with pytest.raises(UserError, match=r"^celeba-1 is not an experiment folder \(no raysearch"
                                        r".json\); the search named celeba-1 is results/celeba-1"):
        CurveTable.from_experiments([Path("celeba-1")])
    with pytest.raises(UserError, match=r"^celeba-2 is not an experiment folder \(no raysearch"
                                        r".json\)$"):
        CurveTable.from_experiments([Path("celeba-2")])
    assert CurveTable.from_experiments([Path("results/celeba-1")]).epochs == EPOCHS


def sim_spec(tmp_path: Path, name: str, **kw: Any) -> SearchSpec:
    return SearchSpec(name=name, results=str(tmp_path / "sim"), max_epochs=EPOCHS, **kw)


@pytest.fixture()
def unset_tune_loggers_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """TUNE_DISABLE_AUTO_CALLBACK_LOGGERS absent, as on a fresh driver; restored afterwards."""
    monkeypatch.setitem(os.environ, TUNE_LOGGERS_ENV, "unset")  # records the value to restore
    monkeypatch.delitem(os.environ, TUNE_LOGGERS_ENV)


@pytest.mark.slow
@pytest.mark.usefixtures("unset_tune_loggers_env")
def test_asha_stops_the_bad_curves(ray_local: None, table: CurveTable, tmp_path: Path) -> None:
    spec = sim_spec(tmp_path, "asha", sampler="random", scheduler="asha", num_samples=10, seed=2,
                    max_concurrent=1)  # one at a time: ASHA's rungs fill in a fixed order
    folder = simulate_search(table, spec, seconds_per_epoch=0.01, say=lambda _m: None)
    trials = read_trials(folder)
    assert len(trials) == 10
    # trials.json holds every epoch: Tune's automatic per-trial logs are left out (issue 20)
    tune_files = {f.name for f in (folder / "tune").rglob("*") if f.is_file()}
    assert any(n.startswith("experiment_state") for n in tune_files)
    assert not tune_files & {"progress.csv", "result.json", "params.json", "params.pkl"}
    assert not any(n.startswith("events.out.tfevents") for n in tune_files)
    good = [t for t in trials if replayed(table, t.params) == GOOD]
    bad = [t for t in trials if replayed(table, t.params) == BAD]
    assert good and bad and len(good) + len(bad) == len(trials)
    for t in trials:  # the reported values are the table's, epoch by epoch
        assert [h["val_psnr"] for h in t.history] == replayed(table, t.params)[: t.epochs]
    assert all(t.epochs == EPOCHS and not t.stopped_early for t in good)
    stopped = [t for t in bad if t.stopped_early]
    assert stopped and all(t.epochs < EPOCHS for t in stopped)


@pytest.mark.usefixtures("unset_tune_loggers_env")
def test_a_users_tune_loggers_setting_wins() -> None:
    records_replace_tune_logs()
    assert os.environ[TUNE_LOGGERS_ENV] == "1"
    os.environ[TUNE_LOGGERS_ENV] = "0"  # the user wants Tune's per-trial files
    records_replace_tune_logs()
    assert os.environ[TUNE_LOGGERS_ENV] == "0"


@pytest.mark.slow
def test_tpe_and_random_samplers_differ(ray_local: None, tmp_path: Path) -> None:
    table = CurveTable.from_experiments([write_experiment(tmp_path / "recorded", lr_rows())])
    proposals = {}
    for sampler in ("random", "tpe"):
        spec = sim_spec(tmp_path, sampler, sampler=sampler, scheduler="none", num_samples=12, seed=2,
                        startup_trials=3, max_concurrent=1)
        trials = read_trials(simulate_search(table, spec, seconds_per_epoch=0.0, say=lambda _m: None))
        proposals[sampler] = [t.params for t in trials]
        assert all(t.epochs == EPOCHS for t in trials)  # no early stopping
    # TPE's start-up proposals are its own seeded random sampler's: the same as random search's
    assert proposals["tpe"][:3] == proposals["random"][:3]
    assert proposals["tpe"][3:] != proposals["random"][3:]
    # then it models the results: the good region (low learning rates) gets more proposals
    good = {k: sum(replayed(table, p) == GOOD for p in v[3:]) for k, v in proposals.items()}
    assert good["tpe"] >= good["random"] + 2, good


@pytest.mark.slow
def test_every_strategy_spends_the_same_budget(ray_local: None, table: CurveTable,
                                               tmp_path: Path) -> None:
    base = sim_spec(tmp_path, "x", max_concurrent=2, startup_trials=2)
    runs = compare_strategies(
        lambda spec: simulate_search(table, spec, seconds_per_epoch=0.02, say=lambda _m: None),
        base, STRATEGIES, seeds=[0], trials=3)
    assert set(runs) == {s.label for s in STRATEGIES}
    for label, (folder,) in runs.items():
        trials = read_trials(folder)
        spent = sum(len(t.history) for t in trials)
        if Strategy.parse(label).scheduler == "none":
            assert len(trials) == 3 and spent == 3 * EPOCHS
        else:  # ASHA runs more, shorter trials until the budget is spent (one epoch may overrun)
            assert 3 * EPOCHS <= spent <= 3 * EPOCHS + 1
            assert len(trials) > 3
        assert all("reported_at" in h for t in trials for h in t.history)
        # as a real search that its budget ended: no trial left RUNNING, and status says why
        assert all(t.ended for t in trials), [t.state for t in trials]
        exp = open_experiment(folder.name, folder.parent)
        assert exp.ended_by and exp.ended_by.startswith(f"epoch budget of {3 * EPOCHS} reached")
        assert "no driver runs" not in status_table(exp)


def test_the_cli_runs_a_strategy_given_twice_once(ray_local: None, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """"tpe" and "tpe+asha" are one strategy: simulated once (the second used to collide with
    the first's experiment folder after it had run)."""
    from raysearch.cli import main

    recorded = write_experiment(tmp_path / "recorded", table_rows())
    main(["simulate", str(recorded), "--strategy", "tpe", "--strategy", "tpe+asha", "--seeds", "1",
          "--trials", "1", "--startup-trials", "1", "--seconds-per-epoch", "0.01",
          "--results", str(tmp_path / "sim")])
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| tpe+asha |")]
    assert len(rows) == 1
    assert [p.name.split("-", 2)[2] for p in (tmp_path / "sim").iterdir()] == ["tpe-asha-s0"]


@pytest.mark.slow
def test_gp_with_hyperband_then_a_warm_start_through_the_real_search(ray_local: None,
                                                                     tmp_path: Path) -> None:
    """GPSampler and asynchronous Hyperband replayed through Tune; then a second search warm
    started from the first: told its trials, it runs the first one's best configuration first."""
    import optuna

    from raysearch.search.study import open_study
    from raysearch.search.warm import WARM_ATTR

    space = {**SPACE, "parameters": {k: v for k, v in SPACE["parameters"].items()
                                     if k != "model.depth"}}
    rows = [({"optim.lr_g": lr, "model.skip": skip}, GOOD if lr < 5e-4 else BAD)
            for lr in (1.2e-4, 3e-4, 1e-3, 2.5e-3, 5e-3, 9e-3) for skip in (True, False)]
    table = CurveTable.from_experiments([write_experiment(tmp_path / "rec", rows, space=space)])
    first = sim_spec(tmp_path, "gp-hb", sampler="gp", scheduler="hyperband", num_samples=12,
                     seed=1, startup_trials=3, max_concurrent=2)
    trials = read_trials(simulate_search(table, first, seconds_per_epoch=0.01, say=lambda _m: None))
    assert len(trials) == 12
    asha = read_asha_state(RecordStore(str(first.experiment)))
    assert asha is not None
    placed = asha["bracket_of"]
    by_id = {t.trial_id: t for t in trials}
    assert len(set(placed.values())) >= 2 and set(placed) == set(by_id)
    # the last bracket's only rung is the last epoch: its trials are never stopped early
    assert all(by_id[i].epochs == EPOCHS for i, b in placed.items() if b == 2)
    assert any(t.stopped_early for t in trials)

    study = open_study(first.study_url, "gp-hb")
    best = study.best_trial.params
    second = sim_spec(tmp_path, "warm", sampler="tpe", scheduler="none", num_samples=2, seed=0,
                      max_concurrent=1, warm_start=("gp-hb",))
    again = read_trials(simulate_search(table, second, seconds_per_epoch=0.0, say=lambda _m: None))
    assert again[0].params == best
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    told = [t for t in open_study(second.study_url, "warm").trials if WARM_ATTR in t.user_attrs
            and t.user_attrs[WARM_ATTR].startswith("gp-hb#")]
    assert len(told) == len(study.get_trials(states=states)) and len(told) >= 10
