"""Opening an experiment's Optuna study, as Optuna's own tools would: no Ray needed, so the
report and ``status`` can read it. ``study.py`` (the Tune searcher) builds on this."""

from __future__ import annotations

import optuna

JOURNAL = "journal:"  # --optuna-storage journal:PATH: Optuna's JournalStorage on a file
SQLITE_BUSY_TIMEOUT_S = 30  # a reader (optuna-dashboard) may hold the database while we write


def study_storage(url: str) -> optuna.storages.BaseStorage:
    """The storage behind ``--optuna-storage``: ``journal:PATH`` is Optuna's JournalStorage with a
    file backend (works on NFS, where SQLite's locking does not); anything else is an RDB URL.
    SQLite waits up to ``SQLITE_BUSY_TIMEOUT_S`` for a lock instead of failing at once
    (optuna-dashboard#545). Both pickle (OptunaSearch is saved with the Tune state)."""
    if url.startswith(JOURNAL):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len(JOURNAL):]))
    kwargs = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def open_study(url: str, name: str) -> optuna.Study:
    """The study of an experiment, as Optuna's own tools would open it."""
    return optuna.load_study(study_name=name, storage=study_storage(url))
