"""SQLite connections for the store: one serialised writer, a pool of snapshot readers.

WAL mode lets readers run beside the single writer, in this process and in others. A write
takes the database's write lock up front (`BEGIN IMMEDIATE`) so two writers queue on the
busy timeout instead of deadlocking, and a busy database is retried, not reported, until
`busy_timeout` runs out. `":memory:"` databases live on one connection behind one lock.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from hippograph.store.errors import StoreClosedError

logger = logging.getLogger(__name__)

Durability = Literal["full", "normal"]


class StoreBusyError(sqlite3.OperationalError):
    """Another writer held the database for longer than the busy timeout."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Connections:
    """Hands out SQLite connections: `write()` for transactions that change data, `read()` for
    consistent snapshots.

    Args:
        path: A file path or `":memory:"`.
        durability: `"full"` fsyncs the WAL on every commit, so a write that returned survives
            power loss; `"normal"` survives process crashes (kill -9) but may lose the last
            commits on power loss. `"full"` is the default: a memory store must not lose
            acknowledged writes.
        busy_timeout: Seconds a writer waits for another writer before `StoreBusyError`.
        max_readers: Reader connections kept open for reuse.
    """

    def __init__(
        self,
        path: str,
        *,
        durability: Durability = "full",
        busy_timeout: float = 60.0,
        max_readers: int = 8,
    ) -> None:
        if durability not in ("full", "normal"):
            raise ValueError(f"durability must be 'full' or 'normal', got {durability!r}")
        self.path = path
        self.in_memory = path == ":memory:" or path.startswith("file::memory:")
        self.durability = durability
        self.busy_timeout = busy_timeout
        self._write_lock = threading.RLock()
        self._readers: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue(max_readers)
        self._closed = False
        if not self.in_memory:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect(readonly=False)

    def _connect(self, *, readonly: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            uri=self.path.startswith("file:"),
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not self.in_memory:
            if not readonly:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    logger.warning("SQLite refused WAL mode (got %s) for %s", mode, self.path)
            conn.execute(f"PRAGMA synchronous = {self.durability.upper()}")
            conn.execute("PRAGMA mmap_size = 268435456")
            if readonly:
                conn.execute("PRAGMA query_only = 1")
            else:  # deleted rows' bytes are zeroed in the pages a write touches anyway
                conn.execute("PRAGMA secure_delete = FAST")
        conn.execute("PRAGMA temp_store = MEMORY")
        return conn

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")

    def _begin(self, conn: sqlite3.Connection, mode: str) -> None:
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.005
        while True:
            try:
                conn.execute(f"BEGIN {mode}")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    if _is_busy(exc):
                        raise StoreBusyError(
                            f"database {self.path} stayed locked for {self.busy_timeout:.0f}s"
                        ) from exc
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.25)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on normal exit, rolled back on any exception."""
        with self._write_lock:
            self._check_open()
            conn = self._writer
            self._begin(conn, "IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def maintenance(self) -> Iterator[sqlite3.Connection]:
        """The writer connection outside any transaction, with other writers of this store
        held off: for statements that cannot run in a transaction (`VACUUM`, checkpoints)."""
        with self._write_lock:
            self._check_open()
            yield self._writer

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction over one consistent snapshot of the database."""
        self._check_open()
        if self.in_memory:
            with self._write_lock:
                self._check_open()
                conn = self._writer
                conn.execute("BEGIN")
                try:
                    yield conn
                finally:
                    conn.execute("COMMIT")
            return
        conn = self._acquire_reader()
        try:
            self._begin(conn, "DEFERRED")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")
        finally:
            self._release_reader(conn)

    def _acquire_reader(self) -> sqlite3.Connection:
        try:
            return self._readers.get_nowait()
        except queue.Empty:
            return self._connect(readonly=True)

    def _release_reader(self, conn: sqlite3.Connection) -> None:
        if self._closed:
            conn.close()
            return
        try:
            self._readers.put_nowait(conn)
        except queue.Full:
            conn.close()

    @property
    def closed(self) -> bool:
        """Whether `close()` has been called."""
        return self._closed

    def close(self) -> None:
        """Close every connection; later use raises `StoreClosedError`."""
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            while True:  # readers in use close themselves when released
                try:
                    self._readers.get_nowait().close()
                except queue.Empty:
                    break
            self._writer.close()
