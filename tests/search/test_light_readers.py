"""Read-only commands stay light: what status, best, plot and export import needs no Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
READERS = ("raysearch.cli", "raysearch.search.experiment", "raysearch.report",
           "raysearch.results.export")


def test_reading_an_experiment_imports_no_ray() -> None:
    code = ("import sys\n" + "".join(f"import {m}\n" for m in READERS)
            + "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO).stdout.strip()
    assert out == "[]", f"Ray imported by a reader: {out[:300]}"
