"""A full disk during a search: one line, exit 2, and ``resume`` goes on once there is room.

The disk is full for one file only: ``trials.journal`` (the records' journal) is a link to ``/dev/full``,
which answers every write with ENOSPC, as a full disk does. Everything else is real: the CLI, Ray,
Tune and the records.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.search.survive_helpers import cli, write_space


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs Linux's /dev/full")
def test_a_full_disk_is_one_line_and_resume_goes_on(tmp_path: Path) -> None:
    space = write_space(tmp_path, {"optim.lr_g": {"type": "float", "low": 1.0e-4, "high": 1.0e-3}})
    results, name = tmp_path / "results", "full"
    (results / name).mkdir(parents=True)
    (results / name / "trials.journal").symlink_to("/dev/full")
    args = ["--results", str(results)]
    proc = cli("submit", "--name", name, "--space", str(space), "--num-samples", "1",
               "--max-epochs", "1", *args, log=tmp_path / "submit.log")
    assert proc.wait(timeout=300) == 2
    out = (tmp_path / "submit.log").read_text()
    errors = [ln for ln in out.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "no space left on the device" in errors[0], out[-2000:]
    assert "raysearch resume" in errors[0] and "Traceback" not in out

    (results / name / "trials.journal").unlink(missing_ok=True)  # room again (if the end of
    # the search, which folds the journal into trials.json, has not removed the link already)
    resumed = cli("resume", name, *args, log=tmp_path / "resume.log")
    assert resumed.wait(timeout=400) == 0, (tmp_path / "resume.log").read_text()[-3000:]
    assert "best trial 0" in (tmp_path / "resume.log").read_text()
