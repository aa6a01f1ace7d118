"""The store's write path: every SQL statement that changes data lives here.

All functions run inside the caller's `BEGIN IMMEDIATE` transaction, so an item, its
vectors, their `vector_log` entries, its links and the history row commit together or not
at all. (SQL on the `links` table itself lives in `link_sql.py`.)
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from hippograph.store import fulltext, json_rows, keyword_log, link_sql, vector_log
from hippograph.store.codec import ns_to_text
from hippograph.store.expect import ExpectOp, StaleWriteError, conflicts_of
from hippograph.store.index_manager import chunked
from hippograph.store.memory import as_utc

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
    index_paths: list[str] | None = None
    """A per-put `index=[...]`: the paths its keyword row reads (`None`: the database's
    keyword fields)."""
    text_paths: tuple[str, ...] | None = None
    """The paths `texts` were read from, in order (`None`: not known): when they are the
    paths the keyword row reads, it is laid out from `texts` without reading the value again."""
    prefix: str = dataclasses.field(init=False)
    """The namespace as the `prefix` column stores it."""

    def __post_init__(self) -> None:
        self.prefix = ns_to_text(self.namespace)


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
        keys_by_prefix[put.prefix].append(put.key)
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
    keyword_fields: Sequence[str] | None = None,
) -> None:
    """Write deduplicated puts: upsert or delete items, swap changed vectors, log, audit.

    A vector whose field and text hash are unchanged is kept as is (no re-embedding, no
    FAISS churn); changed or vanished fields lose their old vector. When the database keeps
    a keyword index (`keyword_fields`, read inside this transaction), each upserted item's
    keyword rows are rewritten from its value (or dropped when it has no vectors).

    New items are inserted under ids assigned here (the writer holds the database, so
    the next AUTOINCREMENT ids are known): no statement reads back what was just written.
    """
    at = now.isoformat()
    epoch = now.timestamp()
    existing = _existing_items(conn, puts)

    deletions = []
    for put in puts:
        old = existing.get((put.prefix, put.key))
        if put.value_json is None and old is not None:
            deletions.append((old.item_id, put.prefix, put.key, old.value_json, put.source))
    delete_items(conn, deletions, op="DELETE", at=at, record_history=record_history)

    upserts = [p for p in puts if p.value_json is not None]
    if not upserts:
        return
    item_ids = {key: ex.item_id for key, ex in existing.items()}
    added: list[tuple[int, str, str, str | None, str, str]] = []
    added_ttl: list[tuple[int, float | None, float | None]] = []
    updated: list[tuple[str | None, str, float | None, float | None, int]] = []
    history: list[tuple[str, str, str, str | None, str | None, str, str | None]] = []
    next_id = _next_id(conn, "items")
    for p in upserts:
        prefix = p.prefix
        expires = None if p.ttl is None else epoch + p.ttl * 60.0
        old = existing.get((prefix, p.key))
        if old is None:
            next_id += 1
            item_ids[(prefix, p.key)] = next_id
            added.append((next_id, prefix, p.key, p.value_json, at, at))
            if p.ttl is not None:
                added_ttl.append((next_id, expires, p.ttl))
            history.append((prefix, p.key, "ADD", None, p.value_json, at, p.source))
        else:
            updated.append((p.value_json, at, expires, p.ttl, old.item_id))
            if old.value_json != p.value_json:
                history.append(
                    (prefix, p.key, "UPDATE", old.value_json, p.value_json, at, p.source)
                )
    json_rows.insert(
        conn, "items", ("id", "prefix", "key", "value", "created_at", "updated_at"), added
    )
    conn.executemany(  # floats are bound, never sent as JSON text (see json_rows)
        "UPDATE items SET expires_at = ?, ttl_minutes = ? WHERE id = ?",
        [(expires, ttl, item_id) for item_id, expires, ttl in added_ttl],
    )
    conn.executemany(
        "UPDATE items SET value = ?, updated_at = ?, expires_at = ?, ttl_minutes = ? WHERE id = ?",
        updated,
    )
    if record_history:
        json_rows.insert(
            conn, "history", ("prefix", "key", "op", "old", "new", "at", "source"), history
        )
    fresh = {row[0] for row in added}
    _swap_vectors(conn, upserts, item_ids, vectors_by_hash, group_of, fresh=fresh)
    if keyword_fields is not None:
        _write_keywords(conn, upserts, item_ids, keyword_fields, group_of, fresh=fresh)


def _next_id(conn: sqlite3.Connection, table: str) -> int:
    """The id an AUTOINCREMENT `table` gives its next row, minus one (the writer holds the
    database, so ids from here up are free and never were used)."""
    row = conn.execute(
        f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), "
        f"coalesce((SELECT max(id) FROM {table}), 0))",
        (table,),
    ).fetchone()
    return int(row[0])


def _write_keywords(
    conn: sqlite3.Connection,
    upserts: Sequence[PreparedPut],
    item_ids: Mapping[tuple[str, str], int],
    fields: Sequence[str],
    group_of: Group,
    *,
    fresh: set[int],
) -> None:
    """Rewrite the upserted items' keyword rows: an item with vectors is indexed under
    `fields` (or its own `index_paths`); one without loses its rows. Items inserted by
    this batch (`fresh`) have no rows to drop."""
    rows: list[fulltext.KeywordRow] = []
    new_rows: list[fulltext.KeywordRow] = []
    unindexed: list[int] = []
    field_paths = tuple(fields)
    for put in upserts:
        item_id = item_ids[(put.prefix, put.key)]
        if put.texts and put.value is not None:
            if put.index_paths is None and put.text_paths == field_paths:
                # the texts the put was embedded from are the ones its keyword row reads
                texts = fulltext.slot_texts([(f, text) for f, text, _ in put.texts], fields)
            else:
                texts = fulltext.item_texts(put.value, fields, put.index_paths)
            (new_rows if item_id in fresh else rows).append(
                (item_id, group_of(put.namespace), texts)
            )
        elif item_id not in fresh:
            unindexed.append(item_id)
    fulltext.delete_rows(conn, unindexed)
    fulltext.write_rows(conn, rows)
    fulltext.write_rows(conn, new_rows, fresh=True)


def _swap_vectors(
    conn: sqlite3.Connection,
    upserts: Sequence[PreparedPut],
    item_ids: Mapping[tuple[str, str], int],
    vectors_by_hash: Mapping[str, np.ndarray],
    group_of: Group,
    *,
    fresh: set[int],
) -> None:
    """Replace the vectors of upserted items whose text changed (`fresh` items, just
    inserted, have none yet), logging every removal and addition for the FAISS caches."""
    old_vectors: dict[int, dict[str, tuple[int, str, str]]] = defaultdict(dict)
    known = [item_ids[(p.prefix, p.key)] for p in upserts]
    for item_id, vid, grp, field, digest in _vectors_of(conn, [i for i in known if i not in fresh]):
        old_vectors[item_id][field] = (vid, grp, digest)

    dropped: list[tuple[int, str]] = []
    inserted: list[tuple[int, int, str, str, str, int]] = []
    blobs: list[bytes] = []
    next_id = _next_id(conn, "vectors")
    groups: dict[tuple[str, ...], str] = {}
    for put, item_id in zip(upserts, known, strict=True):
        group = groups.get(put.namespace)
        if group is None:
            group = groups[put.namespace] = group_of(put.namespace)
        current = old_vectors.get(item_id)
        if current is None and len(put.texts) == 1:  # the common case: one text, no vector yet
            field, _, digest = put.texts[0]
            vector = vectors_by_hash[digest]
            next_id += 1
            inserted.append((next_id, item_id, group, field, digest, len(vector)))
            blobs.append(vector.tobytes())
            continue
        current = current or {}
        wanted = {field: digest for field, _, digest in put.texts}
        for field, (vid, grp, digest) in current.items():
            if wanted.get(field) != digest:
                dropped.append((vid, grp))
        for field, digest in wanted.items():
            if field in current and current[field][2] == digest:
                continue
            vector = vectors_by_hash[digest]
            next_id += 1
            inserted.append((next_id, item_id, group, field, digest, len(vector)))
            blobs.append(vector.tobytes())
    _drop_vectors(conn, dropped)
    json_rows.insert(
        conn,
        "vectors",
        ("id", "item_id", "grp", "field", "text_hash", "dim"),
        inserted,
        blob_column="blob",
        blobs=blobs,
    )
    json_rows.insert(
        conn, "vector_log", ("grp", "vector_id", "added"), [(r[2], r[0], 1) for r in inserted]
    )


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
    """Drop `vector_log` and `keyword_log` entries older than the newest `keep` (see
    `vector_log.compact`); returns the vector log entries dropped."""
    keyword_log.compact(conn, keep)
    return vector_log.compact(conn, keep)


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
        found[(op.namespace, op.key)] = as_utc(stamp)
    conflicts = conflicts_of(expects, found)
    if conflicts:
        raise StaleWriteError(conflicts)
