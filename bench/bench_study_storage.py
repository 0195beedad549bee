"""Issue 20: what keeping the Optuna study costs the driver per trial, by storage.

The same trials as a search tells them (ask, two parameters, a TPE suggestion, three intermediate
values, tell) go through an Optuna study on each storage, in one process, in turn:

- memory: ``InMemoryStorage`` (what a hand-assembled ``OptunaSearch`` keeps; lost with the driver);
- sqlite: ``RDBStorage("sqlite:///...")`` (raysearch's default study before issue 20);
- journal: Optuna's ``JournalStorage(JournalFileBackend(...))`` (a file lock and an fsync per write;
  what ``--optuna-storage journal:FILE`` uses);
- driver-journal: the same file format through ``raysearch.search.studies.DriverJournal`` (one
  plain append per write: the experiment's own study, which only the driver writes).

Reported: driver CPU seconds per trial (``time.process_time``), at each size. The sizes run
alternately (ABAB...) so that a change of load affects every storage alike.

Run:  PYTHONPATH=$PWD .venv/bin/python bench/bench_study_storage.py [--sizes 100,300] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

STORAGES = ("memory", "sqlite", "journal", "driver-journal")


def storage(kind: str, folder: Path) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from raysearch.search.studies import study_storage

    if kind == "memory":
        return None
    if kind == "sqlite":
        return study_storage(f"sqlite:///{folder / 'study.db'}")
    if kind == "journal":
        return JournalStorage(JournalFileBackend(str(folder / "study.journal")))
    return study_storage(f"journal:{folder / 'study.journal'}", single_writer=True)


def per_trial_cpu(kind: str, trials: int) -> float:
    import optuna

    folder = Path(tempfile.mkdtemp(prefix=f"study-{kind}-"))
    study = optuna.create_study(storage=storage(kind, folder), direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=10))
    t0 = time.process_time()
    for _ in range(trials):
        trial = study.ask()
        lr = trial.suggest_float("optim.lr_g", 1e-4, 1e-2, log=True)
        depth = trial.suggest_int("model.depth", 2, 4)
        for epoch in (1, 2, 3):
            trial.report(20.0 + epoch - 100 * lr + 0.1 * depth, epoch)
        study.tell(trial, 24.0 - 100 * lr + 0.1 * depth)
    return (time.process_time() - t0) / trials


def main() -> None:
    import optuna

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,300")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="write study_storage.json here")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: dict[tuple[str, int], list[float]] = {}
    load0 = os.getloadavg()[0]
    for n in (int(s) for s in args.sizes.split(",")):
        for _ in range(args.repeat):
            for kind in STORAGES:
                rows.setdefault((kind, n), []).append(per_trial_cpu(kind, n))
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load average {load0:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after; driver CPU ms per trial (min of {args.repeat})")
    print("| trials | " + " | ".join(STORAGES) + " |")
    print("|---:|" + "---:|" * len(STORAGES))
    sizes = sorted({n for _k, n in rows})
    for n in sizes:
        print(f"| {n} | " + " | ".join(f"{1000 * min(rows[(k, n)]):.1f}" for k in STORAGES) + " |")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "study_storage.json").write_text(json.dumps(
            {"date": time.strftime("%Y-%m-%d"), "load_before": load0,
             "cpu_s_per_trial": {f"{k}@{n}": v for (k, n), v in rows.items()}}, indent=1))


if __name__ == "__main__":
    main()
