"""Helpers of the local-cluster tests: the CLI as a user runs it, and the cluster script."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "cluster" / "local_cluster.py"


def script_module() -> Any:
    spec = importlib.util.spec_from_file_location("local_cluster", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(*args: str, timeout: float = 300, expect: int = 0) -> str:
    """``python -m raysearch.cli ...`` as a user runs it (this worktree first); returns stdout+err."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, "-m", "raysearch.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    out = done.stdout + done.stderr
    assert done.returncode == expect, f"raysearch {' '.join(args)} exited {done.returncode}:\n{out[-4000:]}"
    return out


def read_trials(results: Path, name: str) -> list[dict[str, Any]]:
    """The experiment's records (trials.json with its journal) as JSON objects."""
    from raysearch.search.records import read_trials as records

    return [t.to_json() for t in records(results / name)]
