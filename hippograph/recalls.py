"""How often each memory was recalled: the counts behind "most recalled" in the UI.

Core pieces:
    - `RecallLog`: per-user counters (memory key → times recalled, last time, last score)
      in a small SQLite file beside the memory store; `record` after a turn, `top` to read.
    - `RecallCount`: one row of `top`.
    - `recall_log_path`: where the file lives for a `Settings` (`<db>-recalls.db`).

Why a file of its own, written after the turn: recall events are statistics, not memories.
Kept in the memory store they would add a history row per recalled memory per turn to the
audit trail, and written inside the retrieve node they would put a commit on the path of
every answer. The chat surfaces (UI and CLI) call `record` once the answer is out, in one
UPSERT transaction (`benchmarks/recall_log.py` measures what it costs next to a retrieve).
Counters use `synchronous=NORMAL`: a power cut may lose the last increments, never the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hippograph.config import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recalls (
    user_id    TEXT NOT NULL,
    key        TEXT NOT NULL,
    count      INTEGER NOT NULL,
    last_at    TEXT NOT NULL,
    last_score REAL,
    PRIMARY KEY (user_id, key)
)
"""

_UPSERT = """
INSERT INTO recalls (user_id, key, count, last_at, last_score) VALUES (?, ?, 1, ?, ?)
ON CONFLICT (user_id, key) DO UPDATE SET
    count = count + 1, last_at = excluded.last_at, last_score = excluded.last_score
"""


def compact_sqlite(conn: sqlite3.Connection) -> bool:
    """`VACUUM` a SQLite database and truncate its WAL, so deleted rows leave no bytes in its
    files; `False` when a reader elsewhere kept the WAL from being truncated."""
    conn.execute("VACUUM")
    row = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return row is None or (row[0] == 0 and row[1] in (0, -1))


@dataclass(frozen=True, slots=True)
class RecallCount:
    """How often one memory was recalled, and when last (with that turn's score)."""

    key: str
    count: int
    last_at: datetime
    last_score: float | None


def recall_log_path(settings: Settings) -> str:
    """The recall-count file beside the store file (`memories.db` → `memories-recalls.db`)."""
    path = settings.db_path
    if str(path) == ":memory:":
        return ":memory:"
    return str(path.with_name(f"{path.stem}-recalls{path.suffix or '.db'}"))


class RecallLog:
    """Per-user recall counters in SQLite, shared safely between threads.

    Args:
        path: SQLite file (created with its directory), or `":memory:"`.

    Example:
        ```python
        log = RecallLog("memories-recalls.db")
        log.record("alice", out["recalled"])  # after an agent turn
        [(c.key, c.count) for c in log.top("alice", limit=5)]
        ```
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        with self._lock, self._conn:
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)

    @classmethod
    def for_settings(cls, settings: Settings) -> RecallLog:
        """The recall log that goes with the store `settings` points at."""
        return cls(recall_log_path(settings))

    def record(self, user_id: str, recalled: Iterable[Mapping[str, Any]]) -> int:
        """Count one recall of each memory in `recalled` (dicts with `key`, optional `score`).

        Returns:
            How many memories were counted (duplicates within one turn count once).
        """
        at = datetime.now(UTC).isoformat()
        rows: dict[str, tuple[str, str, str, float | None]] = {}
        for memory in recalled:
            key = memory.get("key")
            if not isinstance(key, str) or not key:
                raise ValueError(f"a recalled memory needs a string key, got {key!r}")
            score = memory.get("score")
            rows.setdefault(key, (user_id, key, at, float(score) if score is not None else None))
        if rows:
            with self._lock, self._conn:
                self._conn.executemany(_UPSERT, list(rows.values()))
        return len(rows)

    def top(self, user_id: str, *, limit: int = 10) -> list[RecallCount]:
        """`user_id`'s most recalled memories, most first (ties: most recently recalled)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, count, last_at, last_score FROM recalls WHERE user_id = ? "
                "ORDER BY count DESC, last_at DESC LIMIT ?",
                (user_id, limit),
            ).fetchall()
        return [RecallCount(r[0], int(r[1]), datetime.fromisoformat(r[2]), r[3]) for r in rows]

    def forget(self, user_id: str, *, compact: bool = True) -> int:
        """Delete `user_id`'s counters (right to erasure); returns how many were removed.

        With `compact`, the file is rewritten and its WAL truncated, so the user id and the
        memory keys leave no bytes behind.
        """
        with self._lock:
            with self._conn:
                removed = self._conn.execute(
                    "DELETE FROM recalls WHERE user_id = ?", (user_id,)
                ).rowcount
            if compact:
                compact_sqlite(self._conn)
        return int(removed)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()
