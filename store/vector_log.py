"""The vector log: every vector added or removed, in commit order, and how far it can be trusted.

Writers append to `vector_log` in the transaction that changes `vectors`, so a process brings
its FAISS caches up to date by replaying the entries after the sequence number it applied.
Two floors say when replaying is not enough and a group must be reloaded from `vectors`:

    - the global floor (`meta.log_floor`): log compaction dropped every entry at or below it;
    - a group's fence (`group_floors`, schema migration 5): an erasure removed the group's
      entries without logging the removals, so nothing at or below it can be replayed for
      that group. Fences are keyed by a hash of the group, never its name (the name holds
      the user id, which an erasure must not leave behind); only the erased groups are
      fenced, so an erasure makes no process reload anyone else's index.

A cache that applied the log up to `seq` is valid for `group` while
`seq >= group_floor(conn, group)`; a snapshot stamped below it must not be used or written.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable


def log_head(conn: sqlite3.Connection) -> int:
    """Highest `vector_log` sequence number ever committed (survives compaction)."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vector_log'").fetchone()
    return int(row[0]) if row else 0


def log_floor(conn: sqlite3.Connection) -> int:
    """Highest sequence number removed by log compaction (the global floor)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'log_floor'").fetchone()
    return int(row[0]) if row else 0


def group_key(group: str) -> str:
    """How `group_floors` names a group: a hash, so an erased user's id is not kept."""
    digest = hashlib.blake2b(group.encode("utf-8", "surrogatepass"), digest_size=16)
    return digest.hexdigest()


def group_floor(conn: sqlite3.Connection, group: str) -> int:
    """The sequence number a cache of `group` must have applied to be replayable: the
    global floor, or the group's fence if an erasure raised it higher."""
    row = conn.execute(
        "SELECT seq FROM group_floors WHERE grp_hash = ?", (group_key(group),)
    ).fetchone()
    return max(log_floor(conn), int(row[0]) if row else 0)


def fences_since(conn: sqlite3.Connection, seq: int) -> list[tuple[str, int]]:
    """`(group key, fence)` of every fence raised above `seq` (erasures since then)."""
    return [
        (str(key), int(fence))
        for key, fence in conn.execute(
            "SELECT grp_hash, seq FROM group_floors WHERE seq > ? ORDER BY seq", (seq,)
        )
    ]


def fence_groups(conn: sqlite3.Connection, groups: Iterable[str]) -> int:
    """Raise the fence of `groups` above every sequence number issued so far (inside the
    caller's write transaction); return the new fence.

    Every cache of these groups, in any process, is then reloaded from `vectors` before it
    is searched again, and no snapshot of them stamped before the fence is written or used.
    The log head moves too, so every process notices.
    """
    fence = conn.execute(
        "INSERT INTO vector_log (grp, vector_id, added) VALUES ('', 0, 0)"
    ).lastrowid
    conn.execute("DELETE FROM vector_log WHERE seq = ?", (fence,))
    conn.executemany(
        "INSERT INTO group_floors (grp_hash, seq) VALUES (?, ?) "
        "ON CONFLICT (grp_hash) DO UPDATE SET seq = excluded.seq",
        [(group_key(group), fence) for group in set(groups)],
    )
    return int(fence or 0)


def group_changes(
    conn: sqlite3.Connection, group: str, after: int, head: int
) -> tuple[list[int], bool]:
    """The log entries of `group` in `(after, head]`: ids of removed vectors, and whether
    any vector was added (added ids are read from `vectors`: they are all above the ids
    the cache has seen, since ids are AUTOINCREMENT and writers are serialised)."""
    removed: list[int] = []
    added = False
    for vector_id, is_add in conn.execute(
        "SELECT vector_id, added FROM vector_log WHERE seq > ? AND seq <= ? AND grp = ? "
        "ORDER BY seq",
        (after, head, group),
    ):
        if is_add:
            added = True
        else:
            removed.append(int(vector_id))
    return removed, added


def compact(conn: sqlite3.Connection, keep: int) -> int:
    """Drop `vector_log` entries older than the newest `keep`; return how many were dropped.

    Compaction runs once the log holds `2 * keep` entries above the floor. Caches that
    applied less than the new floor reload their groups (snapshots are re-stamped in the
    background well before that, see `index_manager`).
    """
    head = log_head(conn)
    floor = log_floor(conn)
    if head - floor <= 2 * keep:
        return 0
    new_floor = head - keep
    dropped = conn.execute("DELETE FROM vector_log WHERE seq <= ?", (new_floor,)).rowcount
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('log_floor', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(new_floor),),
    )
    return int(dropped)
