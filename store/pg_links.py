"""Every SQL statement on PostgreSQL's `hippograph_links` table: write, remove, list, expand.

The table has the semantics of the SQLite `links` table (see `hippograph.store.links`): both
ends are items of one namespace (`(prefix, src)` and `(prefix, dst)` are foreign keys into
LangGraph's `store`, `ON DELETE CASCADE`), so a link never joins two users' items and never
outlives an end. History rows (`LINK` / `UNLINK`, keyed by `src`) are written by a trigger on
the table, in the statement that changes the link — including the cascade when an item is
deleted, swept or erased by any client — with the transaction's provenance setting.

Writes run inside the batch's transaction, after its puts; reads in the batch's cursor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg import Cursor

from hippograph.store.codec import ns_to_text, text_to_ns
from hippograph.store.links import Link, LinkOp, LinkWrite, ListLinksOp, UnlinkOp
from hippograph.store.pg_sql import prefix_condition

COLUMNS = "prefix, src, dst, relation, weight, created_at"

_WRITE = f"""
WITH ends AS (
    SELECT key FROM store WHERE prefix = %(prefix)s AND key IN (%(src)s, %(dst)s)
    FOR KEY SHARE
), written AS (
    INSERT INTO hippograph_links (prefix, src, dst, relation, weight)
    SELECT %(prefix)s, %(src)s, %(dst)s, %(relation)s, %(weight)s
    WHERE (SELECT count(*) FROM ends) = 2
    ON CONFLICT (prefix, src, dst, relation) DO UPDATE
        SET weight = EXCLUDED.weight, created_at = now()
        WHERE hippograph_links.weight IS DISTINCT FROM EXCLUDED.weight
    RETURNING {COLUMNS}
)
SELECT {COLUMNS} FROM written
UNION ALL
SELECT {COLUMNS} FROM hippograph_links
WHERE prefix = %(prefix)s AND src = %(src)s AND dst = %(dst)s AND relation = %(relation)s
    AND (SELECT count(*) FROM ends) = 2 AND NOT EXISTS (SELECT 1 FROM written)
"""
"""Link `src` → `dst` if both ends exist (locked against a concurrent delete until commit);
returns the stored link, unchanged when its weight already matches (no history row)."""


def link_of(row: Mapping[str, Any] | Sequence[Any]) -> Link:
    """A `Link` from a row of `COLUMNS` (dict or tuple row)."""
    prefix, src, dst, relation, weight, created_at = (
        [row[name] for name in ("prefix", "src", "dst", "relation", "weight", "created_at")]
        if isinstance(row, Mapping)
        else row
    )
    assert isinstance(created_at, datetime)
    return Link(
        text_to_ns(str(prefix)), str(src), str(dst), str(relation), float(weight), created_at
    )


def _sorted(links: Sequence[Link]) -> list[Link]:
    return sorted(links, key=lambda x: (x.src, x.dst, x.relation))


def apply_link_writes(cur: Cursor[Any], ops: Sequence[LinkWrite]) -> list[Link | list[Link] | None]:
    """Apply link and unlink operations in order; one result per operation (see `LinkOp`,
    `UnlinkOp`)."""
    results: list[Link | list[Link] | None] = []
    for op in ops:
        prefix = ns_to_text(op.namespace)
        if isinstance(op, UnlinkOp):
            where, params = "prefix = %s", [prefix]
            for column, value in (("src", op.src), ("dst", op.dst), ("relation", op.relation)):
                if value is not None:
                    where, params = f"{where} AND {column} = %s", [*params, value]
            rows = cur.execute(
                f"DELETE FROM hippograph_links WHERE {where} RETURNING {COLUMNS}", params
            ).fetchall()
            results.append(_sorted([link_of(row) for row in rows]))
            continue
        row = cur.execute(_WRITE, _write_params(prefix, op)).fetchone()
        results.append(None if row is None else link_of(row))
    return results


def _write_params(prefix: str, op: LinkOp) -> dict[str, object]:
    return {
        "prefix": prefix,
        "src": op.src,
        "dst": op.dst,
        "relation": op.relation,
        "weight": op.weight,
    }


def list_links(cur: Cursor[Any], op: ListLinksOp) -> list[Link]:
    """The links `op` asks for, oldest first."""
    if op.key is not None:
        where = "prefix = %s AND (src = %s OR dst = %s)"
        params: list[object] = [ns_to_text(op.namespace_prefix), op.key, op.key]
    else:
        where, prefix_params = prefix_condition(op.namespace_prefix)
        params = list(prefix_params)
    rows = cur.execute(
        f"SELECT {COLUMNS} FROM hippograph_links WHERE {where} "
        "ORDER BY created_at, prefix, src, dst, relation LIMIT %s OFFSET %s",
        (*params, op.limit, op.offset),
    ).fetchall()
    return [link_of(row) for row in rows]


def links_touching(cur: Cursor[Any], keys: Mapping[str, Sequence[str]]) -> list[Link]:
    """Every link from or to one of `keys` (by namespace text)."""
    found: list[Link] = []
    for prefix, wanted in keys.items():
        rows = cur.execute(
            f"SELECT {COLUMNS} FROM hippograph_links "
            "WHERE prefix = %s AND (src = ANY(%s) OR dst = ANY(%s))",
            (prefix, list(wanted), list(wanted)),
        ).fetchall()
        found += [link_of(row) for row in rows]
    return found
