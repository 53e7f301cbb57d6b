"""The job store's SQLite connections: a small pool, bounded whatever the thread count.

Every C-STORE association runs on its own thread; a connection per thread (as before) left
two file descriptors open per association for good. Here a connection is borrowed for one
statement or one transaction and given back; at most :data:`POOL_SIZE` idle connections are
kept, the rest are closed. SQLite serialises writers (``BEGIN IMMEDIATE`` with a busy timeout).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dicom_node.store.schema import migrate

__all__ = ["POOL_SIZE", "Database"]

#: Idle connections kept for reuse; more may be open while that many threads use the store.
POOL_SIZE = 4


def _private_file(path: Path) -> None:
    """Create *path* (and its folder) readable by the service user only: 0600 in 0700."""
    missing: list[Path] = []
    p = path.parent
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    # SQLite gives its -wal and -shm files the database file's permissions.
    os.chmod(path, 0o600)


class Database:
    """Pooled SQLite connections to one file in WAL mode.

    Parameters
    ----------
    path
        The database file; created 0600 (its folder 0700) when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            _private_file(self.path)
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._open = 0
        self._closed = False
        with self._borrow() as conn:
            migrate(conn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed transaction survives power loss (PS: Success means durable).
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def _borrow(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise RuntimeError("the job store is closed")
            conn = self._idle.pop() if self._idle else None
            if conn is None:
                self._open += 1
        if conn is None:
            try:
                conn = self._connect()
            except BaseException:
                with self._lock:
                    self._open -= 1
                raise
        try:
            yield conn
        finally:
            if conn.in_transaction:  # an exception between BEGIN and COMMIT/ROLLBACK
                conn.rollback()
            with self._lock:
                keep = not self._closed and len(self._idle) < POOL_SIZE
                if keep:
                    self._idle.append(conn)
                else:
                    self._open -= 1
            if not keep:
                conn.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads (autocommit: each statement sees the latest commit)."""
        with self._borrow() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside ``BEGIN IMMEDIATE``; committed on exit, rolled back on error."""
        with self._borrow() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @property
    def open_connections(self) -> int:
        """Connections open now (idle in the pool or in use)."""
        with self._lock:
            return self._open

    def close(self) -> None:
        """Close the idle connections; those in use close when given back."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._closed = True
            self._open -= len(idle)
        for c in idle:
            c.close()

    @property
    def journal_mode(self) -> str:
        """The SQLite journal mode in use (``wal``)."""
        with self._read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    @property
    def schema_version(self) -> int:
        """``PRAGMA user_version``: the schema version of the file."""
        with self._read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
