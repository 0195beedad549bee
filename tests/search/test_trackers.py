"""``submit --logger``: a real search logs to TensorBoard and MLflow through Ray Tune's callbacks,
read back with their own readers; optuna-dashboard serves the study; missing extras are refused
before Ray starts."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import numpy as np
import pytest
from PIL import Image

from raysearch.build import validate_names
from raysearch.search.experiment import Experiment, open_experiment
from raysearch.search.runner import SearchSpec, prepare_search, run_search
from raysearch.search.spec import spec_fields
from raysearch.search.trackers import TRACKERS, default_mlflow_uri
from tests.search.test_end_to_end import SPACE
from tests.test_cli import run_cli


def _absent(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def test_unknown_logger_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(["submit", "--logger", "neptune", "--results", str(tmp_path / "r")], capsys)
    assert code == 2 and out.startswith("error: ") and len(out.strip().splitlines()) == 1
    assert "--logger must be one of aim, mlflow, tensorboard, wandb, got 'neptune'" in out
    assert not (tmp_path / "r").exists()


def test_a_logger_whose_extra_is_missing_names_the_pip_install(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = [n for n in TRACKERS.names() if _absent(TRACKERS.get(n).module)]
    if not missing:
        pytest.skip("every tracker's package is installed here, so none can be found missing")
    name = missing[0]
    code, out = run_cli(["submit", "--logger", "tensorboard", "--logger", name, "--results",
                         str(tmp_path / "r")], capsys)
    assert code == 2 and out.startswith("error: ") and len(out.strip().splitlines()) == 1
    assert f"pip install 'raysearch[{TRACKERS.get(name).extra}]'" in out
    assert not (tmp_path / "r").exists()  # refused before the experiment (and Ray) started


def test_mlflow_uri_without_the_mlflow_logger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(["submit", "--mlflow-uri", "sqlite:///x.db", "--results", str(tmp_path)],
                        capsys)
    assert code == 2 and "--mlflow-uri is only used with --logger mlflow" in out


def test_loggers_round_trip_through_a_spec_file(tmp_path: Path) -> None:
    f = tmp_path / "raysearch.json"
    f.write_text(json.dumps({"spec": {"name": "x", "loggers": ["tensorboard", "mlflow"]}}))
    spec = SearchSpec(**spec_fields(f))
    assert spec.loggers == ("tensorboard", "mlflow")
    f.write_text(json.dumps({"spec": {"name": "x", "loggers": "mlflow"}}))
    with pytest.raises(Exception, match="loggers must be a list of strings"):
        spec_fields(f)


@pytest.fixture(scope="module")
def logged(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    """A real 2-trial, 2-epoch search with --logger tensorboard --logger mlflow."""
    pytest.importorskip("tensorboard", reason="reading TensorBoard's event files needs the "
                        "tensorboard package: pip install 'raysearch[tensorboard]'")
    pytest.importorskip("mlflow", reason="--logger mlflow needs pip install 'raysearch[mlflow]'")
    tmp = tmp_path_factory.mktemp("trackers")
    space = tmp / "space.yaml"
    space.write_text(SPACE)
    spec = SearchSpec(name="trk", space_path=str(space), results=str(tmp / "results"),
                      num_samples=2, max_epochs=2, max_concurrent=2, scheduler="none",
                      loggers=("tensorboard", "mlflow"))
    lines: list[str] = []
    run_search(prepare_search(spec, check=validate_names, say=lines.append), say=lines.append)
    assert any(ln.startswith("logger tensorboard: tensorboard --logdir ") for ln in lines)
    assert any(ln.startswith("logger mlflow: mlflow ui --backend-store-uri sqlite:///")
               for ln in lines)
    return open_experiment("trk", tmp / "results")


@pytest.mark.slow
def test_the_loggers_are_part_of_the_spec(logged: Experiment) -> None:
    saved = json.loads((logged.path / "raysearch.json").read_text())["spec"]
    assert saved["loggers"] == ["tensorboard", "mlflow"]  # resume rebuilds the spec from this


@pytest.mark.slow
def test_tensorboard_holds_every_epoch_and_the_sample_grids(logged: Experiment) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert len(logged.trials) == 2
    for t in logged.trials:
        assert t.trial_dir is not None and Path(t.trial_dir).parent == logged.path / "tune"
        acc = EventAccumulator(t.trial_dir, size_guidance={"scalars": 0, "images": 0})
        acc.Reload()
        psnr = acc.Scalars("ray/tune/val_psnr")
        assert [e.step for e in psnr] == [h["epoch"] for h in t.history] == [1, 2]
        assert [e.value for e in psnr] == pytest.approx([h["val_psnr"] for h in t.history],
                                                        rel=1e-6)
        images = acc.Images("val/sample_grid")
        assert sorted(e.step for e in images) == [1, 2]
        last = max(images, key=lambda e: e.step)
        logged_png = np.asarray(Image.open(io.BytesIO(last.encoded_image_string)).convert("RGB"))
        on_disk = np.asarray(Image.open(Path(t.checkpoints["2"]) / "sample.png").convert("RGB"))
        assert np.array_equal(logged_png, on_disk)  # the checkpoint's own grid, pixel for pixel


@pytest.mark.slow
def test_mlflow_holds_one_run_per_trial_with_its_params_and_curve(logged: Experiment) -> None:
    from mlflow.tracking import MlflowClient

    uri = default_mlflow_uri(logged.path)
    assert (logged.path / "mlflow.db").is_file()
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("trk")
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    for run in runs:  # Tune names each run after its trial: <trainable>_<trial id>
        (t,) = [t for t in logged.trials if run.data.tags["trial_name"].endswith(t.trial_id)]
        assert {k: str(v) for k, v in t.params.items()} == {
            k: v for k, v in run.data.params.items() if k in t.params}
        history = client.get_metric_history(run.info.run_id, "val_psnr")
        history = sorted(history, key=lambda m: m.step)
        assert [m.step for m in history] == [h["epoch"] for h in t.history] == [1, 2]
        assert [m.value for m in history] == pytest.approx([h["val_psnr"] for h in t.history])


def _get(app: Any, path: str) -> tuple[str, dict[str, Any]]:
    """One in-process WSGI request: status line and decoded JSON body."""
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(app(environ, lambda s, _h, _e=None: status.append(s)))
    return status[0], json.loads(body)


@pytest.mark.slow
def test_optuna_dashboard_serves_the_study(logged: Experiment) -> None:
    optuna_dashboard = pytest.importorskip(
        "optuna_dashboard", reason="optuna-dashboard is an extra: pip install 'raysearch[dashboard]'")
    # what `optuna-dashboard results/NAME/optuna.journal` serves (a journal file is given by path)
    app = optuna_dashboard.wsgi(str(logged.path / "optuna.journal"))
    status, listed = _get(app, "/api/studies")
    assert status.startswith("200")
    (study,) = [s for s in listed["study_summaries"] if s["study_name"] == "trk"]
    status, detail = _get(app, f"/api/studies/{study['study_id']}")
    assert status.startswith("200")
    trials = detail["trials"]
    assert len(trials) == 2 and all(t["state"] == "Complete" for t in trials)
    by_tune_id = {t.trial_id: t for t in logged.trials}
    for served in trials:
        attrs = {a["key"]: a["value"] for a in served["user_attrs"]}
        ours = by_tune_id[attrs["tune_trial_id"]]
        assert {p["name"]: p["param_external_value"] for p in served["params"]} == {
            k: str(v) for k, v in ours.params.items()}
        assert served["values"] == pytest.approx([ours.history[-1]["val_psnr"]])


def _one_logged_trial(tmp_path: Path, name: str, logger: str, epochs: int) -> Any:
    """A real one-trial search of ``epochs`` epochs logging to ``logger``; its trial record."""
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    spec = SearchSpec(name=name, space_path=str(space), results=str(tmp_path / "results"),
                      num_samples=1, max_epochs=epochs, loggers=(logger,))
    run_search(prepare_search(spec, check=validate_names, say=lambda _m: None), say=lambda _m: None)
    (trial,) = open_experiment(name, tmp_path / "results").trials
    return trial


@pytest.mark.slow
def test_wandb_logs_offline(ray_local: None, tmp_path: Path) -> None:
    """Optional extra: runs where wandb is installed (not in the test extra: it is 60 MB)."""
    pytest.importorskip("wandb", reason="--logger wandb needs pip install 'raysearch[wandb]'")
    trial = _one_logged_trial(tmp_path, "wb", "wandb", epochs=1)
    runs = list((tmp_path / "results" / "wb" / "wandb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and runs[0].name.endswith(trial.trial_id)  # W&B's run id is Tune's
    # the run's records (protobuf, read back by wandb sync): this wandb writes no summary file
    # offline, and its reader is internal, so the test looks for the metric's key in them
    (records,) = runs[0].glob("run-*.wandb")
    assert b"val_psnr" in records.read_bytes()
    assert f"finishing run wb/{trial.trial_id}" in (runs[0] / "logs" / "debug.log").read_text()


@pytest.mark.slow
def test_aim_holds_each_trial_as_a_run(ray_local: None, tmp_path: Path) -> None:
    """Optional extra: runs where aim is installed (not in the test extra: aim pins filelock<4,
    and the test environment keeps Ray's newer filelock); read back with aim's own SDK."""
    pytest.importorskip("aim", reason="--logger aim needs pip install 'raysearch[aim]'")
    from aim import Repo

    trial = _one_logged_trial(tmp_path, "am", "aim", epochs=2)
    folder = tmp_path / "results" / "am" / "aim"
    # aim writes each run's own store; its index, which the SDK's queries read, is built by the
    # aim UI (aim up) as it runs, or by this command
    subprocess.run([str(Path(sys.executable).with_name("aim")), "storage", "--repo", str(folder),
                    "reindex", "--yes"], check=True, capture_output=True)
    (run,) = list(Repo(str(folder)).iter_runs())
    assert run.experiment == "am"
    curve = {m.name: m.values.values_list() for m in run.metrics()}
    ours = [h["val_psnr"] for h in trial.history]
    assert curve["ray/tune/val_psnr"] == pytest.approx(ours) and len(ours) == 2
    assert {k: run["hparams"][k] for k in trial.params} == pytest.approx(trial.params)
