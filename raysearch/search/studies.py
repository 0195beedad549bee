"""Opening an experiment's Optuna study, as Optuna's own tools would: no Ray needed, so the
report and ``status`` can read it. ``study.py`` (the Tune searcher) builds on this."""

from __future__ import annotations

import json
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend

JOURNAL = "journal:"  # --optuna-storage journal:PATH: Optuna's JournalStorage on a file
SQLITE_BUSY_TIMEOUT_S = 30  # a reader (optuna-dashboard) may hold the database while we write


class DriverJournal(JournalFileBackend):
    """Optuna's journal file backend for a file that one process writes: the search driver, which
    holds the experiment's lock, writing the study in its own folder. Optuna's backend takes a
    file lock and fsyncs on each of the ten or so writes per trial (for writers on several
    machines, and for power cuts); for this file that was most of the study's cost per trial
    (BENCHMARKS.md, issue 20). Here each append is one plain write, as ``trials.journal``'s are:
    a killed driver loses nothing the OS has, and Optuna skips a line cut short when it reads."""

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
        with open(self._file_path, "ab") as f:
            f.write(text.encode("utf-8"))


def study_storage(url: str, single_writer: bool = False) -> optuna.storages.BaseStorage:
    """The storage behind ``--optuna-storage``: ``journal:PATH`` is Optuna's JournalStorage with a
    file backend (works on NFS, where SQLite's locking does not); anything else is an RDB URL.
    SQLite waits up to ``SQLITE_BUSY_TIMEOUT_S`` for a lock instead of failing at once
    (optuna-dashboard#545). Both pickle (OptunaSearch is saved with the Tune state).
    ``single_writer``: the journal is the experiment's own (the driver writes it alone)."""
    if url.startswith(JOURNAL):
        path = url[len(JOURNAL):]
        backend = DriverJournal(path) if single_writer else JournalFileBackend(path)
        return optuna.storages.JournalStorage(backend)
    kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def open_study(url: str, name: str) -> optuna.Study:
    """The study of an experiment, as Optuna's own tools would open it."""
    return optuna.load_study(study_name=name, storage=study_storage(url))
