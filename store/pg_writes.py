"""The write path of `PostgresMemoryStore`: puts and deletes, bulk loads through `COPY`, and the
preconditions of conditional batches (`ExpectOp`).

Core pieces:
    - `plan_puts(put_ops, fields)`: the batch's puts as rows to upsert, keys to delete and
      texts to embed — LangGraph's `PostgresStore` semantics (last put of a key wins, `index`
      per put, TTL in minutes), computed before any connection is taken.
    - `write_puts(cur, plan, ...)`: deletes, then one upsert of every row into `store` and of
      every vector into `store_vectors`. Small batches pass their rows as arrays; from
      `COPY_THRESHOLD` rows on they stream through binary `COPY` into temporary staging
      tables (vectors in pgvector's binary format) and are upserted from there.
    - `lock_expected` / `check_absent`: the `ExpectOp` preconditions (see `store.expect`).

Every statement runs in the batch's transaction; the history trigger records each change.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from langgraph.store.base import PutOp, get_text_at_path, tokenize_path
from psycopg import Cursor
from psycopg.adapt import Dumper
from psycopg.errors import UniqueViolation
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg.types.json import Jsonb

from hippograph.store.codec import encode_value, ns_to_text
from hippograph.store.errors import InvalidValueError
from hippograph.store.expect import Conflict, ExpectOp, StaleWriteError, conflicts_of
from hippograph.store.pg_keywords import KeywordEntry
from hippograph.store.pg_sql import WANTED, vector_literal

COPY_THRESHOLD = 64
"""Rows per batch from which puts stream through `COPY` instead of array parameters."""

_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
"""A JSON `\\u0000` escape (not an escaped backslash followed by `u0000`)."""

TokenizedFields = Sequence[tuple[str, Literal["$"] | list[str]]]

_UPSERT_ITEMS = """
INSERT INTO store (prefix, key, value, created_at, updated_at, expires_at, ttl_minutes)
SELECT p, k, v, now(), now(), now() + make_interval(secs => t * 60), t FROM {source}
ON CONFLICT (prefix, key) DO UPDATE
    SET value = EXCLUDED.value, updated_at = CURRENT_TIMESTAMP,
        expires_at = EXCLUDED.expires_at, ttl_minutes = EXCLUDED.ttl_minutes
"""
_UPSERT_VECTORS = """
INSERT INTO store_vectors (prefix, key, field_name, embedding, created_at, updated_at)
SELECT p, k, f, e::{vector_type}, now(), now() FROM {source}
ON CONFLICT (prefix, key, field_name) DO UPDATE
    SET embedding = EXCLUDED.embedding, updated_at = CURRENT_TIMESTAMP
"""
_ITEM_ARRAYS = "unnest(%s::text[], %s::text[], %s::jsonb[], %s::float8[]) AS u(p, k, v, t)"
_VECTOR_ARRAYS = "unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS u(p, k, f, e)"
_STAGE = (
    "CREATE TEMP TABLE hippograph_stage_items (p text, k text, v jsonb, t float8) ON COMMIT DROP",
    "CREATE TEMP TABLE hippograph_stage_vectors (p text, k text, f text, e vector) ON COMMIT DROP",
)


@dataclass(slots=True)
class PutPlan:
    """The puts of one batch, ready to write once `vectors` holds one vector per text."""

    deletes: dict[str, list[str]] = field(default_factory=dict)
    """Keys to delete, by namespace text."""
    rows: list[tuple[str, str, str, float | None]] = field(default_factory=list)
    """`(namespace text, key, value as JSON text, ttl minutes)` to upsert."""
    texts: list[tuple[str, str, str, str]] = field(default_factory=list)
    """`(namespace text, key, field name, text)` to embed and store as vectors."""
    vectors: list[Sequence[float]] = field(default_factory=list)
    keywords: list[KeywordEntry] = field(default_factory=list)
    """Every upserted item, for the keyword index (empty when the store has no vector index)."""

    @property
    def size(self) -> int:
        """Rows written (upserted or deleted)."""
        return len(self.rows) + sum(map(len, self.deletes.values()))


def plan_puts(put_ops: Sequence[PutOp], fields: TokenizedFields | None) -> PutPlan:
    """The writes of `put_ops` (a later put of the same key replaces an earlier one);
    `fields` are the index's tokenized fields (`None`: the store has no vector index)."""
    latest: dict[tuple[tuple[str, ...], str], PutOp] = {}
    for op in put_ops:
        latest.pop((op.namespace, op.key), None)
        latest[(op.namespace, op.key)] = op
    plan = PutPlan()
    for op in latest.values():
        prefix = ns_to_text(op.namespace)
        if op.value is None:
            plan.deletes.setdefault(prefix, []).append(op.key)
            continue
        ttl = None if op.ttl is None else float(op.ttl)
        plan.rows.append((prefix, op.key, encode_jsonb(op.value), ttl))
        if fields is None:
            continue
        before = len(plan.texts)
        if op.index is not False:
            paths = fields if op.index is None else [(p, tokenize_path(p)) for p in op.index]
            for path, tokens in paths:
                texts = get_text_at_path(op.value, tokens)
                for n, text in enumerate(texts):
                    name = f"{path}.{n}" if len(texts) > 1 else path
                    plan.texts.append((prefix, op.key, name, text))
        own = list(op.index) if isinstance(op.index, list) else None
        indexed = len(plan.texts) > before
        plan.keywords.append(KeywordEntry(prefix, op.key, op.value, own, indexed))
    return plan


def encode_jsonb(value: object) -> str:
    """`value` as JSON text PostgreSQL's `jsonb` accepts (see `codec.encode_value`).

    Raises:
        InvalidValueError: not a JSON object, or a string holds a NUL character, which
            `jsonb` cannot store.
    """
    text = encode_value(value, None)
    if _NUL_ESCAPE.search(text):
        raise InvalidValueError(
            "PostgreSQL cannot store the NUL character (\\x00) in JSON text; remove it"
        )
    return text


def _as_is(text: str) -> str:
    return text


def write_puts(
    cur: Cursor[Any], plan: PutPlan, *, vector_type: str = "vector", copy: bool = True
) -> None:
    """Apply `plan` in the cursor's transaction: deletes first, then the upserts
    (through `COPY` from `COPY_THRESHOLD` rows on, unless `copy` is false)."""
    for prefix, keys in plan.deletes.items():
        # The links go first (the foreign keys would cascade anyway), so their UNLINK rows
        # precede the DELETE in history, as on SQLite.
        cur.execute(
            "DELETE FROM hippograph_links WHERE prefix = %s AND (src = ANY(%s) OR dst = ANY(%s))",
            (prefix, keys, keys),
        )
        cur.execute("DELETE FROM store WHERE prefix = %s AND key = ANY(%s)", (prefix, keys))
    if not plan.rows:
        return
    if copy and len(plan.rows) + len(plan.texts) >= COPY_THRESHOLD:
        _copy(cur, plan, vector_type)
        return
    prefixes, keys, values, ttls = (list(column) for column in zip(*plan.rows, strict=True))
    cur.execute(
        _UPSERT_ITEMS.format(source=_ITEM_ARRAYS),
        (prefixes, keys, [Jsonb(v, dumps=_as_is) for v in values], ttls),
    )
    if plan.texts:
        owners, owned, names, _ = (list(column) for column in zip(*plan.texts, strict=True))
        literals = [vector_literal(vector) for vector in plan.vectors]
        cur.execute(
            _UPSERT_VECTORS.format(source=_VECTOR_ARRAYS, vector_type=vector_type),
            (owners, owned, names, literals),
        )


def _copy(cur: Cursor[Any], plan: PutPlan, vector_type: str) -> None:
    """Stream the rows and vectors through binary `COPY`: straight into the tables when
    every key is new (a bulk load's usual case), else into staging tables dropped at commit
    and upserted from there."""
    if vector_type == "vector" and not _any_exists(cur, plan):
        try:
            with cur.connection.transaction():  # a savepoint: a concurrent insert of a key
                _copy_new(cur, plan)  # makes the COPY fail, and the upsert path takes over
            return
        except UniqueViolation:
            pass
    for statement in _STAGE:
        cur.execute(statement)
    with cur.copy("COPY hippograph_stage_items (p, k, v, t) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["text", "text", "jsonb", "float8"])
        for prefix, key, value, ttl in plan.rows:
            copy.write_row((prefix, key, Jsonb(value, dumps=_as_is), ttl))
    cur.execute(_UPSERT_ITEMS.format(source="hippograph_stage_items"))
    if not plan.texts:
        return
    oid = _register_vector_dumper(cur)
    statement = "COPY hippograph_stage_vectors (p, k, f, e) FROM STDIN (FORMAT BINARY)"
    with cur.copy(statement) as copy:
        copy.set_types(["text", "text", "text", oid])
        for (prefix, key, name, _), vector in zip(plan.texts, plan.vectors, strict=True):
            copy.write_row((prefix, key, name, vector))
    cur.execute(_UPSERT_VECTORS.format(source="hippograph_stage_vectors", vector_type=vector_type))


def _any_exists(cur: Cursor[Any], plan: PutPlan) -> bool:
    prefixes, keys = [row[0] for row in plan.rows], [row[1] for row in plan.rows]
    found = cur.execute(
        f"SELECT 1 AS found FROM {WANTED} "
        "JOIN store s ON s.prefix = wanted.prefix AND s.key = wanted.key LIMIT 1",
        (prefixes, keys),
    ).fetchone()
    return found is not None


def _copy_new(cur: Cursor[Any], plan: PutPlan) -> None:
    """`COPY` new rows and their vectors into `store` and `store_vectors` (same values as
    the upsert: times of this transaction, expiry `ttl` minutes from now)."""
    row = cur.execute("SELECT now() AS now").fetchone()
    assert row is not None
    now: datetime = row["now"] if isinstance(row, dict) else row[0]
    columns = "prefix, key, value, created_at, updated_at, expires_at, ttl_minutes"
    with cur.copy(f"COPY store ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(
            ["text", "text", "jsonb", "timestamptz", "timestamptz", "timestamptz", "int4"]
        )
        for prefix, key, value, ttl in plan.rows:
            expires = None if ttl is None else now + timedelta(minutes=ttl)
            minutes = None if ttl is None else round(ttl)
            copy.write_row((prefix, key, Jsonb(value, dumps=_as_is), now, now, expires, minutes))
    if not plan.texts:
        return
    oid = _register_vector_dumper(cur)
    columns = "prefix, key, field_name, embedding, created_at, updated_at"
    with cur.copy(f"COPY store_vectors ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["text", "text", "text", oid, "timestamptz", "timestamptz"])
        for (prefix, key, name, _), vector in zip(plan.texts, plan.vectors, strict=True):
            copy.write_row((prefix, key, name, vector, now, now))


class _VectorBinaryDumper(Dumper):
    """Dumps a sequence of floats in pgvector's binary format: dimension and an unused
    field (two big-endian int16), then big-endian float32 values."""

    format = Format.BINARY

    def dump(self, obj: Any) -> bytes:
        values = np.asarray(obj, dtype=">f4")
        return struct.pack(">HH", len(values), 0) + values.tobytes()


def _register_vector_dumper(cur: Cursor[Any]) -> int:
    """Register `_VectorBinaryDumper` for the `vector` type on `cur`; returns the type's oid."""
    info = TypeInfo.fetch(cur.connection, "vector")
    if info is None:
        raise RuntimeError("the vector extension is not installed in this database")
    dumper = type("VectorDumper", (_VectorBinaryDumper,), {"oid": info.oid})
    cur.adapters.register_dumper(None, dumper)
    return int(info.oid)


# ---------------------------------------------------------------------- preconditions


def lock_expected(cur: Cursor[Any], expectations: Sequence[ExpectOp], omit_expired: bool) -> None:
    """Lock the expected items (`FOR UPDATE`, in key order) and compare their `updated_at`
    with the expectations; raises `StaleWriteError` listing every mismatch."""
    if not expectations:
        return
    alive = "AND (s.expires_at IS NULL OR s.expires_at > now())" if omit_expired else ""
    rows = cur.execute(
        f"SELECT s.prefix, s.key, s.updated_at FROM {WANTED} "
        f"JOIN store s ON s.prefix = wanted.prefix AND s.key = wanted.key {alive} "
        "ORDER BY s.prefix, s.key FOR UPDATE OF s",
        ([ns_to_text(op.namespace) for op in expectations], [op.key for op in expectations]),
    ).fetchall()
    by_text = {(ns_to_text(op.namespace), op.key): (op.namespace, op.key) for op in expectations}
    stamps: dict[tuple[tuple[str, ...], str], datetime] = {
        by_text[(row["prefix"], row["key"])]: row["updated_at"] for row in rows
    }
    conflicts = conflicts_of(expectations, stamps)
    if conflicts:
        raise StaleWriteError(conflicts)


def check_absent(cur: Cursor[Any], expectations: Sequence[ExpectOp]) -> None:
    """After the writes: an item expected absent must not have been created by another
    transaction in the meantime (our own insert is stamped with this transaction's start,
    `now()`); raises `StaleWriteError` otherwise."""
    absent = [op for op in expectations if op.updated_at is None]
    if not absent:
        return
    rows = cur.execute(
        f"SELECT s.prefix, s.key, s.updated_at FROM {WANTED} "
        "JOIN store s ON s.prefix = wanted.prefix AND s.key = wanted.key "
        "WHERE s.created_at <> now()",
        ([ns_to_text(op.namespace) for op in absent], [op.key for op in absent]),
    ).fetchall()
    by_text = {(ns_to_text(op.namespace), op.key): op for op in absent}
    conflicts = [
        Conflict(op.namespace, op.key, None, row["updated_at"])
        for row in rows
        if (op := by_text.get((row["prefix"], row["key"]))) is not None
    ]
    if conflicts:
        raise StaleWriteError(conflicts)
