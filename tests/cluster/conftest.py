"""A real local multi-node Ray cluster (head + 2 workers) started by cluster/local_cluster.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from cluster_helpers import SCRIPT, script_module
from PIL import Image


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Head (0 CPUs: drivers only) + worker-1 and worker-2 (1 CPU each); always stopped after."""
    state_file = tmp_path_factory.mktemp("cluster") / "state.json"
    cmd = [sys.executable, str(SCRIPT), "--state", str(state_file)]
    started = subprocess.run([*cmd, "up", "--workers", "2", "--head-cpus", "0", "--worker-cpus", "1"],
                             capture_output=True, text=True, timeout=240)
    state: dict[str, Any] = json.loads(state_file.read_text()) if state_file.exists() else {}
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        state["by_name"] = {n["name"]: n for n in state["nodes"]}
        state["state_file"] = str(state_file)
        yield state
    finally:
        if state_file.exists():
            down = subprocess.run([*cmd, "down"], capture_output=True, text=True, timeout=120)
            sys.stderr.write(down.stderr)  # names any process that needed SIGKILL
        lc = script_module()
        left = {n["name"]: lc._group_members(n["pid"], n["start_time"]) for n in state.get("nodes", [])}
        assert not any(left.values()), f"processes outlived 'down': {left}"


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Parquet shards of 96 embedded faces, packed like `raysearch data pack` does."""
    from raysearch.data import pack_folder
    from raysearch.data.embedded import embedded_faces

    faces, ids = embedded_faces(96, 64)
    folder = tmp_path_factory.mktemp("faces")
    for face, ident in zip(faces, ids, strict=True):
        Image.fromarray(face).save(folder / f"{ident}.png")
    out = tmp_path_factory.mktemp("shards")
    assert len(pack_folder(folder, out, shard_size=48)) == 2
    return str(out)
