"""Read-only consistency checks of a `PostgresMemoryStore` database (`store.verify()`).

PostgreSQL keeps the structural guarantees itself (foreign keys, types, transactions), so
these checks look for what a schema change, a restored backup or a hand-made edit could
break: the schema version, the triggers that write the audit trail, the foreign keys being
validated, and, row by row, vectors and links that no longer agree with the items.

Checks:
    - `hippograph_migrations` is at this hippograph's version.
    - The history triggers on `store` and `hippograph_links` exist and are enabled.
    - The foreign keys of `store_vectors` and `hippograph_links` are validated.
    - Every vector has the index's dimension and its field still names a text of its item.
    - Every link joins two live items of its namespace (never an item to itself).
    - When the database keeps a keyword index: its statistics triggers are enabled, every
      item with vectors has its keyword row (an item written by a plain `PostgresStore`
      client has none until `reindex_keywords()`), and each group's document frequencies
      and totals agree with its documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import Connection
from psycopg.rows import tuple_row

from hippograph.store.pg_keywords import KEYWORD_FIELDS_KEY
from hippograph.store.pg_schema import PG_MIGRATIONS, vector_dims
from hippograph.store.ranking.bm25 import SLOTS
from hippograph.store.verify import VerifyReport, text_at

if TYPE_CHECKING:
    from hippograph.store.postgres import PostgresMemoryStore

TRIGGERS = {
    "store": (
        "hippograph_history_insert",
        "hippograph_history_update",
        "hippograph_history_delete",
    ),
    "hippograph_links": ("hippograph_links_write", "hippograph_links_update"),
}
"""The triggers that keep the audit trail, by table."""

KEYWORD_TRIGGERS = ("hippograph_keyword_docs_insert", "hippograph_keyword_docs_delete")
"""The triggers that keep the keyword statistics (on `hippograph_keyword_docs`)."""

_FETCH = 2_000


def verify_postgres(conn: Connection[Any], store: PostgresMemoryStore) -> VerifyReport:
    """Run every check on `conn`'s database (see the module docstring)."""
    report = VerifyReport()
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute("SELECT count(*) FROM store").fetchone()
        report.items = int(row[0]) if row else 0
        _check_schema(cur, report)
    has_vectors = vector_dims(conn) is not None
    if has_vectors:
        _check_vectors(conn, store, report)
    _check_links(conn, report)
    _check_keywords(conn, report)
    return report


def _check_schema(cur: Any, report: VerifyReport) -> None:
    row = cur.execute("SELECT coalesce(max(v), -1) FROM hippograph_migrations").fetchone()
    expected = len(PG_MIGRATIONS) - 1
    if row is None or int(row[0]) != expected:
        report.add(f"schema version {row[0] if row else None}, expected {expected}")
    for table, names in TRIGGERS.items():
        _check_triggers(cur, report, table, names, "changes go unaudited")
    for table, name, validated in cur.execute(
        "SELECT conrelid::regclass::text, conname, convalidated FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid IN "
        "(to_regclass('store_vectors'), to_regclass('hippograph_links'))"
    ):
        if not validated:
            report.add(f"foreign key {name} of {table} is not validated")


def _check_triggers(
    cur: Any, report: VerifyReport, table: str, names: tuple[str, ...], effect: str
) -> None:
    found = dict(
        cur.execute(
            "SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = to_regclass(%s) "
            "AND NOT tgisinternal",
            (table,),
        ).fetchall()
    )
    for name in names:
        if name not in found:
            report.add(f"trigger {name} on {table} is missing: {effect}")
        elif found[name] == "D":
            report.add(f"trigger {name} on {table} is disabled: {effect}")


def _check_vectors(conn: Connection[Any], store: PostgresMemoryStore, report: VerifyReport) -> None:
    dims = int((store.index_config or {}).get("dims") or 0)
    with conn.transaction(), conn.cursor("hippograph_verify", row_factory=tuple_row) as cur:
        cur.execute(
            "SELECT sv.prefix, sv.key, sv.field_name, vector_dims(sv.embedding::vector), s.value "
            "FROM store_vectors sv LEFT JOIN store s ON s.prefix = sv.prefix AND s.key = sv.key"
        )
        while rows := cur.fetchmany(_FETCH):
            for prefix, key, name, size, value in rows:
                report.vectors += 1
                label = f"vector {prefix}/{key} ({name})"
                if value is None:
                    report.add(f"{label} belongs to a missing item")
                    continue
                if dims and size != dims:
                    report.add(f"{label} has {size} dims, the index {dims}")
                if text_at(store.decode(value), name) is None:
                    report.add(f"{label} names no text of its item")


def _check_links(conn: Connection[Any], report: VerifyReport) -> None:
    with conn.cursor(row_factory=tuple_row) as cur:
        exists = cur.execute("SELECT to_regclass('hippograph_links') IS NOT NULL").fetchone()
        if not (exists and exists[0]):
            report.add("the hippograph_links table is missing")
            return
        row = cur.execute("SELECT count(*) FROM hippograph_links").fetchone()
        report.links = int(row[0]) if row else 0
        for prefix, src, dst in cur.execute(
            "SELECT l.prefix, l.src, l.dst FROM hippograph_links l WHERE l.src = l.dst "
            "OR NOT EXISTS (SELECT 1 FROM store s WHERE s.prefix = l.prefix AND s.key = l.src) "
            "OR NOT EXISTS (SELECT 1 FROM store s WHERE s.prefix = l.prefix AND s.key = l.dst) "
            "LIMIT 50"
        ):
            report.add(f"link {prefix}/{src} -> {dst} does not join two items of its namespace")


_DF_FROM_DOCS = """
SELECT d.grp, split_part(token, '/', 1) AS term, count(*) AS df
FROM hippograph_keyword_docs d CROSS JOIN LATERAL string_to_table(btrim(d.terms), ' ') AS token
WHERE d.terms <> ' ' GROUP BY 1, 2
"""


def _check_keywords(conn: Connection[Any], report: VerifyReport) -> None:
    """The keyword index agrees with the items and with itself (see the module docstring)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        kept = cur.execute(
            "SELECT 1 FROM hippograph_meta WHERE key = %s", (KEYWORD_FIELDS_KEY,)
        ).fetchone()
        if kept is None:
            return
        stale = "keyword scores are wrong; run store.reindex_keywords()"
        _check_triggers(cur, report, "hippograph_keyword_docs", KEYWORD_TRIGGERS, stale)
        if vector_dims(conn) is not None:
            for prefix, key in cur.execute(
                "SELECT s.prefix, s.key FROM store s WHERE EXISTS (SELECT 1 FROM store_vectors "
                "v WHERE v.prefix = s.prefix AND v.key = s.key) AND NOT EXISTS (SELECT 1 FROM "
                "hippograph_keyword_docs d WHERE d.prefix = s.prefix AND d.key = s.key) LIMIT 50"
            ).fetchall():
                report.add(f"item {prefix}/{key} has no keyword row: {stale}")
        orphans = cur.execute(
            "SELECT count(*) FROM hippograph_keyword_postings p WHERE NOT EXISTS "
            "(SELECT 1 FROM hippograph_keyword_docs d WHERE d.id = p.doc_id)"
        ).fetchone()
        if orphans and orphans[0]:
            report.add(f"{orphans[0]} keyword postings belong to no document: {stale}")
        for grp, term in cur.execute(
            f"SELECT coalesce(t.grp, c.grp), coalesce(t.term, c.term) FROM ({_DF_FROM_DOCS}) c "
            "FULL JOIN hippograph_keyword_terms t ON t.grp = c.grp AND t.term = c.term "
            "WHERE t.df IS DISTINCT FROM c.df LIMIT 50"
        ).fetchall():
            report.add(f"keyword statistics of {term!r} in group {grp} disagree: {stale}")
        sums = ", ".join(f"sum(len{s}) AS len{s}" for s in range(SLOTS))
        same = " AND ".join(["g.docs = c.docs"] + [f"g.len{s} = c.len{s}" for s in range(SLOTS)])
        for (grp,) in cur.execute(
            f"SELECT coalesce(g.grp, c.grp) FROM (SELECT grp, count(*) AS docs, {sums} "
            "FROM hippograph_keyword_docs WHERE terms <> ' ' GROUP BY grp) c "
            f"FULL JOIN hippograph_keyword_groups g ON g.grp = c.grp WHERE NOT ({same}) "
            "OR g.grp IS NULL OR c.grp IS NULL LIMIT 50"
        ).fetchall():
            report.add(f"keyword totals of group {grp} disagree: {stale}")
