"""One driver per experiment: an exclusive lock file in the experiment folder, held while it runs.

``submit`` takes it before it writes anything, and ``resume`` before it restores, so a second
``submit --name`` of the same experiment, or a ``resume`` of a search whose driver still runs,
gets one error naming the running driver instead of a second driver writing the same records.

The lock is ``.driver.lock``, created with ``O_CREAT | O_EXCL`` (atomic on local disks and on NFS
v3+), holding the driver's pid, host and start time; a thread refreshes its modification time every
``HEARTBEAT_S``. A lock is stale, and taken over, when its driver is gone: on this host its pid is
dead; from another host (a shared file system) it has not been refreshed for ``STALE_S``. So a
``resume`` after a SIGKILL of the driver works at once on the same machine, and within a minute or
two from another one. (Two processes that find the same stale lock at the same instant could both
take it over; that needs two resumes of one dead search started within milliseconds.)
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from raysearch.errors import UserError

LOCK_FILE = ".driver.lock"
HEARTBEAT_S = 15.0
STALE_S = 120.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def read_holder(folder: Path) -> dict[str, Any] | None:
    """Who holds the lock of ``folder`` (None when nobody does or the file is unreadable)."""
    try:
        data = json.loads((folder / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_stale(holder: dict[str, Any] | None, path: Path, now: float | None = None) -> bool:
    """A lock whose driver is gone: a dead pid on this host, or no heartbeat from another."""
    if holder is None:
        try:  # a half-written lock: stale once it is old enough to be no one's in progress
            return (now or time.time()) - path.stat().st_mtime > STALE_S
        except OSError:
            return True
    if holder.get("host") == socket.gethostname():
        return not _pid_alive(int(holder.get("pid", -1)))
    try:
        return (now or time.time()) - path.stat().st_mtime > STALE_S
    except OSError:
        return True


class ExperimentLock:
    """The lock of one experiment folder; ``acquire`` raises a UserError naming the holder."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = Path(folder)
        self.name = name
        self.path = self.folder / LOCK_FILE
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.held = False
        self._created = False  # this object wrote the file (and so removes it)

    def _mine(self, holder: dict[str, Any] | None) -> bool:
        return holder is not None and holder.get("host") == socket.gethostname() \
            and holder.get("pid") == os.getpid()

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = read_holder(self.folder)
                if self._mine(holder):  # this process already drives it (prepare, then run)
                    self.held = True
                    return
                if not is_stale(holder, self.path):
                    raise UserError(self._busy(holder)) from None
                # take a stale lock over: rename it away first, so that of two processes that
                # both found it stale only one re-creates it (the other's O_EXCL then fails)
                aside = self.path.with_name(f"{LOCK_FILE}.stale-{os.getpid()}")
                with contextlib.suppress(FileNotFoundError):
                    os.replace(self.path, aside)
                    os.unlink(aside)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = self._created = True
            self._thread = threading.Thread(target=self._beat, name="raysearch-lock", daemon=True)
            self._thread.start()
            return
        raise UserError(self._busy(read_holder(self.folder)))

    def _busy(self, holder: dict[str, Any] | None) -> str:
        who = "another driver"
        if holder:
            since = time.strftime("%H:%M:%S", time.localtime(float(holder.get("started", 0))))
            who = f"the driver pid {holder.get('pid')} on {holder.get('host')} (since {since})"
        return (f"experiment {self.name!r} is in use by {who}; wait for it to end or stop it "
                f"(a killed driver's lock is taken over by the next 'raysearch resume {self.name}')")

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._created and self._mine(read_holder(self.folder)):
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self.held = self._created = False
