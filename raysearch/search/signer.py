"""Tune's search algorithm, signing Tune's state files before they reach the experiment folder.

Tune writes each snapshot of its state into a staging folder on the driver, then uploads that
folder to ``tune/`` in a background thread. In Ray 2.60 a snapshot
(``TuneController.save_to_dir``) writes ``experiment_state-*.json``, then has the search
algorithm save itself there (``search_gen_state-*.json``, ``searcher-state-*.pkl``), then saves
the state of stateful callbacks (raysearch has none, so no file), and only then starts the
upload. Each trial's ``params.pkl`` and ``error.pkl`` were written to the staging folder before.
``SigningSearch.save_to_dir`` signs all of them right after the search algorithm's own save: a
file reaches ``tune/`` only after its signature is in ``signatures.json``, so a driver killed at
any moment leaves a folder that verifies, and a file in ``tune/`` without a signature was
written by someone else. Every snapshot goes through here, also the last one of a resume that
had nothing left to run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ray.tune.search import BasicVariantGenerator, Searcher, SearchGenerator

from raysearch.search.signing import Signatures, load_key, needs_signature, sign_paths
from raysearch.search.store import TUNE_DIR, RecordStore


class _SignsSnapshots:
    """A Tune search algorithm that signs the snapshot it has just saved itself into."""

    store: RecordStore

    def _forget(self) -> None:
        self._stat: dict[str, tuple[int, int, int]] = {}  # rel -> (inode, size, mtime) signed
        self._signatures: Signatures | None = None
        self._key: bytes | None = None

    def __getstate__(self) -> dict[str, Any]:
        # pickled into tuner.pkl: never the key, never the cache of what was signed
        return {k: v for k, v in self.__dict__.items() if k not in ("_stat", "_signatures", "_key")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._forget()

    def save_to_dir(self, dirpath: str, session_str: str = "default", **kwargs: Any) -> None:
        super().save_to_dir(dirpath, session_str)  # type: ignore[misc]
        self.sign_folder(Path(dirpath))

    def sign_folder(self, staging: Path) -> None:
        """Sign every file of ``staging`` (Tune's copy of ``tune/``) that a restore unpickles."""
        if self._key is None:
            self._key = load_key()
        if self._signatures is None:
            self._signatures = Signatures.load(self.store)
        changed = []
        for folder, _, names in os.walk(staging):
            # paths as strings: a snapshot walks every trial's folder, and pathlib per file cost
            # more than the rest of the walk (issue 20)
            below = os.path.relpath(folder, staging).replace(os.sep, "/")
            prefix = TUNE_DIR if below == "." else f"{TUNE_DIR}/{below}"
            for name in names:
                rel = f"{prefix}/{name}"
                if not needs_signature(rel):
                    continue
                path = os.path.join(folder, name)
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    continue  # a temporary file, renamed meanwhile
                seen = (st.st_ino, st.st_size, st.st_mtime_ns)
                if self._stat.get(rel) != seen:
                    changed.append((rel, Path(path)))
                    self._stat[rel] = seen
        if changed and sign_paths(self._key, self._signatures, changed):
            self._signatures.save()


class SigningSearch(_SignsSnapshots, SearchGenerator):
    """Tune's wrapper of a searcher (what Tune builds from a ``Searcher``), which also signs
    the snapshot in the staging folder it has just saved itself into."""

    def __init__(self, searcher: Searcher, store: RecordStore) -> None:
        super().__init__(searcher)
        self.store = store
        self._forget()


class SigningVariants(_SignsSnapshots, BasicVariantGenerator):
    """Tune's default search algorithm (``points_to_evaluate`` first, then samples of the
    param_space), signing its snapshots: what ``raysearch refine`` uses, since PBT refuses a
    ``SearchGenerator``."""

    def __init__(self, store: RecordStore, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self._forget()

    def get_state(self) -> Any:
        # its snapshot (basic-variant-state-*.json) is its __dict__: never the key or the cache
        state = super().get_state()
        if isinstance(state, dict):
            state = {k: v for k, v in state.items() if k not in ("_stat", "_signatures", "_key")}
        return state

    def set_state(self, state: Any) -> None:
        super().set_state(state)
        self._forget()
