"""Issue 16's bad inputs through the installed ``raysearch`` command, one process each: the exit
code, the error line and how long the answer took (wall, with the load average), as a Markdown
table for BENCHMARKS.md. The cases are those of ``tests/reliability/cases.py``.

    python bench/bench_bad_input.py --out bench/results/bad_input.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability.cases import CASES, MASKS, write_inputs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "bad_input.json")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("raysearch"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp)
        write_inputs(f)
        load_start = os.getloadavg()[0]
        for case in CASES:
            if case.needs_masks and not Path(MASKS, "02000.png").exists():
                continue
            argv = [a.replace("{f}", str(f)) for a in case.argv]
            t0 = time.perf_counter()
            proc = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=300,
                                  stdin=subprocess.DEVNULL, cwd=tmp)
            wall = time.perf_counter() - t0
            out = (proc.stderr + proc.stdout).strip().splitlines()
            errors = [ln for ln in out if ln.startswith("error:")]
            rows.append({"case": case.name, "exit": proc.returncode, "wall_s": round(wall, 2),
                         "error_lines": len(errors), "traceback": any("Traceback" in ln for ln in out),
                         "message": (errors[0] if errors else (out[-1] if out else "")).replace(tmp, "…")})
        load_end = os.getloadavg()[0]
    walls = [r["wall_s"] for r in rows]
    summary = {"date": time.strftime("%Y-%m-%d %H:%M"), "load_start": load_start, "load_end": load_end,
               "cases": len(rows), "all_exit_2": all(r["exit"] == 2 for r in rows),
               "all_one_line": all(r["error_lines"] == 1 and not r["traceback"] for r in rows),
               "median_wall_s": statistics.median(walls), "max_wall_s": max(walls)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(f"{summary['date']}, load {load_start:.2f} -> {load_end:.2f}: {len(rows)} cases, "
          f"median {summary['median_wall_s']:.2f} s, max {summary['max_wall_s']:.2f} s")
    print("| input | exit | s | message |\n|---|---|---|---|")
    for r in rows:
        msg = r["message"].replace("|", "\\|")[:150]
        print(f"| {r['case']} | {r['exit']} | {r['wall_s']:.2f} | {msg} |")


if __name__ == "__main__":
    main()
