"""Helpers for the tests of resume and failures: spaces, subprocess drivers, waiting on records."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SESSION = re.compile(r"session_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d+_\d+")

# small and quick: 32 px embedded faces, a two-level generator
FIXED = {"data.path": "embedded", "data.image_size": 32, "data.num_images": 640,
         "data.num_val": 32, "mask.kind": "rect", "model.critic": "global",
         "model.critic_channels": 8, "model.depth": 2, "train.batch_size": 32,
         "train.sample_grid": False}


def write_space(folder: Path, parameters: dict[str, Any], **fixed: Any) -> Path:
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump({"metric": "val_psnr", "fixed": {**FIXED, **fixed},
                                    "parameters": parameters}))
    return path


def read_json(path: Path) -> Any:
    """The JSON at ``path``, or None while it is missing or half-written."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_records(trials_json: Path) -> list[dict[str, Any]] | None:
    """The records of the experiment that holds ``trials_json`` (the file with its journal) as
    JSON objects, or None while there are none or one is half-written."""
    from raysearch.errors import UserError
    from raysearch.search.records import read_trials

    try:
        return [t.to_json() for t in read_trials(trials_json.parent)] or None
    except (OSError, UserError):
        return None


def read_asha(asha_json: Path) -> dict[str, Any] | None:
    """ASHA's recorded rungs in the experiment that holds ``asha_json`` (the file with its
    journal), as ``asha.json`` holds them."""
    from raysearch.search.asha import read_asha_state
    from raysearch.search.store import RecordStore

    return read_asha_state(RecordStore(str(asha_json.parent)))


def snapshot_after(experiment: Path, since: float, timeout: float = 30.0) -> bool:
    """Wait until Tune's experiment state in ``experiment/tune`` was written after ``since`` (a
    ``time.time()``): every second in a small search (raysearch.search.snapshots), later when
    snapshots are slow. False if none came within ``timeout`` seconds."""
    end = time.time() + timeout
    while time.time() < end:
        states = list((experiment / "tune").glob("experiment_state-*.json"))
        if states and max(p.stat().st_mtime for p in states) > since:
            return True
        time.sleep(0.1)
    return False


# Tune registers a checkpoint reported with a result only when the trial's save() future resolves,
# a controller step after the result itself (which trials.json already shows); a snapshot written
# in between holds the result without the checkpoint, and a resume then starts that trial over
SAVE_GRACE_S = 2.0


def snapshot_with_checkpoints(experiment: Path) -> bool:
    """Wait for a snapshot written at least ``SAVE_GRACE_S`` after now: it holds the checkpoints
    of the results recorded by now (a save resolves in milliseconds on an idle machine)."""
    return snapshot_after(experiment, time.time() + SAVE_GRACE_S)


def wait_for(what: str, check: Callable[[], Any], timeout: float, proc: Any = None) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the driver exited (rc {proc.returncode}) before {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def cli(*args: str, log: Path, background: bool = False) -> subprocess.Popen:
    """``python -m raysearch.cli ARGS`` in its own process group (so it can be killed whole)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "raysearch.cli", *args], cwd=REPO, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (process group, command line) of every process we can see."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            out[int(entry.name)] = (os.getpgid(int(entry.name)), cmd)
        except (OSError, ProcessLookupError):
            continue
    return out


def kill_driver(proc: subprocess.Popen) -> list[int]:
    """SIGKILL the driver's process group, then any process of the Ray session it started that
    left the group; returns the pids of those stragglers (ours: the driver started them)."""
    group = {pid: cmd for pid, (pgid, cmd) in _processes().items() if pgid == proc.pid}
    sessions = {m.group(0) for cmd in group.values() for m in SESSION.finditer(cmd)}
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)
    stragglers = [pid for pid, (_, cmd) in _processes().items()
                  if any(s in cmd for s in sessions) and pid != os.getpid()]
    for pid in stragglers:
        os.kill(pid, signal.SIGKILL)
    return stragglers
