"""Erase one user from everything hippograph keeps: memories, history, recall counts, threads.

`MemoryManager.erase` clears the memory store. A user's text also lives in two files beside
it: the recall counters (`<db>-recalls.db`: memory keys and the user id) and the checkpoints
of their conversations (`<db>-checkpoints.db`, or the PostgreSQL checkpoint tables: every
message of those threads). `erase_user` clears all three, the way
`hippograph memories delete --all` does.

Threads go by owner: the ones the agent recorded for the user when their turns ran
(`hippograph.store.threads`), whether or not they produced a memory. A thread id merely
named in a memory's provenance (an imported `source`, say) is never touched, so nobody can
erase another user's conversation by importing its id.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from hippograph.backends import open_checkpointer, open_store
from hippograph.config import Settings
from hippograph.memories import Erasure, MemoryManager
from hippograph.recalls import RecallLog, compact_sqlite, recall_log_path
from hippograph.store.threads import forget_threads, owned_threads


@dataclass(frozen=True, slots=True)
class UserErasure:
    """What `erase_user` removed.

    Attributes:
        user_id: Who was erased.
        store: What the memory store removed (`MemoryManager.erase`).
        recall_counts: Recall counters deleted.
        threads: The user's threads whose checkpoints were deleted (empty when
            `threads=False`: then the threads and their ownership records stay).
    """

    user_id: str
    store: Erasure
    recall_counts: int
    threads: list[str]


def erase_user(
    user_id: str,
    *,
    settings: Settings | None = None,
    threads: bool = True,
    compact: bool = True,
    origin: str = "api",
) -> UserErasure:
    """Erase `user_id` from the store, recall log and checkpoints that `settings` point at.

    Args:
        user_id: The user to erase.
        settings: Where storage lives (default: `Settings.from_env()`).
        threads: Also delete the user's conversation threads (their checkpoints).
        compact: Rewrite the SQLite files afterwards so no erased byte remains in them.
        origin: Recorded as the source of the erasure's audit row.

    Example:
        ```python
        report = erase_user("alice")
        report.store.items, report.threads
        ```
    """
    settings = settings or Settings.from_env()
    deleted: list[str] = []
    with open_store(settings=settings) as store:
        owned = owned_threads(store, user_id)
        if threads and owned:  # checkpoints first: a crash before the records go can rerun
            deleted = _delete_threads(settings, owned, compact=compact)
            forget_threads(store, user_id)
        erased = MemoryManager(store, user_id, origin=origin).erase(compact=compact)
    counts = 0
    log_path = recall_log_path(settings)
    if not settings.uses_postgres and log_path != ":memory:" and Path(log_path).exists():
        log = RecallLog(log_path)
        try:
            counts = log.forget(user_id, compact=compact)
        finally:
            log.close()
    return UserErasure(user_id, erased, counts, deleted)


def _delete_threads(settings: Settings, thread_ids: list[str], *, compact: bool) -> list[str]:
    checkpoints = settings.checkpoint_path
    if not settings.uses_postgres and not checkpoints.exists():
        return list(thread_ids)  # nothing was ever checkpointed there
    with open_checkpointer(settings=settings) as saver:
        for thread_id in thread_ids:
            saver.delete_thread(thread_id)
    if compact and settings.uses_postgres:
        _vacuum_postgres_checkpoints(settings.store_target)
    elif compact:
        conn = sqlite3.connect(checkpoints, isolation_level=None, timeout=30.0)
        try:
            compact_sqlite(conn)
        finally:
            conn.close()
    return list(thread_ids)


CHECKPOINT_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
"""LangGraph's `PostgresSaver` tables holding a thread's messages."""


def _vacuum_postgres_checkpoints(url: str) -> None:
    """Rewrite the checkpoint tables so no dead row keeps an erased thread's bytes (as
    `PostgresMemoryStore.purge` does for the store's tables; it locks them while it runs)."""
    from psycopg import Connection

    with Connection.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM FULL {', '.join(CHECKPOINT_TABLES)}")
