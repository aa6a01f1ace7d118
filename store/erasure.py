"""Right to erasure: remove everything a store holds under a namespace prefix, traces included.

A delete removes an item; an erasure removes the person. `purge` deletes, in one
transaction, every table row that carries the erased items' text or names their namespace:
items, their vectors, full-text rows, the vector-log entries of their vectors (which name
the namespace group), and the whole history under the prefix. `compact` then rewrites the
file so no free page or WAL frame still holds the old bytes.

What stays: one audit row in `history` — op `ERASE`, when, how many items, and a SHA-256 of
the erased namespace (`key = "sha256:<hex>"`, namespace `("",)`), never the user id or any
content. Whoever knows the user id can prove the erasure happened; the file alone does not
say who was erased.

Extending it: every table that stores item data must be purged here. Add a `PurgeStep` to
`PURGE_STEPS` (e.g. the `links` table of linked memories); each step runs inside the purge
transaction with the `PurgeScope` of the erasure and returns the rows it removed. Files
beside the database that hold vectors or text (e.g. FAISS snapshot files) must be rewritten
or deleted by the store's `purge` after this transaction commits, before `compact`; the
erasure tests scan every file in the store's directory, so a new file kind is checked too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hippograph.store import fulltext, vector_log
from hippograph.store.codec import ns_to_text, prefix_condition
from hippograph.store.index_manager import chunked

ERASE_OP = "ERASE"
"""History op of the audit row an erasure leaves."""


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure removed.

    Attributes:
        namespace_prefix: What was erased (this prefix and every namespace under it).
        items: Items deleted.
        removed: Rows deleted per purge step (`"vectors"`, `"history"`, `"vector_log"`, …).
        at: When (UTC).
        compacted: The file was rewritten afterwards (no free page or WAL frame holds the old
            bytes); `False` when not asked for or when a reader kept the WAL busy.
        audit_key: Key of the `ERASE` audit row (`"sha256:<hex of the namespace>"`).
        groups: FAISS groups that held erased vectors (their cached indexes and snapshots
            must go too).
    """

    namespace_prefix: tuple[str, ...]
    items: int
    removed: dict[str, int] = field(default_factory=dict)
    at: datetime | None = None
    compacted: bool = False
    audit_key: str = ""
    groups: tuple[str, ...] = ()


@dataclass(slots=True)
class PurgeScope:
    """What one purge step needs to know, inside the purge transaction.

    Attributes:
        prefix: The namespace prefix being erased.
        where: SQL matching a namespace column named `{column}` under the prefix, e.g.
            `where.format(column="prefix")`.
        params: Parameters of `where`.
        item_ids: `items.id` of the erased items (still present when the steps run).
        vector_ids: `vectors.id` of their vectors.
        whole_groups: SQL on `grp` matching FAISS groups that lie entirely under the
            prefix (`None` when the prefix is deeper than a group).
        groups: FAISS groups of the erased vectors.
    """

    prefix: tuple[str, ...]
    where: str
    params: list[str]
    item_ids: list[int]
    vector_ids: list[int]
    whole_groups: tuple[str, list[str]] | None
    groups: tuple[str, ...] = ()


PurgeStep = Callable[[sqlite3.Connection, PurgeScope], int]


def _in_ids(conn: sqlite3.Connection, sql: str, ids: Sequence[int]) -> int:
    removed = 0
    for chunk in chunked(ids):
        removed += conn.execute(sql.format(ids=",".join("?" * len(chunk))), tuple(chunk)).rowcount
    return removed


def _purge_vector_log(conn: sqlite3.Connection, scope: PurgeScope) -> int:
    """Log entries name the group (the user): drop those of the erased vectors, and every
    entry of groups erased whole. The erased vectors leave no removal entry, so the groups
    they belonged to are fenced (`vector_log.fence_groups`): every process reloads those
    groups — and only those — from SQLite instead of replaying a log with holes, and
    writes no snapshot of them stamped before the erasure."""
    groups = set(scope.groups)
    removed = _in_ids(conn, "DELETE FROM vector_log WHERE vector_id IN ({ids})", scope.vector_ids)
    if scope.whole_groups is not None:
        sql, params = scope.whole_groups
        groups.update(
            grp
            for (grp,) in conn.execute(f"SELECT DISTINCT grp FROM vector_log WHERE {sql}", params)
        )
        removed += conn.execute(f"DELETE FROM vector_log WHERE {sql}", params).rowcount
    if removed or scope.vector_ids:
        vector_log.fence_groups(conn, groups)
    return removed


def _purge_links(conn: sqlite3.Connection, scope: PurgeScope) -> int:
    """Links between memories under the prefix (they would cascade with the items; an
    explicit step makes the report count them)."""
    where = scope.where.format(column="prefix")
    return conn.execute(f"DELETE FROM links WHERE {where}", scope.params).rowcount


def _purge_vectors(conn: sqlite3.Connection, scope: PurgeScope) -> int:
    return _in_ids(conn, "DELETE FROM vectors WHERE id IN ({ids})", scope.vector_ids)


def _purge_fulltext(conn: sqlite3.Connection, scope: PurgeScope) -> int:
    """Keyword rows: whole groups go by group (their statistics with them), else by item."""
    removed = fulltext.delete_rows(conn, scope.item_ids)
    if scope.whole_groups is not None:
        sql, params = scope.whole_groups
        removed += fulltext.purge_groups(conn, sql, params)
    return removed


def _purge_items(conn: sqlite3.Connection, scope: PurgeScope) -> int:
    return _in_ids(conn, "DELETE FROM items WHERE id IN ({ids})", scope.item_ids)


def _purge_history(conn: sqlite3.Connection, scope: PurgeScope) -> int:
    where = scope.where.format(column="prefix")
    return conn.execute(f"DELETE FROM history WHERE {where}", scope.params).rowcount


PURGE_STEPS: list[tuple[str, PurgeStep]] = [
    ("vector_log", _purge_vector_log),
    ("vectors", _purge_vectors),
    ("fulltext", _purge_fulltext),
    ("links", _purge_links),
    ("items", _purge_items),
    ("history", _purge_history),
]
"""Every table holding item data, purged in this order (items after what refers to them)."""


def audit_key(prefix: tuple[str, ...]) -> str:
    """The key of an erasure's audit row: a SHA-256 of the namespace, not the namespace."""
    return "sha256:" + hashlib.sha256(ns_to_text(prefix).encode("utf-8")).hexdigest()


def purge(
    conn: sqlite3.Connection,
    prefix: tuple[str, ...],
    *,
    group_depth: int,
    at: datetime,
    source: str | None,
    record: bool,
) -> ErasureReport:
    """Delete everything under `prefix` (runs in the caller's write transaction).

    Args:
        conn: The writer connection, inside `BEGIN IMMEDIATE`.
        prefix: A non-empty namespace prefix.
        group_depth: The store's FAISS group depth.
        at: Time of the erasure.
        source: Provenance JSON for the audit row.
        record: Leave the `ERASE` audit row (the store keeps history).
    """
    template, params = prefix_condition(prefix, "{column}")
    where = template.replace("{column}", "prefix")
    item_ids = [row[0] for row in conn.execute(f"SELECT id FROM items WHERE {where}", params)]
    vector_ids: list[int] = []
    groups: set[str] = set()
    for chunk in chunked(item_ids):
        for vector_id, group in conn.execute(
            f"SELECT id, grp FROM vectors WHERE item_id IN ({','.join('?' * len(chunk))})",
            tuple(chunk),
        ):
            vector_ids.append(vector_id)
            groups.add(group)
    whole = prefix_condition(prefix, "grp") if len(prefix) <= group_depth else None
    scope = PurgeScope(prefix, template, params, item_ids, vector_ids, whole, tuple(groups))
    removed = {name: step(conn, scope) for name, step in PURGE_STEPS}
    key = audit_key(prefix)
    if record:
        conn.execute(
            "INSERT INTO history (prefix, key, op, old, new, at, source) "
            "VALUES ('', ?, ?, NULL, ?, ?, ?)",
            (key, ERASE_OP, json.dumps({"items": len(item_ids)}), at.isoformat(), source),
        )
    return ErasureReport(prefix, len(item_ids), removed, at, False, key, tuple(sorted(groups)))


def compact(conn: sqlite3.Connection, *, in_memory: bool, wait_ms: int = 10_000) -> bool:
    """Rewrite the database so no deleted bytes survive anywhere in its files.

    `VACUUM`s the file, checkpoints the WAL into it and truncates the WAL to zero bytes.
    Runs on the writer connection outside a transaction. Returns `False` when a reader in another
    connection kept the WAL from being truncated within `wait_ms` (the bytes then go at the
    next full checkpoint).
    """
    conn.execute("VACUUM")
    if in_memory:
        return True
    timeout = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
    try:
        busy, wal_frames, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout)}")
    return busy == 0 and wal_frames == 0
