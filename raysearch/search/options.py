"""Checks of submit's options that need no Ray: numbers, storage URIs, database URLs, addresses.

Each one refuses a value before anything starts, with one line that names the option and what
would be valid. A cluster address is also tried (a TCP connect with a timeout), so an address
nobody answers on is an error in seconds rather than a driver that waits for ever.
"""

from __future__ import annotations

import math
import socket
from pathlib import Path
from urllib.parse import urlsplit

from raysearch.errors import UserError

# what pyarrow.fs opens (Tune's storage_path); "file" needs no network
STORAGE_SCHEMES = ("file", "s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")
RDB_DRIVERS = {"postgresql": "psycopg2", "mysql": "MySQLdb", "sqlite": "sqlite3"}
CONNECT_TIMEOUT_S = 5.0


def finite_number(option: str, value: float, *, at_least: float, strictly: bool = False) -> None:
    """A real number, not NaN or infinite, at least (or above) ``at_least``."""
    low_ok = value > at_least if strictly else value >= at_least
    if not math.isfinite(value) or not low_ok:
        bound = f"> {at_least:g}" if strictly else f">= {at_least:g}"
        raise UserError(f"{option} must be a finite number {bound}, got {value}")


def check_storage(uri: str) -> None:
    """``--storage``: a folder, or a URI with a scheme pyarrow's filesystems open."""
    if "://" not in uri:
        return
    scheme = urlsplit(uri).scheme.lower()
    if scheme not in STORAGE_SCHEMES:
        raise UserError(f"--storage {uri}: unknown scheme {scheme!r}; give a folder or one of "
                        f"{', '.join(s + '://' for s in STORAGE_SCHEMES)}")


def check_optuna_storage(url: str) -> str:
    """``--optuna-storage``: ``journal:FILE`` in an existing folder, or an RDB URL whose driver is
    installed (and, for SQLite, whose folder exists). Returns the URL to use (paths made absolute,
    since trials may run from another folder)."""
    if url.startswith("journal:"):
        journal = Path(url[len("journal:"):]).expanduser()
        if not journal.name or not journal.parent.is_dir():
            raise UserError(f"--optuna-storage {url}: give journal:FILE in an existing folder "
                            f"(not found: {journal.parent})")
        return f"journal:{journal.resolve()}"
    scheme = urlsplit(url).scheme.lower()
    dialect, _, driver = scheme.partition("+")
    if "://" not in url or dialect not in RDB_DRIVERS:
        raise UserError(f"--optuna-storage {url!r}: give journal:FILE or a database URL "
                        f"({', '.join(d + '://...' for d in RDB_DRIVERS)})")
    if dialect == "sqlite":
        rest = url.split("://", 1)[1][1:]  # sqlite:///relative.db, sqlite:////absolute.db
        path = Path(rest)
        if rest not in ("", ":memory:") and not path.parent.is_dir():
            raise UserError(f"--optuna-storage {url}: the folder {path.parent} does not exist")
        return url
    module = driver or RDB_DRIVERS[dialect]
    try:
        __import__(module)
    except ImportError:
        raise UserError(f"--optuna-storage {url}: the {dialect} driver {module!r} is not installed "
                        f"(pip install {'psycopg2-binary' if module == 'psycopg2' else module})"
                        ) from None
    return url


def check_address(address: str, reach: bool = True) -> None:
    """``--address``: auto, http(s)://HEAD:8265 (Jobs API), ray://HEAD:10001 or HOST:PORT; with
    ``reach``, something must answer there within a few seconds (the Jobs API client says on its
    own when it cannot reach an http address)."""
    if address == "auto":
        return
    parts = urlsplit(address if "://" in address else f"gcs://{address}")
    valid = ("auto, http://HEAD:8265 (submit as a Ray Job), ray://HEAD:10001 (Ray Client) or "
             "HOST:PORT (the head's GCS)")
    if parts.scheme not in ("http", "https", "ray", "gcs") or not parts.hostname or " " in address:
        raise UserError(f"--address {address!r}: give {valid}")
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        raise UserError(f"--address {address!r}: the port is not a number; give {valid}") from None
    if port is None:
        raise UserError(f"--address {address!r}: give the port too, e.g. {parts.hostname}:6379")
    if not reach or parts.scheme in ("http", "https"):
        return
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as e:
        raise UserError(f"--address {address}: nothing answers at {parts.hostname}:{port} "
                        f"({e.strerror or e}); is the cluster up?") from None
