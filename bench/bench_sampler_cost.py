"""Issue 20: what one proposal of each model-based sampler costs the driver, by study size.

A study on the quick-start space (``search_spaces/quickstart.yaml``: 6 parameters, no
conditions) is filled with N finished trials as an ASHA search leaves them: a quarter COMPLETE
after 4 epochs, the rest PRUNED after 1, with a smooth synthetic score (no training). Then the
sampler, built as a search builds it (``raysearch.search.strategy.make_sampler``), proposes a few
more trials, and the driver CPU seconds (``time.process_time``, all threads) and wall seconds per
proposal are reported at each N. GPSampler refits its Gaussian process at every proposal (O(N^3)
in the trials); TPE refits its densities (O(N)).

Run:  PYTHONPATH=$PWD .venv/bin/python bench/bench_sampler_cost.py [--sizes 30,100,300]
      [--samplers tpe,gp] [--proposals 5]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def score(params: dict[str, Any]) -> float:
    """A smooth stand-in for val_psnr: best at the space's high lr_g, depth 4, 32 channels."""
    return (22.0 + 0.8 * params["model.skip"] + 0.3 * params["model.depth"]
            + 0.01 * params["model.base_channels"] - 0.5 * abs(math.log10(params["optim.lr_g"]) + 2.7)
            - 0.05 * abs(params["loss.l1_hole"] - 3) - 5 * params["loss.adv_weight"])


def filled_study(sampler: Any, space: Any, n: int, seed: int) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    define = space.define_by_run()
    for i in range(n):
        trial = study.ask()
        define(trial)
        value = score(trial.params)
        if i % 4 == 0:
            for step in range(1, 5):
                trial.report(value - (4 - step) * 0.3, step)
            study.tell(trial, value)
        else:
            trial.report(value - 0.9, 1)
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    study.sampler = sampler
    return study


def measure(name: str, n: int, proposals: int, seed: int = 0) -> dict[str, Any]:
    from raysearch.search.space import load_space
    from raysearch.search.strategy import make_sampler

    space = load_space(REPO / "search_spaces" / "quickstart.yaml")
    study = filled_study(make_sampler(name, seed, startup_trials=4), space, n, seed)
    define = space.define_by_run()
    cpu, wall = [], []
    for _ in range(proposals):
        c0, w0 = time.process_time(), time.perf_counter()
        trial = study.ask()
        define(trial)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        study.tell(trial, score(trial.params))
    cpu.sort()
    wall.sort()
    return {"sampler": name, "trials": n, "cpu_s_median": cpu[len(cpu) // 2],
            "wall_s_median": wall[len(wall) // 2], "proposals": proposals}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="30,100,300")
    ap.add_argument("--samplers", default="tpe,gp")
    ap.add_argument("--proposals", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None, help="a JSON file for the rows")
    args = ap.parse_args()
    rows = []
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.1f}, "
          f"{os.cpu_count()} CPUs", flush=True)
    print("| sampler | finished trials | driver CPU s per proposal | wall s per proposal |")
    print("|---|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        for name in args.samplers.split(","):
            r = measure(name, n, args.proposals)
            rows.append(r)
            print(f"| {name} | {n} | {r['cpu_s_median']:.3f} | {r['wall_s_median']:.3f} |",
                  flush=True)
    print(f"load at the end {os.getloadavg()[0]:.1f}")
    if args.out:
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"),
                                        "load_end": os.getloadavg()[0], "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
