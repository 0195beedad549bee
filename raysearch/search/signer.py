"""The Tune callback that signs Tune's state files before they reach the experiment folder.

Tune writes its snapshot (``experiment_state-*.json``, the searcher's pickles, each trial's
``params.pkl`` and ``error.pkl``) into a staging folder on the driver, then uploads that folder
to ``tune/`` in a background thread. Inside the snapshot (``TuneController.save_to_dir`` in Ray
2.60) it asks every callback for its state right after writing those files and right before the
upload starts: ``Signer.get_state`` signs them there. So a file reaches ``tune/`` only after its
signature is in ``signatures.json``, and a driver killed at any moment leaves a folder that
verifies; a file that appears in ``tune/`` with no signature was written by someone else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ray.tune import Callback

from raysearch.search.signing import Signatures, load_key, needs_signature, sign_paths
from raysearch.search.store import TUNE_DIR, RecordStore


class Signer(Callback):
    """Signs what Tune staged for upload, at each of Tune's snapshots (see the module doc)."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self._reset()

    def _reset(self) -> None:
        self._trials: list[Any] = []
        self._stat: dict[str, tuple[int, int, int]] = {}  # path -> (inode, size, mtime) signed
        self._signatures: Signatures | None = None
        self._key: bytes | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"store": self.store}  # pickled into tuner.pkl: never the key, never a cache

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.store = state["store"]
        self._reset()

    def setup(self, stop: Any = None, num_samples: int | None = None,
              total_num_samples: int | None = None, **info: Any) -> None:
        self._reset()  # a restored Tuner brings the copy pickled at submit time: start afresh

    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        # Tune's own list, which it extends in place: by the step's snapshot it holds the trial
        # that the step added, even in the first step of a search
        self._trials = trials

    def get_state(self) -> dict[str, Any] | None:
        """Called by Tune inside its snapshot, between writing the files and uploading them."""
        staging = self._staging()
        if staging is not None:
            self.sign_folder(staging)
        return None  # no state: Tune then writes no callback-states pickle to sign

    def _staging(self) -> Path | None:
        for trial in self._trials:
            storage = getattr(trial, "storage", None)
            if storage is not None:
                return Path(storage.experiment_driver_staging_path)
        return None  # no trial yet: the snapshot holds no trial either

    def sign_folder(self, staging: Path) -> None:
        """Sign every file of ``staging`` (Tune's copy of ``tune/``) that a restore unpickles."""
        if self._key is None:
            self._key = load_key()
        if self._signatures is None:
            self._signatures = Signatures.load(self.store)
        changed = []
        for folder, _, names in os.walk(staging):
            for name in names:
                path = Path(folder, name)
                rel = f"{TUNE_DIR}/{path.relative_to(staging).as_posix()}"
                if not needs_signature(rel):
                    continue
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue  # a temporary file Tune just renamed
                seen = (st.st_ino, st.st_size, st.st_mtime_ns)
                if self._stat.get(rel) != seen:
                    changed.append((rel, path))
                    self._stat[rel] = seen
        if changed and sign_paths(self._key, self._signatures, changed):
            self._signatures.save()
