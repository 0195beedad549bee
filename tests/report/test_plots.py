"""A small real search on a local Ray, then ``raysearch plot``: every figure and the HTML report.

The report reads only the experiment's files (raysearch.json, trials.json, checkpoints).
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from raysearch.cli import main
from raysearch.config import load_config
from raysearch.data import load_faces
from raysearch.inference import generate
from raysearch.models import build_generator
from raysearch.search.experiment import open_experiment
from raysearch.search.runner import SearchSpec, prepare_search, run_search
from raysearch.search.studies import study_storage
from raysearch.train.loop import validation_pairs
from raysearch.train.samples import to_uint8

NAME = "plots"
BIN_FIGURES = ["samples_0.1-0.2", "samples_0.3-0.4", "samples_0.5-0.6"]
OPTUNA_FIGURES = ["optimization_history", "timeline", "edf"]  # contour: needs 2 COMPLETE trials
FIGURES = ["learning_curves", "asha_rungs", "importance", "parallel_coordinates", "slices",
           *OPTUNA_FIGURES, *BIN_FIGURES]


@pytest.fixture(scope="module")
def results(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 trials x 2 epochs at 32 px on the embedded faces, TPE + ASHA on a real local Ray."""
    folder = tmp_path_factory.mktemp("results")
    spec = SearchSpec(name=NAME, results=str(folder), num_samples=3, max_epochs=2,
                      overrides={"data.num_images": 64, "data.num_val": 16,
                                 "train.batch_size": 16, "model.critic_channels": 8})
    assert run_search(prepare_search(spec, say=lambda _m: None), say=lambda _m: None) is not None
    return folder


def _check_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 2000, path
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width >= 300 and im.height >= 200
        pixels = np.asarray(im.convert("L"), dtype=float)
    assert pixels.std() > 5, f"{path.name} looks blank"


@pytest.mark.slow
def test_plot_writes_every_figure_and_a_self_contained_report(
        results: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    main(["plot", NAME, "--results", str(results), "--out", str(out)])
    assert "open" in capsys.readouterr().out
    trials = json.loads((results / NAME / "trials.json").read_text())
    assert len(trials) == 3 and all(t["state"] == "TERMINATED" for t in trials)
    html = (out / "index.html").read_text()
    for name in FIGURES:
        png = out / f"{name}.png"
        _check_png(png)
        assert base64.b64encode(png.read_bytes()).decode() in html, f"{name} not embedded"
    assert not (out / "pareto.png").exists()  # one objective: no Pareto front
    complete = sum(t["epochs"] == 2 for t in trials)
    if complete >= 2:  # ASHA may stop two of the three trials after their first epoch
        _check_png(out / "contour.png")
        assert base64.b64encode((out / "contour.png").read_bytes()).decode() in html
    else:
        assert "contour plots need at least 2 COMPLETE trials" in html
    assert html.count(f"from Optuna&#x27;s stored study (journal:{results / NAME}/optuna.journal)") >= 3
    assert "src='http" not in html and "<link" not in html  # nothing fetched from elsewhere
    for t in trials:
        assert f"<td>{t['number']}</td>" in html
    rows = (out / "trials.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("trial,state,epochs")


@pytest.mark.slow
def test_plot_on_a_search_still_running(results: Path, tmp_path: Path) -> None:
    """trials.json as the recorder leaves it mid-search: one trial running, one not started."""
    exp = tmp_path / "running"
    exp.mkdir()
    spec = json.loads((results / NAME / "raysearch.json").read_text())
    spec["spec"]["num_samples"] = 5
    (exp / "raysearch.json").write_text(json.dumps(spec))
    trials = json.loads((results / NAME / "trials.json").read_text())
    trials[1].update(state="RUNNING", history=trials[1]["history"][:1], epochs=1)
    trials.append({**trials[0], "number": 3, "trial_id": "x", "state": "PENDING", "epochs": 0,
                   "history": [], "best": {}, "last": {}, "best_checkpoint": None})
    (exp / "trials.json").write_text(json.dumps(trials))
    out = tmp_path / "out"
    main(["plot", str(exp), "--out", str(out), "--no-samples"])
    html = (out / "index.html").read_text()
    assert "the search is not over: 2 of 5 trials have ended" in html
    assert "RUNNING" in html and "PENDING" in html
    _check_png(out / "learning_curves.png")
    _check_png(out / "asha_rungs.png")
    assert not (out / "importance.png").exists()  # 2 ended trials: too few for fANOVA
    assert "needs at least 3 ended trials" in html


@pytest.mark.slow
def test_optuna_figures_fall_back_to_a_study_rebuilt_from_trials_json(
        results: Path, tmp_path: Path) -> None:
    """The experiment copied without its study: the same figures, from the records, said so."""
    import optuna

    exp = tmp_path / "copy"
    shutil.copytree(results / NAME, exp, ignore=shutil.ignore_patterns("trial_*", "optuna.journal"))
    spec = json.loads((exp / "raysearch.json").read_text())
    spec["study_url"] = f"journal:{exp / 'optuna.journal'}"  # what a search run here would say
    (exp / "raysearch.json").write_text(json.dumps(spec))
    out = tmp_path / "out"
    main(["plot", str(exp), "--out", str(out), "--no-samples"])
    html = (out / "index.html").read_text()
    for name in OPTUNA_FIGURES:
        _check_png(out / f"{name}.png")
        assert base64.b64encode((out / f"{name}.png").read_bytes()).decode() in html
    assert f"a study rebuilt in memory from trials.json ({exp / 'optuna.journal'} is missing)" in html
    assert "stored study" not in html
    assert not (exp / "optuna.journal").exists()  # looking for the study did not create one
    # the rebuilt study holds what the search told the stored one: states and final values
    from raysearch.report.optuna_plots import rebuilt_study

    stored = optuna.load_study(study_name=NAME, storage=study_storage(
        f"journal:{results / NAME / 'optuna.journal'}"))
    rebuilt = rebuilt_study(open_experiment(str(exp)))
    assert [(t.state, t.value) for t in rebuilt.trials] == [(t.state, t.value) for t in stored.trials]


@pytest.mark.slow
def test_multi_objective_search_gets_a_pareto_front(results: Path, tmp_path: Path) -> None:
    exp = tmp_path / "multi"
    shutil.copytree(results / NAME, exp, ignore=shutil.ignore_patterns("trial_*"))
    spec = json.loads((exp / "raysearch.json").read_text())
    spec["objectives"] = [{"metric": "val_psnr", "mode": "max"}, {"metric": "val_l1", "mode": "min"}]
    (exp / "raysearch.json").write_text(json.dumps(spec))
    main(["plot", str(exp), "--out", str(tmp_path / "out"), "--no-samples"])
    _check_png(tmp_path / "out" / "pareto.png")


@pytest.mark.slow
def test_rungs_match_the_search(results: Path) -> None:
    assert open_experiment(NAME, results).asha_rungs == [1, 2]  # grace 1, reduction factor 2, 2 epochs


@pytest.mark.slow
def test_best_checkpoint_loads_weights_only_and_reproduces_its_samples(
        results: Path, tmp_path: Path) -> None:
    """What ``best`` pulls is plain tensors + config.yaml, and rebuilds the trial's own outputs."""
    out = tmp_path / "best"
    main(["best", NAME, "--results", str(results), "--out", str(out)])
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert {"generator", "critic", "opt_g", "opt_d", "epoch"} <= set(state)
    cfg = load_config(out / "config.yaml")
    generator = build_generator(cfg)
    generator.load_state_dict(state["generator"])
    generator.eval()
    images, masks = validation_pairs(cfg, load_faces(cfg.data), torch.device("cpu"))
    faces = to_uint8(images)
    comps = to_uint8(generate(generator, faces, masks[:, 0].numpy(), torch.device("cpu")))
    # the trial's sample.png: masked | output | truth columns, one row per validation image
    sample = np.asarray(Image.open(out / "sample.png"))
    size = cfg.data.image_size
    rows = sample.shape[0] // size
    saved = sample[:, size : 2 * size].reshape(rows, size, size, 3)
    assert np.abs(saved.astype(int) - comps[:rows]).max() <= 1
