"""Issue 16's bad inputs, each fed exactly: one ``error:`` line, exit 2, no traceback, Ray never
started and nothing left behind (no raysearch.json, so the same name can be submitted again).

The table is also what ``bench/bench_bad_input.py`` prints into BENCHMARKS.md.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from tests.reliability.cases import CASES, Case, run_case

SHARED_MASKS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "masks"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the cases name: bad YAML, a bad spec, checkpoints broken in every way."""
    from tests.reliability.cases import write_inputs

    folder = tmp_path_factory.mktemp("inputs")
    write_inputs(folder)
    return folder


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_error_line_and_starts_nothing(case: Case, files: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    if case.needs_masks and not (SHARED_MASKS / "02000.png").exists():
        pytest.skip(f"NVIDIA masks not found at {SHARED_MASKS}")
    import ray

    code, out = run_case(case, files, capsys)
    lines = [ln for ln in out.splitlines() if ln.strip() and not ln.startswith("[I ")]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert code == 2, (code, out[-2000:])
    assert lines == errors and len(errors) == 1 and "Traceback" not in out, out[-2000:]
    for needle in case.expect:
        assert needle in errors[0], (needle, errors[0])
    assert not ray.is_initialized(), "Ray was started for an input that was refused"
    results = files / "results"
    assert not list(results.glob("*/raysearch.json")), "a refused submit left its records"
    assert not list((files / "records").glob("*-refine")), "a refused refine left a folder"


def test_a_refused_name_can_be_submitted_again(files: Path, capsys: pytest.CaptureFixture[str]
                                               ) -> None:
    """A refused submit leaves no experiment, so the next one with the same name is not told
    that it already exists."""
    from raysearch.cli import main

    for _ in range(2):
        with pytest.raises(SystemExit) as exc:
            main(["submit", "--name", "again", "--results", str(files / "results"),
                  "--reduction-factor", "1"])
        assert exc.value.code == 2
        assert "already exists" not in capsys.readouterr().err


def test_a_closed_port_is_answered_in_seconds(files: Path, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    import time

    with socket.socket() as s:  # a port nobody listens on: bound, then closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    code, out = run_case(Case("closed", ["submit", "--address", f"127.0.0.1:{port}"],
                              ("nothing answers",)), files, capsys)
    assert code == 2 and "nothing answers at 127.0.0.1" in out
    assert time.perf_counter() - t0 < 10  # it waited more than 600 s before


def test_spec_and_records_are_left_as_they_were(files: Path) -> None:
    """The bad inputs never rewrite the files they read."""
    assert json.loads((files / "spec_many.json").read_text()) == {"num_samples": "many"}
    assert torch.load(files / "nogen" / "checkpoint.pt", weights_only=True) == {"epoch": 1}


def test_a_range_the_run_cannot_take_is_narrowed_and_said(tmp_path: Path) -> None:
    """all_families searches loss.recon_only_epochs up to 2: with --max-epochs 2 the range is
    clamped to what the run allows, and the user is told, instead of a refusal they cannot fix
    without editing the preset."""
    from raysearch.build import validate_names
    from raysearch.search.runner import DEFAULT_SPACE, SearchSpec, check_search

    said: list[str] = []
    spec = SearchSpec(name="x", space_path=str(DEFAULT_SPACE.parent / "all_families.yaml"),
                      results=str(tmp_path), max_epochs=2)
    space, base, _ = check_search(spec, validate_names, said.append)
    (param,) = [p for p in space.params if p.name == "loss.recon_only_epochs"]
    assert param.high == 1 and base.train.epochs == 2
    assert any("loss.recon_only_epochs searched over 0..1, not up to" in s for s in said), said
