"""Right to erasure on PostgreSQL: `PostgresMemoryStore.purge` (see `hippograph.store.erasure`).

One transaction deletes, under a namespace prefix, the links, the vectors, the items and the
whole history (the triggers are told not to record it), and the keyword rows (terms of a
tenant left by its last document go too), and leaves one `ERASE` audit row with
a SHA-256 of the namespace and the item count — no content, no user id. `VACUUM FULL` then
rewrites those tables so no dead row keeps the old bytes in their files; it locks those
tables while it runs (every replica waits), and PostgreSQL's WAL archive and backups keep
the data until your retention policy drops them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from psycopg import Connection, Cursor
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from hippograph.store.erasure import ERASE_OP, ErasureReport, audit_key
from hippograph.store.pg_schema import HISTORY_SETTING
from hippograph.store.pg_sql import prefix_condition

PURGED = {
    "hippograph_links": "links",
    "store_vectors": "vectors",
    "hippograph_keyword_docs": "fulltext",
    "store": "items",
    "hippograph_history": "history",
}
"""Tables an erasure deletes from, in order, and the name of each count in its report.
A keyword document takes its postings with it, and its terms and group totals are
decremented (deleted at zero) by the statistics trigger (schema migration 3)."""

COMPACTED = ("hippograph_keyword_postings", "hippograph_keyword_terms", "hippograph_keyword_groups")
"""Further tables `VACUUM FULL` rewrites after an erasure (they held the erased terms)."""


def purge_postgres(
    conn: Connection[Any],
    prefix: tuple[str, ...],
    *,
    source: dict[str, Any] | None,
    compact: bool,
) -> ErasureReport:
    """Erase everything under the (non-empty) namespace `prefix` on the autocommit `conn`."""
    where, params = prefix_condition(prefix)
    at = datetime.now(UTC)
    key = audit_key(prefix)
    removed: dict[str, int] = {}
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        cur.execute("SELECT set_config(%s, 'off', true)", (HISTORY_SETTING,))
        tables = [name for name in PURGED if _has_table(cur, name)]
        for table in tables:
            removed[PURGED[table]] = cur.execute(
                f"DELETE FROM {table} WHERE {where}", params
            ).rowcount
        cur.execute(
            "INSERT INTO hippograph_history (prefix, key, op, old, new, at, source) "
            "VALUES ('', %s, %s, NULL, %s, %s, %s)",
            (
                key,
                ERASE_OP,
                Jsonb({"items": removed["items"]}),
                at,
                None if source is None else Jsonb(source),
            ),
        )
    if compact:
        with conn.cursor(row_factory=tuple_row) as cur:
            tables += [name for name in COMPACTED if _has_table(cur, name)]
        conn.execute(f"VACUUM FULL {', '.join(tables)}")
    return ErasureReport(prefix, removed["items"], removed, at, compact, key)


def _has_table(cur: Cursor[Any], name: str) -> bool:
    row = cur.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])
