"""SQLite connections for the store: one serialised writer, a pool of snapshot readers.

WAL mode lets readers run beside the single writer, in this process and in others. A write
takes the database's write lock up front (`BEGIN IMMEDIATE`) so two writers queue on the
busy timeout instead of deadlocking, and a busy database is retried, not reported, until
`busy_timeout` runs out. `":memory:"` databases live on one connection behind one lock.

Checkpoints (copying committed WAL pages into the database file) run in a background
thread, at most once per `checkpoint_interval`, so a commit pays only for its own WAL write
and fsync; the writer still checkpoints by itself if the WAL outgrows `_WAL_BACKSTOP_PAGES`.
Durability is unchanged: a commit is in the (fsynced) WAL before it returns.
"""

from __future__ import annotations

import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from hippograph.store.errors import StoreClosedError

logger = logging.getLogger(__name__)

Durability = Literal["full", "normal"]

_WRITER_CACHE_KIB = 64 * 1024
"""Page cache of the writer: a 1000-item batch dirties a few MiB, which must not spill."""
_WAL_BACKSTOP_PAGES = 16_384
"""WAL size (pages) at which the writer checkpoints itself, should the background lag."""
_PAGE_SIZE = 8_192
"""Page size of new database files. A stored vector (384 float32 + row) is ~1.6 KiB: 8 KiB
pages hold five with no slack where 4 KiB pages hold two and waste a fifth, so a bulk load
writes ~20% fewer bytes (and WAL frames). Files created with another page size keep it."""


class _Checkpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` on its own connection after writes, off the
    writers' path. PASSIVE never blocks readers or writers; a busy checkpoint just waits
    for the next round."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], interval: float) -> None:
        self._connect = connect
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hippograph-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Note that a commit happened (a checkpoint follows within the interval)."""
        self._wake.set()

    def _run(self) -> None:
        conn = self._connect()
        try:
            while True:
                self._wake.wait()
                if self._stop.is_set():
                    return
                self._wake.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the next commit retries; the writer has a backstop
                    logger.debug("background checkpoint of the WAL failed: %s", exc)
                self._stop.wait(self._interval)  # a pause that close() cuts short
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the thread (idempotent)."""
        self._stop.set()
        self._wake.set()
        self._thread.join()


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
        checkpoint_interval: Seconds between background WAL checkpoints (`None`: let the
            writer checkpoint after commits, as SQLite does by default).
    """

    def __init__(
        self,
        path: str,
        *,
        durability: Durability = "full",
        busy_timeout: float = 60.0,
        max_readers: int = 8,
        checkpoint_interval: float | None = 0.5,
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
        self._checkpointer: _Checkpointer | None = None
        self._writer = self._connect(readonly=False)
        if not self.in_memory and checkpoint_interval is not None:
            self._writer.execute(f"PRAGMA wal_autocheckpoint = {_WAL_BACKSTOP_PAGES}")
            self._checkpointer = _Checkpointer(
                lambda: self._connect(readonly=False), checkpoint_interval
            )

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
                conn.execute(f"PRAGMA page_size = {_PAGE_SIZE}")  # a new, empty file only
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    logger.warning("SQLite refused WAL mode (got %s) for %s", mode, self.path)
            conn.execute(f"PRAGMA synchronous = {self.durability.upper()}")
            conn.execute("PRAGMA mmap_size = 268435456")
            if readonly:
                conn.execute("PRAGMA query_only = 1")
            else:  # deleted rows' bytes are zeroed in the pages a write touches anyway
                conn.execute("PRAGMA secure_delete = FAST")
                conn.execute(f"PRAGMA cache_size = -{_WRITER_CACHE_KIB}")
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
    def write(self, *, sync: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on normal exit, rolled back on any exception.

        With `sync=False` and `durability="full"`, the commit is not fsynced (it survives a
        crash of the process, not yet a power cut): for a series of transactions that ends
        with `sync_wal()` — one fsync instead of one per commit (bulk loads).
        """
        relaxed = not sync and self.durability == "full" and not self.in_memory
        with self._write_lock:
            self._check_open()
            conn = self._writer
            if relaxed:
                conn.execute("PRAGMA synchronous = NORMAL")
            try:
                self._begin(conn, "IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                if relaxed:
                    conn.execute("PRAGMA synchronous = FULL")
            if self._checkpointer is not None:
                self._checkpointer.poke()

    def sync_wal(self) -> None:
        """Make every commit so far durable against power loss (fsync the WAL file): the
        end of a series of `write(sync=False)` transactions. WAL frames are only appended,
        and checkpoints sync the database file, so this covers every earlier commit."""
        if self.in_memory or self.durability != "full":
            return
        with self._write_lock:
            self._check_open()
            wal = Path(f"{Path(self.path).expanduser()}-wal")
            try:
                fsync_path(wal)
            except FileNotFoundError:
                return  # checkpointed and removed: the database file was synced

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
            if self._checkpointer is not None:
                self._checkpointer.stop()
            while True:  # readers in use close themselves when released
                try:
                    self._readers.get_nowait().close()
                except queue.Empty:
                    break
            self._writer.close()


def fsync_path(path: Path) -> None:
    """Flush a file's (or a directory's) data to disk: what makes a write before it survive
    a power loss. One home for the WAL syncs of bulk loads and agent turns and the snapshot
    writes.

    Raises:
        FileNotFoundError: `path` does not exist.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
