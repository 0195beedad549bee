"""What a non-editable install ships: the search spaces and the registries' index are package
data, so the default space exists wherever raysearch is installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from raysearch.search.runner import DEFAULT_SPACE, PACKAGE_DIR

REPO = Path(__file__).resolve().parents[1]


def test_default_space_lives_in_the_package() -> None:
    assert DEFAULT_SPACE.is_file() and PACKAGE_DIR in DEFAULT_SPACE.parents
    linked = sorted(p.name for p in (REPO / "search_spaces").glob("*.yaml"))
    assert linked == sorted(p.name for p in DEFAULT_SPACE.parent.glob("*.yaml"))  # one home


@pytest.mark.slow
def test_the_wheel_ships_every_search_space(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, cwd=tmp_path)
    wheel = next(tmp_path.glob("raysearch-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for space in DEFAULT_SPACE.parent.glob("*.yaml"):
        assert f"raysearch/search_spaces/{space.name}" in names
    assert "raysearch/registry_index.json" in names  # else every misnamed component waits for torch
