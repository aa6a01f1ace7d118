"""The keyword log: which items' keyword rows changed, in commit order, per group.

`fulltext.write_rows` / `delete_rows` append `(grp, item_id)` here in the transaction that
changes the keyword tables (schema migration 6), so a process keeps an in-memory copy of a
group's keyword index (`keyword_cache`) exact by re-reading only the items logged after the
sequence number it applied — the keyword twin of `vector_log`.

Two things make replaying insufficient, and a cached group is then reloaded whole:

    - the floor (`meta.keyword_log_floor`): entries at or below it were dropped, by
      compaction (`compact`) or because the whole index was rebuilt (`reset`);
    - an erasure: it deletes the erased groups' entries (they name the user) and fences
      those groups in the vector log (`vector_log.fence_groups`), which caches check.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from hippograph.store import json_rows

_FLOOR_KEY = "keyword_log_floor"


def record(conn: sqlite3.Connection, entries: Iterable[tuple[str, int]]) -> None:
    """Log that the keyword rows of `(group, item_id)` changed (inside the writer's
    transaction), in the order given (one statement, `json_rows`)."""
    json_rows.insert(conn, "keyword_log", ("grp", "item_id"), list(entries))


def heads(conn: sqlite3.Connection) -> tuple[int, int]:
    """`(vector log head, keyword log head)`: the highest sequence numbers ever committed,
    read in one statement (both survive compaction)."""
    found = dict(
        conn.execute(
            "SELECT name, seq FROM sqlite_sequence WHERE name IN ('vector_log', 'keyword_log')"
        ).fetchall()
    )
    return int(found.get("vector_log", 0)), int(found.get("keyword_log", 0))


def floor(conn: sqlite3.Connection) -> int:
    """Highest sequence number no longer in the log: a cache that applied less reloads."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_FLOOR_KEY,)).fetchone()
    return int(row[0]) if row else 0


def changed_items(conn: sqlite3.Connection, group: str, after: int, head: int) -> set[int]:
    """Ids of `group`'s items whose keyword rows changed in `(after, head]`."""
    return {
        int(item_id)
        for (item_id,) in conn.execute(
            "SELECT item_id FROM keyword_log WHERE grp = ? AND seq > ? AND seq <= ?",
            (group, after, head),
        )
    }


def _raise_floor(conn: sqlite3.Connection, new_floor: int) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (_FLOOR_KEY, str(new_floor)),
    )


def reset(conn: sqlite3.Connection) -> None:
    """Invalidate every cached group in every process (the index is being rebuilt): the
    head moves and the floor rises to it, so nothing logged before can be replayed."""
    marker = conn.execute("INSERT INTO keyword_log (grp, item_id) VALUES ('', 0)").lastrowid
    conn.execute("DELETE FROM keyword_log")
    _raise_floor(conn, int(marker or 0))


def compact(conn: sqlite3.Connection, keep: int) -> int:
    """Drop entries older than the newest `keep` once the log holds `2 * keep`; return how
    many were dropped (caches that applied less reload their groups)."""
    _, head = heads(conn)
    low = floor(conn)
    if head - low <= 2 * keep:
        return 0
    new_floor = head - keep
    dropped = conn.execute("DELETE FROM keyword_log WHERE seq <= ?", (new_floor,)).rowcount
    _raise_floor(conn, new_floor)
    return int(dropped)
