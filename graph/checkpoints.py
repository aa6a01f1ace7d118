"""A turn's SQLite checkpoints made durable once, when the run ends, not once per write.

LangGraph's `SqliteSaver` / `AsyncSqliteSaver` commit every checkpoint and every node's
writes in WAL mode with SQLite's default `synchronous=FULL`, so each commit waits for an
fsync: two per node of a turn — on a busy disk the largest part of an agent turn's time
after embedding (issue 16, `benchmarks/results/agent_overhead.md`).

`TurnSqliteSaver` (and its async twin `AsyncTurnSqliteSaver`) commit the checkpoints of a
run that the agent runs inside `syncing_once` with `synchronous=NORMAL`. In WAL mode such a
commit is atomic and survives a crash of the process (it is in the operating system's
cache); only a power loss could undo it. When the run ends — returned, raised or abandoned —
the WAL file is fsynced once, which makes every commit before it durable: a turn returns
with its checkpoints on disk, as with LangGraph's savers. Every other write (other graphs'
runs, `delete_thread`, ...) commits with `synchronous=FULL`, as before.

Core pieces:
    - `TurnSqliteSaver` / `AsyncTurnSqliteSaver`: the savers `hippograph.backends`
      `open_checkpointer` / `aopen_checkpointer` open.
    - `syncing_once`: the scope of one run of a thread (an async context manager on the
      async twin).
    - `TurnRuns`: what both share — which threads have a run in progress, the `synchronous`
      mode a commit needs, and the fsync that ends a run.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import aiosqlite
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from hippograph.store.connections import fsync_path

_DEFERRED: ContextVar[bool] = ContextVar("hippograph_turn_write_deferred", default=False)
"""Set while a saver writes a checkpoint of a thread whose run is inside `syncing_once`."""


class TurnRuns:
    """The part both turn savers share: the threads whose runs are inside `syncing_once`,
    the `synchronous` mode the next commit needs, and the fsync that ends a run."""

    def __init__(self) -> None:
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._directory_synced = False

    @contextmanager
    def running(self, thread_id: str) -> Iterator[None]:
        """Mark a run of `thread_id` as in progress while inside (runs may nest or overlap)."""
        with self._lock:
            self._running[thread_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[thread_id] -= 1
                if not self._running[thread_id]:
                    del self._running[thread_id]

    @contextmanager
    def writing(self, config: RunnableConfig) -> Iterator[None]:
        """The scope of one checkpoint write: deferred (no fsync) if its thread is running."""
        thread_id = (config.get("configurable") or {}).get("thread_id")
        with self._lock:
            deferred = thread_id is not None and str(thread_id) in self._running
        token = _DEFERRED.set(deferred)
        try:
            yield
        finally:
            _DEFERRED.reset(token)

    @staticmethod
    def mode() -> str:
        """The `synchronous` mode of a commit made now: `NORMAL` for a deferred write."""
        return "NORMAL" if _DEFERRED.get() else "FULL"

    def fsync(self, wal: Path | None) -> None:
        """fsync the WAL file `wal` (and, the first time, its directory); nothing to do for an
        in-memory database or before the first write."""
        if wal is None or not wal.exists():
            return
        fsync_path(wal)
        if not self._directory_synced:
            fsync_path(wal.parent)
            self._directory_synced = True


def _wal_path(database_list: Sequence[tuple[Any, ...]]) -> Path | None:
    for _, name, file in database_list:
        if name == "main":
            return Path(f"{file}-wal") if file else None
    return None


class TurnSqliteSaver(SqliteSaver):
    """A `SqliteSaver` whose agent runs fsync once at their end (see the module docstring).

    Example:
        ```python
        with TurnSqliteSaver.from_conn_string("checkpoints.db") as saver:
            with saver.syncing_once("t1"):
                graph.invoke(..., config={"configurable": {"thread_id": "t1"}})
            # every checkpoint of the run is on disk here
        ```
    """

    def __init__(self, conn: sqlite3.Connection, *, serde: SerializerProtocol | None = None):
        super().__init__(conn, serde=serde)
        self.runs = TurnRuns()
        self._mode: str | None = None

    @contextmanager
    def syncing_once(self, thread_id: str) -> Iterator[None]:
        """Commit the checkpoints of `thread_id` without an fsync each while inside, and
        fsync them all on the way out (also when the run raised).

        Raises:
            OSError: the final fsync failed; the run's checkpoints may not be durable.
        """
        try:
            with self.runs.running(thread_id):
                yield
        finally:
            self.sync()

    def sync(self) -> None:
        """Make every commit so far durable: fsync the WAL file (and, the first time, the
        directory that holds it)."""
        with self.lock:
            self.runs.fsync(_wal_path(self.conn.execute("PRAGMA database_list").fetchall()))

    def put(self, config: RunnableConfig, *args: Any, **kwargs: Any) -> RunnableConfig:
        """`SqliteSaver.put`, without its own fsync inside `syncing_once`."""
        with self.runs.writing(config):
            return super().put(config, *args, **kwargs)

    def put_writes(self, config: RunnableConfig, *args: Any, **kwargs: Any) -> None:
        """`SqliteSaver.put_writes`, without its own fsync inside `syncing_once`."""
        with self.runs.writing(config):
            super().put_writes(config, *args, **kwargs)

    @contextmanager
    def cursor(self, transaction: bool = True) -> Iterator[sqlite3.Cursor]:
        """`SqliteSaver.cursor`, committing with `synchronous=NORMAL` for a deferred write
        of a running thread and `FULL` for any other."""
        mode = self.runs.mode()
        with super().cursor(transaction) as cur:
            if transaction and mode != self._mode:  # reads commit nothing
                cur.execute(f"PRAGMA synchronous={mode}")
                self._mode = mode
            yield cur


class _ModeLock(asyncio.Lock):
    """`AsyncSqliteSaver`'s lock, which every statement of the saver runs under: once held,
    the connection commits in the mode the holder's write needs (`TurnRuns.mode`)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        super().__init__()
        self._conn = conn
        self._mode: str | None = None

    async def acquire(self) -> Literal[True]:
        """Take the lock, then set `PRAGMA synchronous` if this holder needs another mode."""
        await super().acquire()
        mode = TurnRuns.mode()
        if mode != self._mode:
            try:
                await self._conn.execute_fetchall(f"PRAGMA synchronous={mode}")
            except BaseException:
                self.release()
                raise
            self._mode = mode
        return True


class AsyncTurnSqliteSaver(AsyncSqliteSaver):
    """The async twin of `TurnSqliteSaver`: an `AsyncSqliteSaver` whose agent runs fsync
    once at their end.

    Example:
        ```python
        async with AsyncTurnSqliteSaver.from_conn_string("checkpoints.db") as saver:
            async with saver.syncing_once("t1"):
                await graph.ainvoke(..., config={"configurable": {"thread_id": "t1"}})
            # every checkpoint of the run is on disk here
        ```
    """

    def __init__(self, conn: aiosqlite.Connection, *, serde: SerializerProtocol | None = None):
        super().__init__(conn, serde=serde)
        self.runs = TurnRuns()
        self.lock = _ModeLock(conn)

    @asynccontextmanager
    async def syncing_once(self, thread_id: str) -> AsyncIterator[None]:
        """`TurnSqliteSaver.syncing_once` for async runs."""
        try:
            with self.runs.running(thread_id):
                yield
        finally:
            await self.sync()

    async def sync(self) -> None:
        """`TurnSqliteSaver.sync`, the fsync run off the event loop."""
        async with self.lock:
            rows = await self.conn.execute_fetchall("PRAGMA database_list")
            await asyncio.to_thread(self.runs.fsync, _wal_path([tuple(row) for row in rows]))

    async def aput(self, config: RunnableConfig, *args: Any, **kwargs: Any) -> RunnableConfig:
        """`AsyncSqliteSaver.aput`, without its own fsync inside `syncing_once`."""
        with self.runs.writing(config):
            return await super().aput(config, *args, **kwargs)

    async def aput_writes(self, config: RunnableConfig, *args: Any, **kwargs: Any) -> None:
        """`AsyncSqliteSaver.aput_writes`, without its own fsync inside `syncing_once`."""
        with self.runs.writing(config):
            await super().aput_writes(config, *args, **kwargs)
