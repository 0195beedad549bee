"""What a search submitted as a Ray Job carries, and the mistakes refused before submitting."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from raysearch.cli import main
from raysearch.errors import UserError
from raysearch.search.jobs import ENTRYPOINT, SPEC_IN_JOB, job_runtime_env
from raysearch.search.runner import DEFAULT_SPACE, PACKAGE_DIR, SearchSpec, spec_fields


def test_working_dir_holds_only_the_space_and_the_options(tmp_path: Path) -> None:
    spec = SearchSpec(name="j", results="/mnt/shared/results", data="/mnt/shared/shards",
                      num_samples=3, gpus_per_worker=0.25, max_failures=2,
                      overrides={"model.depth": 3})
    env = job_runtime_env(spec, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.json", "space.yaml"]
    assert (tmp_path / "space.yaml").read_text() == DEFAULT_SPACE.read_text()
    assert env["working_dir"] == str(tmp_path) and env["py_modules"] == [str(PACKAGE_DIR)]
    assert f"--spec {SPEC_IN_JOB}" in ENTRYPOINT and "--address auto" in ENTRYPOINT
    back = SearchSpec(**spec_fields(tmp_path / SPEC_IN_JOB))  # what the job's driver rebuilds
    assert asdict(back) == {**asdict(spec), "space_path": "space.yaml"}


def test_a_refinement_job_carries_its_options_and_space(tmp_path: Path) -> None:
    from raysearch.search.jobs import REFINE_IN_JOB, refine_runtime_env
    from raysearch.search.refine import RefineSpec

    space = tmp_path / "mutate.yaml"
    space.write_text("parameters:\n  optim.lr_g: {type: float, low: 1.0e-4, high: 1.0e-3}\n")
    rs = RefineSpec(source="celeba-1", results="/mnt/shared/results", population=3, epochs=6,
                    space_path=str(space), workers_per_trial=2)
    wd = tmp_path / "wd"
    wd.mkdir()
    env = refine_runtime_env(rs, "celeba-1-refine", wd)
    assert sorted(p.name for p in wd.iterdir()) == [REFINE_IN_JOB, "space.yaml"]
    assert (wd / "space.yaml").read_text() == space.read_text()
    assert env["working_dir"] == str(wd) and env["py_modules"] == [str(PACKAGE_DIR)]
    back = RefineSpec(**spec_fields(wd / REFINE_IN_JOB, RefineSpec, "--job", "refine"))
    assert asdict(back) == {**asdict(rs), "name": "celeba-1-refine", "space_path": "space.yaml"}


def test_refinement_job_mistakes_fail_before_any_cluster_is_contacted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in [(["--results", "results"], "--results 'results' is relative"),
                          (["--results", "/mnt/r", "--population", "1"], "--population must be"),
                          (["--results", "/mnt/r", "--space", str(tmp_path / "none.yaml")],
                           "none.yaml")]:
        with pytest.raises(SystemExit) as e:
            main(["refine", "src", "--address", "http://127.0.0.1:9", *args])
        assert e.value.code == 2
        assert message in capsys.readouterr().err


def test_spec_file_may_be_an_experiments_raysearch_json(tmp_path: Path) -> None:
    (tmp_path / "raysearch.json").write_text(json.dumps({"spec": {"name": "x", "seed": 4}}))
    assert spec_fields(tmp_path / "raysearch.json") == {"name": "x", "seed": 4}
    (tmp_path / "bad.json").write_text(json.dumps({"name": "x", "colour": "red"}))
    with pytest.raises(UserError, match="unknown search option"):
        spec_fields(tmp_path / "bad.json")


@pytest.mark.parametrize(("args", "message"), [
    (["--results", "results"], "--results 'results' is relative"),
    (["--results", "/mnt/shared/r", "--data", "faces"], "--data 'faces' is relative"),
    (["--results", "s3://bucket/r"], "bucket URIs are not supported"),
    (["--results", "/mnt/shared/r", "--max-failures", "-1"], "--max-failures must be >= 0"),
])
def test_job_mistakes_fail_before_any_cluster_is_contacted(
        args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    # port 9 (discard) on loopback: nothing listens, so reaching the client would fail differently
    with pytest.raises(SystemExit) as e:
        main(["submit", "--address", "http://127.0.0.1:9", "--name", "j", *args])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_status_follow_needs_a_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["status", "x", "--follow"])
    assert e.value.code == 2 and "--address" in capsys.readouterr().err


def test_an_unreachable_cluster_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["submit", "--address", "http://127.0.0.1:9", "--name", "j", "--results", "/tmp/r"])
    assert e.value.code == 2
    assert "cannot reach the Jobs API at http://127.0.0.1:9" in capsys.readouterr().err
