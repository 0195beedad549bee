"""The benchmarks' archive of finished searches (bench/bench_strategies.RealRuns): a finished
search's records are kept under bench/results, and a fresh checkout (no results/) reuses them
instead of running the search again."""

import json
from pathlib import Path

import pytest

from bench.bench_strategies import RealRuns
from raysearch.search.spec import SearchSpec


def _finished(results: Path, name: str) -> SearchSpec:
    """A search folder as a finished search leaves it (records only; nothing is run)."""
    spec = SearchSpec(name=name, space_path="search_spaces/quickstart.yaml", results=str(results))
    spec.experiment.mkdir(parents=True)
    (spec.experiment / "raysearch.json").write_text(json.dumps({"spec": {"num_samples": 1}}))
    (spec.experiment / "trials.journal").write_text('{"trial": 0}\n')
    (spec.experiment / ".driver.lock").write_text("pid")
    (spec.experiment / "tune").mkdir()
    (spec.experiment / "tune" / "checkpoint.pt").write_text("weights")
    return spec


def test_a_finished_search_is_archived_and_restored_in_a_fresh_checkout(tmp_path: Path) -> None:
    archive = tmp_path / "bench-results" / "searches"
    spec = _finished(tmp_path / "old-checkout" / "real", "tpe-asha-s0")
    runs = RealRuns(tmp_path / "old-checkout" / "real", archive)
    runs.done[spec.name] = {"wall_s": 120.0, "trials": 1, "epochs": 4, "load_end": 1.0}
    runs._archive(spec)
    kept = archive / spec.name
    assert sorted(p.name for p in kept.iterdir()) == ["raysearch.json", "trials.journal"]
    assert json.loads((archive / "done.json").read_text())[spec.name]["wall_s"] == 120.0

    # a fresh checkout: no workdir at all; the search is restored, not run (a run would need Ray)
    fresh = tmp_path / "new-checkout" / "real"
    again = RealRuns(fresh, archive)
    spec2 = SearchSpec(name=spec.name, space_path=spec.space_path, results=str(fresh))
    assert again(spec2) == spec2.experiment
    assert (spec2.experiment / "trials.journal").read_text() == '{"trial": 0}\n'
    assert again.wall_s == pytest.approx(120.0)  # counted at the time it took when it ran


def test_an_unfinished_search_is_not_restored(tmp_path: Path) -> None:
    archive = tmp_path / "searches"
    runs = RealRuns(tmp_path / "real", archive)
    spec = SearchSpec(name="random-none-s1", space_path="x.yaml", results=str(tmp_path / "real"))
    assert not runs._restore(spec)
    assert not spec.experiment.exists()
