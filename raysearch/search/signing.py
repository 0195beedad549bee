"""Signatures over the files a resume unpickles: an HMAC-SHA256 with a per-user key.

``Tuner.restore`` unpickles Tune's ``tuner.pkl``, ``experiment_state-*.json`` (JSON that embeds
cloudpickle), ``search_gen_state-*.json`` and ``searcher-state-*.pkl`` (cloudpickle under either
name), and at the end of the fit each errored trial's ``error.pkl``: whoever can write to the
experiment folder (or its ``--storage`` bucket) could run code in the next ``raysearch resume``.
The driver signs each of these files as it is written (``raysearch.search.signer``) and
``resume`` verifies them before anything is unpickled.

- The key: ``~/.raysearch/signing_key`` (``RAYSEARCH_SIGNING_KEY_FILE`` overrides), 32 random
  bytes as hex, created on first use with mode 600; a key that others can read is refused.
- The signatures: ``signatures.json`` in the experiment folder (outside ``tune/``, which Tune
  copies around on a restore), ``{"files": {"tune/tuner.pkl": [digest, ...]}}``, newest first.
  Each digest covers the file's path in the experiment and its bytes, so a signed file cannot
  stand in for another. A few earlier digests of a path stay valid: Tune uploads its snapshots in
  the background, so the copy at the storage may be one or more snapshots behind the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from raysearch.errors import UserError
from raysearch.search.store import SIGNATURES_FILE, TUNE_DIR, RecordStore, write_json_atomic

KEY_ENV = "RAYSEARCH_SIGNING_KEY_FILE"
DEFAULT_KEY_FILE = Path("~/.raysearch/signing_key")
VERSIONS_KEPT = 32  # digests per path: how far Tune's background upload may lag the signature
_CHUNK = 1 << 20


def key_path() -> Path:
    return Path(os.environ.get(KEY_ENV) or DEFAULT_KEY_FILE).expanduser()


def _create_key(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another driver made it first: use that one
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")


def load_key() -> bytes:
    """This user's signing key, created on first use (mode 600; refused if others can read it)."""
    path = key_path()
    if not path.exists():
        _create_key(path)
    for _ in range(50):  # a key another process created this instant may not be written yet
        try:
            mode = path.stat().st_mode
            key = path.read_bytes().strip()
        except OSError as e:
            raise UserError(f"signing key {path}: cannot read it ({e.strerror}); set {KEY_ENV} "
                            "to a key file of yours") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise UserError(f"signing key {path} can be read by others (mode "
                            f"{stat.S_IMODE(mode):03o}); make it private: chmod 600 {path}")
        if len(key) >= 32:
            return key
        time.sleep(0.02)
    raise UserError(f"signing key {path} holds {len(key)} bytes; a key is at least 32 "
                    f"(delete the file to have a new one made, or set {KEY_ENV})")


def needs_signature(relpath: str) -> bool:
    """Whether Tune may unpickle this file of the experiment (path relative to it, with /)."""
    parts = relpath.split("/")
    if parts[0] != TUNE_DIR or len(parts) < 2:
        return False
    # every pickle, and the JSON files at Tune's top level: Tune downloads them on a restore and
    # reads them with cloudpickle (search_gen_state-*.json is a pickle despite its name)
    return parts[-1].endswith(".pkl") or (len(parts) == 2 and parts[-1].endswith(".json"))


def digest(key: bytes, relpath: str, stream: IO[bytes]) -> str:
    mac = hmac.new(key, relpath.encode() + b"\0", hashlib.sha256)
    while chunk := stream.read(_CHUNK):
        mac.update(chunk)
    return mac.hexdigest()


def read_signatures(store: RecordStore) -> dict[str, list[str]]:
    """Signatures of the experiment: the local file's, and the storage copy's when there is one."""
    found: dict[str, list[str]] = {}
    texts = []
    local = store.folder / SIGNATURES_FILE
    if local.exists():
        texts.append(local.read_text())
    remote = store.read_remote(SIGNATURES_FILE)
    if remote is not None:
        texts.append(remote.decode())
    for text in texts:
        try:
            files = json.loads(text).get("files", {})
        except (ValueError, AttributeError):
            continue  # unreadable signatures sign nothing: the files they covered are refused
        for rel, digests in files.items() if isinstance(files, dict) else ():
            found.setdefault(rel, []).extend(d for d in digests if isinstance(d, str))
    return found


@dataclass
class Signatures:
    """The signatures file of one experiment, kept in memory by the driver that writes it."""

    store: RecordStore
    files: dict[str, list[str]]

    @classmethod
    def load(cls, store: RecordStore) -> Signatures:
        return cls(store, read_signatures(store))

    def add(self, relpath: str, value: str) -> bool:
        """Record ``value`` as the newest digest of ``relpath``; False if it already was."""
        known = self.files.setdefault(relpath, [])
        if known and known[0] == value:
            return False
        if value in known:
            known.remove(value)
        known.insert(0, value)
        del known[VERSIONS_KEPT:]
        return True

    def save(self) -> None:
        """Written (atomically) and uploaded before the files it signs reach the storage."""
        path = self.store.folder / SIGNATURES_FILE
        self.store.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"algorithm": "hmac-sha256", "key": "per user, see "
                                 "docs/resume-and-failures.md", "files": self.files})
        self.store.upload(SIGNATURES_FILE)


def _files_at(experiment_uri: str) -> Iterator[tuple[str, Any, str]]:
    """(path relative to the experiment, filesystem, path on it) of every file under tune/."""
    from pyarrow import fs

    filesystem, root = fs.FileSystem.from_uri(experiment_uri)
    selector = fs.FileSelector(f"{root}/{TUNE_DIR}", allow_not_found=True, recursive=True)
    for info in filesystem.get_file_info(selector):
        if info.type == fs.FileType.File:
            yield info.path[len(root):].lstrip("/"), filesystem, info.path


def unverified(experiment_uri: str, store: RecordStore, key: bytes) -> list[tuple[str, str]]:
    """The files a restore would unpickle whose signature is missing or wrong: (path, why)."""
    signatures = read_signatures(store)
    bad = []
    for rel, filesystem, path in sorted(_files_at(experiment_uri)):
        if not needs_signature(rel):
            continue
        accepted = signatures.get(rel)
        if not accepted:
            bad.append((rel, "no signature"))
            continue
        with filesystem.open_input_stream(path) as f:
            value = digest(key, rel, f)
        if not any(hmac.compare_digest(value, a) for a in accepted):
            bad.append((rel, "signature does not match"))
    return bad


def check_signed(name: str, experiment_uri: str, store: RecordStore, trust_unsigned: bool,
                 say: Callable[[str], None] = print) -> None:
    """Refuse to resume when a file Tune would unpickle is not signed by this user's key."""
    bad = unverified(experiment_uri, store, load_key())
    if not bad:
        return
    listed = ", ".join(f"{rel} ({why})" for rel, why in bad)
    if trust_unsigned:
        say(f"--trust-unsigned: resuming {name!r} with {len(bad)} file(s) not signed by your key: "
            f"{listed}")
        return
    raise UserError(f"refusing to resume {name!r}: {len(bad)} file(s) in {experiment_uri} that "
                    f"the resume would unpickle (run as code) are not signed by your key "
                    f"{key_path()}: {listed}; if you trust whoever wrote them, add --trust-unsigned")


def sign_paths(key: bytes, signatures: Signatures, files: Iterable[tuple[str, Path]]) -> bool:
    """Add the digest of each local (relpath, file); True if any signature changed."""
    changed = False
    for rel, path in files:
        with path.open("rb") as f:
            changed |= signatures.add(rel, digest(key, rel, f))
    return changed


def sign_stored(experiment_uri: str, store: RecordStore, relpath: str) -> None:
    """Sign one file that Tune wrote straight to the storage: ``tune/tuner.pkl``, which
    ``tune.Tuner(...)`` writes once, before the search starts (signed right after it returns)."""
    from pyarrow import fs

    filesystem, root = fs.FileSystem.from_uri(experiment_uri)
    key, signatures = load_key(), Signatures.load(store)
    with filesystem.open_input_stream(f"{root}/{relpath}") as f:
        signatures.add(relpath, digest(key, relpath, f))
    signatures.save()
