"""Parquet export: written with pyarrow, read back by pandas and DuckDB (no Ray)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from raysearch.cli import main
from raysearch.results import export_parquet
from raysearch.search.experiment import open_experiment


def _trial(number: int, state: str, params: dict, psnrs: list[float], **extra: object) -> dict:
    history = [{"epoch": i + 1, "val_psnr": v, "val_ssim": v / 40, "generator_params": 1234}
               for i, v in enumerate(psnrs)]
    best = max(history, key=lambda h: h["val_psnr"]) if history else {}
    return {"trial_id": f"id{number}", "number": number, "params": params, "state": state,
            "epochs": len(psnrs), "best": {k: v for k, v in best.items() if k != "epoch"},
            "last": {k: v for k, v in (history[-1] if history else {}).items() if k != "epoch"},
            "best_epoch": best.get("epoch"), "checkpoints": {},
            "best_checkpoint": f"/ckpt/{number}" if history else None,
            "best_checkpoint_epoch": best.get("epoch"), "node_ip": "10.0.0.1", "error": None,
            "stopped_early": False, "trial_dir": f"/trials/{number}", "history": history,
            "diverged": False, "retries": 0, "rerun_epochs": 0, "pid": 7, **extra}


TRIALS = [
    _trial(0, "TERMINATED", {"model.depth": 3, "model.skip": True, "optim.lr_g": 1e-3,
                             "model.rfr_unet.iterations": 4}, [20.0, 21.5, 22.25]),
    _trial(1, "TERMINATED", {"model.depth": 2, "model.skip": False, "optim.lr_g": 3e-4},
           [18.0], stopped_early=True),
    _trial(2, "ERROR", {"model.depth": 4, "model.skip": True, "optim.lr_g": 2e-3}, [],
           diverged=True, error="diverged: generator loss became nan at epoch 1, step 0"),
    _trial(3, "LOST", {"model.depth": 2, "model.skip": "yes", "optim.lr_g": 5e-4}, []),
]


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    exp = tmp_path / "results" / "e1"
    exp.mkdir(parents=True)
    (exp / "raysearch.json").write_text(json.dumps(
        {"spec": {"name": "e1", "num_samples": 4}, "metric": "val_psnr", "mode": "max"}))
    (exp / "trials.json").write_text(json.dumps(TRIALS))
    return exp


def test_trials_and_history_round_trip_through_pandas(experiment: Path, tmp_path: Path) -> None:
    written = export_parquet(open_experiment("e1", experiment.parent), str(tmp_path / "out"))
    trials = pd.read_parquet(written[0])
    history = pd.read_parquet(written[1])
    assert list(trials["trial"]) == [0, 1, 2, 3]
    assert list(trials["state"]) == ["TERMINATED", "TERMINATED", "ERROR", "LOST"]
    assert list(trials["epochs"]) == [3, 1, 0, 0]
    assert trials.loc[0, "best.val_psnr"] == 22.25 and trials.loc[1, "last.val_psnr"] == 18.0
    assert pd.isna(trials.loc[2, "best.val_psnr"]) and bool(trials.loc[2, "diverged"])
    assert "nan at epoch 1" in trials.loc[2, "error"]
    assert bool(trials.loc[1, "stopped_early"]) and trials.loc[0, "checkpoint"] == "/ckpt/0"
    assert trials.loc[0, "node_ip"] == "10.0.0.1" and list(trials["param.model.depth"]) == [3, 2, 4, 2]
    # a conditional parameter is null where it does not apply; mixed types become strings
    assert trials.loc[0, "param.model.rfr_unet.iterations"] == 4
    assert trials["param.model.rfr_unet.iterations"].isna().sum() == 3
    assert list(trials["param.model.skip"]) == ["True", "False", "True", "yes"]
    assert len(history) == 4 and list(history["epoch"]) == [1, 2, 3, 1]
    assert list(history["trial"]) == [0, 0, 0, 1] and history["val_psnr"].iloc[2] == 22.25


def test_duckdb_reads_the_tables(experiment: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    export_parquet(open_experiment("e1", experiment.parent))
    best = duckdb.sql(f"""SELECT trial, "best.val_psnr" FROM '{experiment / "trials.parquet"}'
                          WHERE state = 'TERMINATED' ORDER BY 2 DESC LIMIT 1""").fetchall()
    assert best == [(0, 22.25)]
    per_trial = duckdb.sql(f"""SELECT trial, max(epoch) FROM '{experiment / "history.parquet"}'
                               GROUP BY trial ORDER BY trial""").fetchall()
    assert per_trial == [(0, 3), (1, 1)]


def test_export_command(experiment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["export", "e1", "--results", str(experiment.parent)])
    assert (experiment / "trials.parquet").is_file() and (experiment / "history.parquet").is_file()
    assert "wrote" in capsys.readouterr().out


def test_export_to_an_unwritable_place_is_a_user_error(experiment: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as e:
        main(["export", "e1", "--results", str(experiment.parent), "--out", str(blocker / "x")])
    assert e.value.code == 2 and capsys.readouterr().err.startswith("error: cannot write")


def _help_example(capsys: pytest.CaptureFixture[str]) -> str:
    """The DuckDB line of ``raysearch export --help``, exactly as printed."""
    main(["export", "--help"])
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    examples = [line for line in lines if line.startswith("duckdb ")]
    assert len(examples) == 1, lines
    return examples[0]


@pytest.fixture
def tables(experiment: Path, tmp_path: Path) -> Path:
    """``tables/trials.parquet`` as the help's example writes it; returns the folder above."""
    main(["export", "e1", "--results", str(experiment.parent), "--out", str(tmp_path / "tables")])
    return tmp_path


def test_help_example_sql_as_bash_passes_it_runs_in_duckdb(
        tables: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """What bash hands DuckDB (shlex splits as POSIX shells do) is valid SQL with the dotted
    column, run by the duckdb package."""
    import shlex

    duckdb = pytest.importorskip("duckdb")
    program, flag, sql = shlex.split(_help_example(capsys))
    assert (program, flag) == ("duckdb", "-c")
    monkeypatch.chdir(tables)
    rows = duckdb.sql(sql).fetchall()
    assert rows[0] == (0, 22.25) and len(rows) == 4


def test_help_example_pasted_into_bash_runs(tables: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import shutil
    import subprocess
    import sys

    venv_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join([venv_bin, os.environ.get("PATH", "")])
    if shutil.which("duckdb", path=path) is None:
        pytest.skip("the duckdb CLI binary is not installed (pip install duckdb-cli); the SQL is "
                    "tested with the duckdb package instead")
    done = subprocess.run(["bash", "-c", _help_example(capsys)], cwd=tables, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PATH": path})
    assert done.returncode == 0, done.stderr
    assert "22.25" in done.stdout and "Error" not in done.stdout + done.stderr
