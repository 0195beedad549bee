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


def test_a_mistyped_key_is_answered_before_torch_or_ray_load(tmp_path: Path) -> None:
    """What makes a user's mistake print at once: the config, the space and the options are
    checked before the registries (torch) and Ray are imported."""
    code = ("import sys\nfrom raysearch.cli import main\n"
            "try:\n    main(['submit', '--set', 'model.depthx=3', '--results', sys.argv[1]])\n"
            "except SystemExit as e:\n    print('exit', e.code)\n"
            "print(sorted(m for m in ('torch', 'ray', 'optuna') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, cwd=REPO)
    assert "error: unknown config key 'model.depthx'" in proc.stderr
    assert proc.stdout.split() == ["exit", "2", "[]"], proc.stdout
