"""Bad input on the command line: one line naming the problem, exit code 2, nothing started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from raysearch.cli import main

GOOD_SPACE = """
parameters:
  model.depth: {type: int, low: 2, high: 3}
"""


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.err + out.out


def _space(tmp_path: Path, text: str) -> str:
    f = tmp_path / "space.yaml"
    f.write_text(text)
    return str(f)


@pytest.mark.parametrize(("text", "extra", "message"), [
    ("parameters: [1, 2", [], "malformed YAML at line"),
    ("parameters:\n  model.dept: {type: int, low: 1, high: 2}\n", [],
     "unknown config key 'model.dept'"),
    ("parameters:\n  model.generator: {type: categorical, choices: [pix2pix]}\n", [],
     "unknown generator 'pix2pix'; known: coarse_to_fine, multiscale_context"),
    ("parameters:\n  model.depth: {type: int, low: 3, high: 2}\n", [], "empty or inverted range"),
    (GOOD_SPACE, ["--num-samples", "0"], "--num-samples must be at least 1"),
    (GOOD_SPACE, ["--data", "/no/such/faces"], "data path /no/such/faces does not exist"),
    (GOOD_SPACE, ["--set", "model.critic=nope"], "unknown critic 'nope'"),
    (GOOD_SPACE, ["--metric", "val_fid"], "--metric must be one of"),
    # --set beats the space's fixed values in validation exactly as in the trials (issue 15)
    ("fixed:\n  model.generator: skip_encoder_decoder\n" + GOOD_SPACE,
     ["--set", "model.generator=nosuch"], "model.generator: unknown generator 'nosuch'"),
    ("fixed:\n  model.hole_fill: zero\n" + GOOD_SPACE,
     ["--set", "model.hole_fill=poisson"], "unknown hole fill 'poisson'; known: biharmonic"),
    (GOOD_SPACE, ["--set", "mask.subset=test"], "mask.subset must be one of all, train, holdout"),
    (GOOD_SPACE, ["--optuna-storage", "journal:/no/such/dir/study.log"],
     "--optuna-storage journal:/no/such/dir/study.log: give journal:FILE in an existing folder"),
])
def test_submit_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                       extra: list[str], message: str) -> None:
    code, out = run_cli(["submit", "--space", _space(tmp_path, text), "--results",
                         str(tmp_path / "results"), *extra], capsys)
    assert code == 2
    assert out.startswith("error: ") and message in out
    assert "Traceback" not in out and len(out.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


@pytest.mark.parametrize("space", ["search_spaces/rfr_net.yaml", "PERCEPTUAL_RANGE"])
def test_submit_refuses_a_search_needing_vgg_weights_it_cannot_find(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        space: str) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    if space == "PERCEPTUAL_RANGE":  # only the upper bound of a searched weight needs VGG
        space = _space(tmp_path, "parameters:\n  loss.perceptual_weight: "
                                 "{type: float, low: 0.0, high: 0.1}\n")
    else:
        space = str(Path(__file__).resolve().parents[1] / space)
    code, out = run_cli(["submit", "--space", space, "--results", str(tmp_path / "results")],
                        capsys)
    assert code == 2 and out.startswith("error: ") and "Traceback" not in out
    assert "VGG" in out and "loss.vgg_weights" in out and "empty-torch-home" in out
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())


def test_unwritable_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, out = run_cli(["submit", "--space", _space(tmp_path, GOOD_SPACE), "--results",
                         str(blocker / "results")], capsys)
    assert code == 2 and "is not writable" in out and "--results" in out


def test_missing_space_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(["submit", "--space", str(tmp_path / "nope.yaml")], capsys)
    assert code == 2 and "nope.yaml: no such file" in out


def test_status_of_unknown_experiment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_cli(["status", "ghost", "--results", str(tmp_path)], capsys)
    assert code == 2 and "no experiment 'ghost'" in out


def test_console_script_exit_code_and_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "raysearch.cli", "submit", "--space", str(tmp_path / "x.yaml")],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'x.yaml'}: no such file"


def test_every_command_has_help_with_example(capsys: pytest.CaptureFixture[str]) -> None:
    for cmd in (["submit"], ["train"], ["status"], ["best"], ["data", "pack"]):
        code, out = run_cli([*cmd, "--help"], capsys)
        assert code == 0 and "Example:" in out


def test_validation_and_trials_share_one_config(tmp_path: Path) -> None:
    """rfr_net.yaml fixes brush masks at 32 px; --set changes both for validation and trials."""
    from raysearch.search.runner import SearchSpec, check_search
    from raysearch.search.space import trial_config

    spec = SearchSpec(name="x", space_path="search_spaces/rfr_net.yaml",
                      results=str(tmp_path), overrides={"mask.kind": "rect",
                                                        "data.image_size": 64,
                                                        "loss.vgg_random": True})
    base = check_search(spec)[1]
    assert (base.mask.kind, base.data.image_size) == ("rect", 64)
    trial = trial_config(base.to_dict(), {"optim.lr_g": 1e-4})
    assert (trial.mask.kind, trial.data.image_size, trial.optim.lr_g) == ("rect", 64, 1e-4)


def test_a_diverging_train_run_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                 ) -> None:
    tiny = str(Path(__file__).parent / "tiny_train.yaml")
    code, out = run_cli(["train", "--config", tiny, "--out", str(tmp_path / "run"),
                         "--set", "loss.l1_hole=1e308"], capsys)
    assert code == 2 and "Traceback" not in out
    (line,) = [ln for ln in out.splitlines() if ln.startswith("error:")]
    assert "training diverged: generator loss became inf at epoch 1, step 0" in line


def test_corrupt_records_are_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    exp = tmp_path / "broken"
    exp.mkdir()
    (exp / "raysearch.json").write_text("{not json")
    code, out = run_cli(["status", "broken", "--results", str(tmp_path)], capsys)
    assert code == 2 and out.startswith("error:") and "raysearch.json: not valid JSON" in out
    (exp / "raysearch.json").write_text("{}")
    code, out = run_cli(["best", "broken", "--results", str(tmp_path), "--out", str(tmp_path / "o")],
                        capsys)
    assert code == 2 and "raysearch.json: not an experiment record" in out
    (exp / "raysearch.json").write_text(json.dumps({"spec": {"name": "broken", "num_samples": 1},
                                                    "metric": "val_psnr", "mode": "max"}))
    for bad in ("[{]", "{}", '[{"number": 0}]'):
        (exp / "trials.json").write_text(bad)
        code, out = run_cli(["status", "broken", "--results", str(tmp_path)], capsys)
        assert code == 2 and "trials.json: not a list of trial records" in out, (bad, out)
        assert "Traceback" not in out


def test_submit_options_are_the_search_spec_with_its_defaults() -> None:
    """One home for every option's default: SearchSpec. Each option of submit is a field (or one
    of the few that are not search settings), with the field's default."""
    import dataclasses

    from raysearch.cli import submit
    from raysearch.search.spec import SearchSpec

    fields = {f.name: f for f in dataclasses.fields(SearchSpec)}
    not_fields = {"sets", "address", "spec_file", "name"}  # overrides, where, from a file, name
    options = {p.name: p for p in submit.params if isinstance(p, click.Option)}
    assert set(options) - not_fields <= set(fields), set(options) - not_fields - set(fields)
    # checkpoints_to_tune: set by refine for its multi-worker members, not a search setting
    given_otherwise = {"overrides", "name", "checkpoints_to_tune"}
    assert set(fields) - given_otherwise <= set(options), set(fields) - set(options)
    spec = SearchSpec(name="x")
    for name, option in options.items():
        if name in not_fields or name == "space_path":  # --space: None means the default space
            continue
        assert option.default == getattr(spec, name), name


def test_the_best_trials_commands_can_be_copied_as_printed(capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    """submit, resume and refine end with 'pull it with: raysearch best ...': it names --results
    where the search is not in the default folder, or the printed command finds nothing."""
    from raysearch.cli import _print_best
    from raysearch.search.records import TrialRecord, TrialState

    best = TrialRecord("t1", 1, params={"model.depth": 3}, state=TrialState.TERMINATED, epochs=2,
                       best={"val_psnr": 23.0, "val_ssim": 0.77}, best_epoch=2)
    _print_best("c1", best, "results")
    assert capsys.readouterr().out.endswith("pull it with: raysearch best c1 --out best-c1\n")
    _print_best("c1", best, "/mnt/shared results")
    assert capsys.readouterr().out.endswith(
        "pull it with: raysearch best c1 --results '/mnt/shared results' --out best-c1\n")
    with pytest.raises(click.ClickException, match="raysearch status c1 --results /mnt/r'"):
        _print_best("c1", None, "/mnt/r")
