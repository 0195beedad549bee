"""Where an experiment's own records live: a local folder, mirrored to a storage URI when given.

Ray Tune writes its state and the checkpoints straight to the storage (a folder, ``file://``,
``s3://``, ``gs://``: anything ``pyarrow.fs`` opens). Our records (``raysearch.json``,
``trials.json``, ``asha.json`` and the SQLite Optuna study, which cannot live in a bucket) are
written to the local folder first, so ``status`` and ``best`` read them without the network, and
copied to ``STORAGE/NAME/`` after each change, so a search can be resumed from another machine.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from raysearch.search.records import TRIALS_FILE, TRIALS_JOURNAL, TrialRecord, trials_text

SPEC_FILE = "raysearch.json"
# Tune's own folder inside the experiment: on a restore Tune copies every .json and .pkl of its
# experiment folder to its staging folder and syncs them back every snapshot, which would put
# stale copies of trials.json and asha.json over the live ones
TUNE_DIR = "tune"
SIGNATURES_FILE = "signatures.json"  # raysearch.search.signing
# the Optuna study, unless --optuna-storage says otherwise: Optuna's JournalStorage on a file (an
# append-only log). The driver's writes cost a twelfth of SQLite's per trial (BENCHMARKS.md);
# optuna-dashboard and optuna.load_study open it as well
STUDY_FILE = "optuna.journal"
ASHA_FILE, ASHA_JOURNAL = "asha.json", "asha.journal"  # raysearch.search.asha
RECORDS = (SPEC_FILE, TRIALS_FILE, TRIALS_JOURNAL, ASHA_FILE, ASHA_JOURNAL, STUDY_FILE,
           SIGNATURES_FILE)
# a journal is compacted into its file once it has grown past the file (and this): each event
# then costs one appended line and, amortised, one more line's worth of rewriting
COMPACT_BYTES = 1 << 20


def default_storage_url(experiment: Path) -> str:
    """The study's storage inside the experiment folder (``journal:PATH``, studies.study_storage)."""
    return f"journal:{Path(experiment).resolve() / STUDY_FILE}"


def is_uri(path: str) -> bool:
    return "://" in path


def join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, default=str))


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _cut_partial_line(path: str) -> None:
    """Drop a last line without its newline (what a writer killed mid-line leaves), so that the
    next line appended does not run into it; readers skip such a line anyway."""
    if not os.path.exists(path):
        return
    with open(path, "r+b") as f:
        end = pos = f.seek(0, os.SEEK_END)
        while pos > 0:
            step = min(pos, 1 << 16)
            f.seek(pos - step)
            newline = f.read(step).rfind(b"\n")
            pos -= step
            if newline >= 0:
                pos += newline + 1
                break
        if pos != end:
            f.truncate(pos)


class AppendFile:
    """A journal that this process alone appends to, kept open from one line to the next. Each
    append is flushed before it returns: what was appended is the OS's (a killed driver loses
    none of it), without an open and a close per event (issue 20)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._f: IO[bytes] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_f": None}  # a copy (a pickled driver object) opens its own

    def append(self, text: str) -> int:
        """Append ``text`` (whole lines); returns the bytes written."""
        if self._f is None or os.fstat(self._f.fileno()).st_nlink == 0:  # not open, or removed
            self.close()
            _cut_partial_line(self.path)
            self._f = open(self.path, "ab")  # noqa: SIM115 (open until removed or closed)
        data = text.encode()
        try:
            self._f.write(data)
            self._f.flush()
        except OSError:  # a full disk: the next append starts from a fresh handle
            self.close()
            raise
        return len(data)

    def close(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            with contextlib.suppress(OSError):  # what it held was not written: its append said so
                f.close()


@dataclass
class RecordStore:
    """An experiment's record folder (``local``) and, optionally, its copy at ``remote`` (a URI)."""

    local: str
    remote: str | None = None
    # the journals this store appends to, open (records.TRIALS_JOURNAL, ASHA_JOURNAL)
    _journals: dict[str, AppendFile] = field(default_factory=dict, init=False, repr=False,
                                             compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_journals": {}}

    @property
    def folder(self) -> Path:
        return Path(self.local)

    def _fs(self) -> tuple[Any, str]:
        from pyarrow import fs

        assert self.remote is not None
        return fs.FileSystem.from_uri(self.remote)

    def read_json(self, name: str, default: Any = None) -> Any:
        path = self.folder / name
        return json.loads(path.read_text()) if path.exists() else default

    def write_json(self, name: str, data: Any) -> None:
        write_json_atomic(self.folder / name, data)
        self.upload(name)

    def write_text(self, name: str, text: str) -> None:
        write_text_atomic(self.folder / name, text)
        self.upload(name)

    def append_text(self, name: str, text: str) -> int:
        """Append to a journal (its lines end with a newline); returns the bytes written."""
        journal = self._journals.get(name)
        if journal is None:
            journal = self._journals[name] = AppendFile(str(self.folder / name))
        written = journal.append(text)
        self.upload(name)
        return written

    def remove(self, name: str) -> None:
        """Delete a record here and at the storage (a journal just compacted into its file)."""
        journal = self._journals.pop(name, None)
        if journal is not None:
            journal.close()
        (self.folder / name).unlink(missing_ok=True)
        if self.remote is None:
            return
        from pyarrow import fs

        remote_fs, root = self._fs()
        if remote_fs.get_file_info(f"{root}/{name}").type == fs.FileType.File:
            remote_fs.delete_file(f"{root}/{name}")

    def size(self, name: str) -> int:
        path = self.folder / name
        return path.stat().st_size if path.exists() else 0

    def upload(self, name: str) -> None:
        """Copy one local record to the storage (no-op without a remote)."""
        if self.remote is None or not (self.folder / name).exists():
            return
        from pyarrow import fs

        remote_fs, root = self._fs()
        remote_fs.create_dir(root, recursive=True)
        fs.copy_files(str(self.folder / name), f"{root}/{name}",
                      source_filesystem=fs.LocalFileSystem(), destination_filesystem=remote_fs)

    def read_remote(self, name: str) -> bytes | None:
        """The bytes of one record at the storage (None without a remote or when it is absent)."""
        if self.remote is None:
            return None
        from pyarrow import fs

        remote_fs, root = self._fs()
        if remote_fs.get_file_info(f"{root}/{name}").type != fs.FileType.File:
            return None
        with remote_fs.open_input_stream(f"{root}/{name}") as f:
            data: bytes = f.readall()
        return data

    def download(self) -> list[str]:
        """Fetch the records that exist at the storage into the local folder; returns their names."""
        if self.remote is None:
            return []
        from pyarrow import fs

        remote_fs, root = self._fs()
        self.folder.mkdir(parents=True, exist_ok=True)
        got = []
        for name in RECORDS:
            if remote_fs.get_file_info(f"{root}/{name}").type == fs.FileType.File:
                fs.copy_files(f"{root}/{name}", str(self.folder / name), source_filesystem=remote_fs,
                              destination_filesystem=fs.LocalFileSystem())
                got.append(name)
        return got

    def fetch_dir(self, path: str, out: Path) -> bool:
        """Copy a folder that Tune wrote at the storage (a checkpoint) to ``out``; False if absent."""
        if self.remote is None:
            return False
        from pyarrow import fs

        remote_fs, _ = self._fs()
        if remote_fs.get_file_info(path).type != fs.FileType.Directory:
            return False
        out.mkdir(parents=True, exist_ok=True)
        fs.copy_files(path, str(out), source_filesystem=remote_fs,
                      destination_filesystem=fs.LocalFileSystem())
        return True


def earlier_experiment(name: str, results: Path, option: str = "--warm-start") -> Path:
    """The folder of an earlier experiment named on the command line, or a UserError naming it."""
    from raysearch.errors import UserError

    folder = Path(results) / name
    if "/" in name or not (folder / SPEC_FILE).exists():
        raise UserError(f"{option} {name}: no experiment {name!r} in {results} (give the name of "
                        "an earlier search in --results)")
    return folder


def write_trials(store: RecordStore, trials: list[TrialRecord]) -> int:
    """``trials.json`` with every record, its journal then dropped; returns the file's size.
    A reader between the two sees each journal line at most as new as the file's copy (the same
    revision), which it does not take."""
    text = trials_text([t.to_line() for t in sorted(trials, key=lambda t: t.number)])
    store.write_text(TRIALS_FILE, text)
    store.remove(TRIALS_JOURNAL)
    return len(text)
