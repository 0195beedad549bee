"""Opening an experiment's Optuna study, as Optuna's own tools would: no Ray needed, so the
report and ``status`` can read it. ``study.py`` (the Tune searcher) builds on this."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend

from raysearch.search.store import AppendFile

JOURNAL = "journal:"  # --optuna-storage journal:PATH: Optuna's JournalStorage on a file
SQLITE_BUSY_TIMEOUT_S = 30  # a reader (optuna-dashboard) may hold the database while we write


class DriverJournal(JournalFileBackend):
    """Optuna's journal file backend for a file that one process writes: the search driver, which
    holds the experiment's lock, writing the study in its own folder. Optuna's backend takes a
    file lock and fsyncs on each of the ten or so writes per trial (for writers on several
    machines, and for power cuts), and opens the file again to read back every write before the
    next operation; for this file that was most of the study's cost per trial (BENCHMARKS.md,
    issue 20). Here each append is one write to a file kept open (``store.AppendFile``), as
    ``trials.journal``'s are: a killed driver loses nothing the OS has, and Optuna skips a line
    cut short when it reads. What this process appended is read back from memory, decoded from
    the very text it wrote; the file is read only when the storage asks from another place
    (its first read, or a copy unpickled in a new driver)."""

    def __init__(self, file_path: str) -> None:
        super().__init__(file_path)
        self._forget()

    def _forget(self) -> None:
        self._file = AppendFile(self._file_path)
        self._unread: list[dict[str, Any]] = []  # appended since the storage last read
        self._read_to: int | None = None  # the log number the storage reads from next

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_file", "_unread", "_read_to")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._forget()

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        lines = [json.dumps(log, separators=(",", ":")) for log in logs]
        self._file.append("".join(line + "\n" for line in lines))
        self._unread.extend(json.loads(line) for line in lines)

    def read_logs(self, log_number_from: int) -> Generator[dict[str, Any], None, None]:
        if log_number_from == self._read_to:
            logs, self._unread = self._unread, []
        else:  # everything this process appended is in the file as well
            logs, self._unread = list(super().read_logs(log_number_from)), []
        self._read_to = log_number_from + len(logs)
        return (log for log in logs)  # read now; a generator, as the backend's own


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
