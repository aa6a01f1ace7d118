"""A turn's SQLite checkpoints made durable once, when the run ends, not once per write.

LangGraph's `SqliteSaver` commits every checkpoint and every node's writes in WAL mode with
SQLite's default `synchronous=FULL`, so each commit waits for an fsync: two per node of a
turn — on a busy disk the largest part of an agent turn's time after embedding (issue 16,
`benchmarks/results/agent_overhead.md`).

`TurnSqliteSaver` commits the checkpoints of a run that the agent runs inside
`syncing_once` with `synchronous=NORMAL`. In WAL mode such a commit is atomic and survives
a crash of the process (it is in the operating system's cache); only a power loss could
undo it. When the run ends — returned, raised or abandoned — the WAL file is fsynced once,
which makes every commit before it durable: a turn returns with its checkpoints on disk,
as with `SqliteSaver`. Every other write (other graphs' runs, `delete_thread`, ...) commits
with `synchronous=FULL`, as before.

Core pieces:
    - `TurnSqliteSaver`: the saver; `hippograph.backends.open_checkpointer` opens it.
    - `TurnSqliteSaver.syncing_once`: the scope of one run of a thread.
    - `TurnSqliteSaver.sync`: fsync the WAL (and, the first time, its directory).
"""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.sqlite import SqliteSaver

from hippograph.store.connections import fsync_path


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
        self._running: Counter[str] = Counter()
        self._running_lock = threading.Lock()
        self._writer = threading.local()
        self._mode: str | None = None
        self._directory_synced = False

    @contextmanager
    def syncing_once(self, thread_id: str) -> Iterator[None]:
        """Commit the checkpoints of `thread_id` without an fsync each while inside, and
        fsync them all on the way out (also when the run raised).

        Raises:
            OSError: the final fsync failed; the run's checkpoints may not be durable.
        """
        with self._running_lock:
            self._running[thread_id] += 1
        try:
            yield
        finally:
            with self._running_lock:
                self._running[thread_id] -= 1
                if not self._running[thread_id]:
                    del self._running[thread_id]
            self.sync()

    def sync(self) -> None:
        """Make every commit so far durable: fsync the WAL file (and, the first time, the
        directory that holds it). Nothing to do for an in-memory database."""
        with self.lock:
            wal = self._wal_path()
            if wal is None or not wal.exists():
                return
            fsync_path(wal)
            if not self._directory_synced:
                fsync_path(wal.parent)
                self._directory_synced = True

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """`SqliteSaver.put`, without its own fsync inside `syncing_once`."""
        with self._deferring(config):
            return super().put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """`SqliteSaver.put_writes`, without its own fsync inside `syncing_once`."""
        with self._deferring(config):
            super().put_writes(config, writes, task_id, task_path)

    @contextmanager
    def cursor(self, transaction: bool = True) -> Iterator[sqlite3.Cursor]:
        """`SqliteSaver.cursor`, committing with `synchronous=NORMAL` for a deferred write
        of this thread and `FULL` for any other."""
        mode = "NORMAL" if getattr(self._writer, "deferred", False) else "FULL"
        with super().cursor(transaction) as cur:
            if transaction and mode != self._mode:  # reads commit nothing
                cur.execute(f"PRAGMA synchronous={mode}")
                self._mode = mode
            yield cur

    @contextmanager
    def _deferring(self, config: RunnableConfig) -> Iterator[None]:
        thread_id = (config.get("configurable") or {}).get("thread_id")
        with self._running_lock:
            deferred = thread_id is not None and str(thread_id) in self._running
        self._writer.deferred = deferred
        try:
            yield
        finally:
            self._writer.deferred = False

    def _wal_path(self) -> Path | None:
        for _, name, file in self.conn.execute("PRAGMA database_list"):
            if name == "main":
                return Path(f"{file}-wal") if file else None
        return None
