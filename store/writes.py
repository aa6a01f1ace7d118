"""The store's write path: every SQL statement that changes data lives here.

All functions run inside the caller's `BEGIN IMMEDIATE` transaction, so an item, its
vectors, their `vector_log` entries, its links and the history row commit together or not
at all. (SQL on the `links` table itself lives in `link_sql.py`.)
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hippograph.store import fulltext, link_sql
from hippograph.store.codec import ns_to_text
from hippograph.store.expect import ExpectOp, StaleWriteError, conflicts_of
from hippograph.store.index_manager import chunked, log_floor, log_head

Group = Callable[[tuple[str, ...]], str]


@dataclass(slots=True)
class PreparedPut:
    """A validated `PutOp`: encoded value (`None` deletes) and the texts to index."""

    namespace: tuple[str, ...]
    key: str
    value: Mapping[str, Any] | None
    value_json: str | None
    ttl: float | None
    texts: list[tuple[str, str, str]]
    """`(field path, text, text hash)` to embed; empty when the item is not indexed."""
    source: str | None = None
    """Provenance JSON recorded with the history row."""
    fulltext: list[str] | None = None
    """Full-text column values (hybrid search); `None` when the item has no full-text row."""


@dataclass(slots=True)
class _Existing:
    item_id: int
    value_json: str


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def _existing_items(
    conn: sqlite3.Connection, puts: Sequence[PreparedPut]
) -> dict[tuple[str, str], _Existing]:
    keys_by_prefix: dict[str, list[str]] = defaultdict(list)
    for put in puts:
        keys_by_prefix[ns_to_text(put.namespace)].append(put.key)
    found: dict[tuple[str, str], _Existing] = {}
    for prefix, keys in keys_by_prefix.items():
        for chunk in chunked(keys):
            rows = conn.execute(
                f"SELECT id, key, value FROM items WHERE prefix = ? AND key IN "
                f"({_placeholders(len(chunk))})",
                (prefix, *chunk),
            )
            for item_id, key, value_json in rows:
                found[(prefix, key)] = _Existing(item_id, value_json)
    return found


def _drop_vectors(conn: sqlite3.Connection, vectors: Sequence[tuple[int, str]]) -> None:
    """Delete `(vector_id, group)` rows and log their removal for the FAISS caches."""
    if not vectors:
        return
    conn.executemany(
        "INSERT INTO vector_log (grp, vector_id, added) VALUES (?, ?, 0)",
        [(grp, vid) for vid, grp in vectors],
    )
    conn.executemany("DELETE FROM vectors WHERE id = ?", [(vid,) for vid, _ in vectors])


def _vectors_of(
    conn: sqlite3.Connection, item_ids: Sequence[int]
) -> list[tuple[int, int, str, str, str]]:
    """`(item_id, vector_id, group, field, text_hash)` of the given items."""
    rows: list[tuple[int, int, str, str, str]] = []
    for chunk in chunked(item_ids):
        rows.extend(
            conn.execute(
                "SELECT item_id, id, grp, field, text_hash FROM vectors WHERE item_id IN "
                f"({_placeholders(len(chunk))})",
                tuple(chunk),
            )
        )
    return rows


def delete_items(
    conn: sqlite3.Connection,
    rows: Sequence[tuple[int, str, str, str, str | None]],
    *,
    op: str,
    at: str,
    record_history: bool,
) -> None:
    """Delete `(item_id, prefix, key, value_json, source)` rows with their vectors and
    their links (both directions), and log the changes in the history."""
    if not rows:
        return
    vectors = _vectors_of(conn, [r[0] for r in rows])
    _drop_vectors(conn, [(vid, grp) for _, vid, grp, _, _ in vectors])
    fulltext.delete_rows(conn, [r[0] for r in rows])
    link_sql.drop_links_of(
        conn, [(r[1], r[2], r[4]) for r in rows], at=at, record_history=record_history
    )
    conn.executemany("DELETE FROM items WHERE id = ?", [(r[0],) for r in rows])
    if record_history:
        conn.executemany(
            "INSERT INTO history (prefix, key, op, old, new, at, source) "
            "VALUES (?, ?, ?, ?, NULL, ?, ?)",
            [(prefix, key, op, value, at, source) for _, prefix, key, value, source in rows],
        )


def apply_puts(
    conn: sqlite3.Connection,
    puts: Sequence[PreparedPut],
    vectors_by_hash: Mapping[str, np.ndarray],
    *,
    group_of: Group,
    now: datetime,
    record_history: bool,
    fulltext_on: bool = False,
) -> None:
    """Write deduplicated puts: upsert or delete items, swap changed vectors, log, audit.

    A vector whose field and text hash are unchanged is kept as is (no re-embedding, no
    FAISS churn); changed or vanished fields lose their old vector. With `fulltext_on`
    (hybrid search), each item's full-text row is rewritten from `PreparedPut.fulltext`;
    without it, the rows of changed items are dropped.
    """
    at = now.isoformat()
    epoch = now.timestamp()
    existing = _existing_items(conn, puts)

    deletions = []
    for put in puts:
        prefix = ns_to_text(put.namespace)
        old = existing.get((prefix, put.key))
        if put.value_json is None and old is not None:
            deletions.append((old.item_id, prefix, put.key, old.value_json, put.source))
    delete_items(conn, deletions, op="DELETE", at=at, record_history=record_history)

    upserts = [p for p in puts if p.value_json is not None]
    if not upserts:
        return
    conn.executemany(
        "INSERT INTO items (prefix, key, value, created_at, updated_at, expires_at, ttl_minutes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (prefix, key) DO UPDATE SET "
        "value = excluded.value, updated_at = excluded.updated_at, "
        "expires_at = excluded.expires_at, ttl_minutes = excluded.ttl_minutes",
        [
            (
                ns_to_text(p.namespace),
                p.key,
                p.value_json,
                at,
                at,
                None if p.ttl is None else epoch + p.ttl * 60.0,
                p.ttl,
            )
            for p in upserts
        ],
    )
    if record_history:
        history: list[tuple[str, str, str, str | None, str | None, str, str | None]] = []
        for p in upserts:
            prefix = ns_to_text(p.namespace)
            old = existing.get((prefix, p.key))
            if old is None:
                history.append((prefix, p.key, "ADD", None, p.value_json, at, p.source))
            elif old.value_json != p.value_json:
                history.append(
                    (prefix, p.key, "UPDATE", old.value_json, p.value_json, at, p.source)
                )
        conn.executemany(
            "INSERT INTO history (prefix, key, op, old, new, at, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            history,
        )
    item_ids = {key: ex.item_id for key, ex in existing.items()} | _new_item_ids(
        conn, [p for p in upserts if (ns_to_text(p.namespace), p.key) not in existing]
    )
    _swap_vectors(conn, upserts, item_ids, vectors_by_hash, group_of)
    _write_fulltext(conn, upserts, item_ids, enabled=fulltext_on)


def _write_fulltext(
    conn: sqlite3.Connection,
    upserts: Sequence[PreparedPut],
    item_ids: Mapping[tuple[str, str], int],
    *,
    enabled: bool,
) -> None:
    """Rewrite the upserted items' full-text rows; with hybrid search off, drop them, so no
    row ever holds stale text (the index is rebuilt when hybrid search returns)."""
    rows: list[tuple[int, Sequence[str]]] = []
    unindexed: list[int] = []
    for put in upserts:
        item_id = item_ids[(ns_to_text(put.namespace), put.key)]
        if enabled and put.fulltext is not None and any(put.fulltext):
            rows.append((item_id, put.fulltext))
        else:
            unindexed.append(item_id)
    fulltext.delete_rows(conn, unindexed)
    fulltext.write_rows(conn, rows)


def _swap_vectors(
    conn: sqlite3.Connection,
    upserts: Sequence[PreparedPut],
    item_ids: Mapping[tuple[str, str], int],
    vectors_by_hash: Mapping[str, np.ndarray],
    group_of: Group,
) -> None:
    old_vectors: dict[int, dict[str, tuple[int, str, str]]] = defaultdict(dict)
    for item_id, vid, grp, field, digest in _vectors_of(
        conn, [item_ids[(ns_to_text(p.namespace), p.key)] for p in upserts]
    ):
        old_vectors[item_id][field] = (vid, grp, digest)

    dropped: list[tuple[int, str]] = []
    inserted: list[tuple[int, str, str, str, int, bytes]] = []
    for put in upserts:
        item_id = item_ids[(ns_to_text(put.namespace), put.key)]
        group = group_of(put.namespace)
        current = old_vectors.get(item_id, {})
        wanted = {field: digest for field, _, digest in put.texts}
        for field, (vid, grp, digest) in current.items():
            if wanted.get(field) != digest:
                dropped.append((vid, grp))
        for field, digest in wanted.items():
            if field in current and current[field][2] == digest:
                continue
            vector = vectors_by_hash[digest]
            inserted.append((item_id, group, field, digest, len(vector), vector.tobytes()))
    _drop_vectors(conn, dropped)
    if not inserted:
        return
    before = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vectors'").fetchone()
    conn.executemany(
        "INSERT INTO vectors (item_id, grp, field, text_hash, dim, blob) VALUES (?, ?, ?, ?, ?, ?)",
        inserted,
    )
    conn.execute(
        "INSERT INTO vector_log (grp, vector_id, added) "
        "SELECT grp, id, 1 FROM vectors WHERE id > ? ORDER BY id",
        (before[0] if before else 0,),
    )


def _new_item_ids(
    conn: sqlite3.Connection, puts: Sequence[PreparedPut]
) -> dict[tuple[str, str], int]:
    ids: dict[tuple[str, str], int] = {}
    keys_by_prefix: dict[str, list[str]] = defaultdict(list)
    for put in puts:
        keys_by_prefix[ns_to_text(put.namespace)].append(put.key)
    for prefix, keys in keys_by_prefix.items():
        for chunk in chunked(keys):
            for item_id, key in conn.execute(
                f"SELECT id, key FROM items WHERE prefix = ? AND key IN "
                f"({_placeholders(len(chunk))})",
                (prefix, *chunk),
            ):
                ids[(prefix, key)] = item_id
    return ids


def refresh_ttl(conn: sqlite3.Connection, item_ids: Sequence[int], now: datetime) -> None:
    """Restart the TTL clock of items that were just read."""
    epoch = now.timestamp()
    for chunk in chunked(item_ids):
        conn.execute(
            f"UPDATE items SET expires_at = ? + ttl_minutes * 60.0 "
            f"WHERE ttl_minutes IS NOT NULL AND id IN ({_placeholders(len(chunk))})",
            (epoch, *chunk),
        )


def compact_log(conn: sqlite3.Connection, keep: int) -> int:
    """Drop `vector_log` entries older than the newest `keep`; return how many were dropped.

    Readers whose indexes applied less than the new floor reload those groups from SQLite.
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


def check_expectations(
    conn: sqlite3.Connection, expects: Sequence[ExpectOp], now: float, omit_expired: bool
) -> None:
    """Raise `StaleWriteError` unless every `ExpectOp` holds (run inside the write
    transaction, before the batch writes anything: SQLite's one writer holds its lock
    between this check and the writes). An expired item counts as absent when reads hide
    expired items."""
    if not expects:
        return
    found: dict[tuple[tuple[str, ...], str], datetime] = {}
    for op in expects:
        row = conn.execute(
            "SELECT updated_at, expires_at FROM items WHERE prefix = ? AND key = ?",
            (ns_to_text(op.namespace), op.key),
        ).fetchone()
        if row is None or (omit_expired and row[1] is not None and row[1] <= now):
            continue
        stamp = datetime.fromisoformat(row[0])
        found[(op.namespace, op.key)] = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    conflicts = conflicts_of(expects, found)
    if conflicts:
        raise StaleWriteError(conflicts)
