"""The PostgreSQL side of a migration: progress bookkeeping, timestamps, history, checks.

Items and vectors go through `PostgresMemoryStore` like any write; this module holds the
SQL the store has no API for. Each method that changes data commits in one transaction with
the progress row, so an interrupted run resumes exactly where its last commit left it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import tuple_row

from hippograph.migration.source import SourceHistory, SourceItem, SourceLink


@dataclass(slots=True)
class Progress:
    """Where a migration of one source stands in the target."""

    items_after: int = 0
    history_after: int = 0
    items_copied: int = 0
    history_copied: int = 0
    finished: bool = False
    exists: bool = False


class PostgresTarget:
    """A connection to the target database for the migration's own bookkeeping."""

    def __init__(self, url: str, source_id: str) -> None:
        self.source_id = source_id
        self._conn = psycopg.connect(url, autocommit=True, row_factory=tuple_row)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def progress(self) -> Progress:
        """This source's progress row (a zero `Progress` if none)."""
        row = self._conn.execute(
            "SELECT items_after, history_after, items_copied, history_copied, finished_at "
            "FROM hippograph_migration_progress WHERE source = %s",
            (self.source_id,),
        ).fetchone()
        if row is None:
            return Progress()
        return Progress(
            int(row[0]), int(row[1]), int(row[2]), int(row[3]), row[4] is not None, True
        )

    def start(self) -> None:
        """Create this source's progress row if it has none."""
        self._conn.execute(
            "INSERT INTO hippograph_migration_progress (source) VALUES (%s) "
            "ON CONFLICT (source) DO NOTHING",
            (self.source_id,),
        )

    def item_count(self) -> int:
        """Items of any origin in the target."""
        row = self._conn.execute("SELECT count(*) FROM store").fetchone()
        return 0 if row is None else int(row[0])

    def finish_items(self, items: Sequence[SourceItem], last_id: int) -> None:
        """Give the copied items their source timestamps and expiry; advance the cursor."""
        with self._conn.transaction():
            if items:
                self._conn.execute(
                    "UPDATE store SET created_at = src.created_at, "
                    "updated_at = src.updated_at, expires_at = to_timestamp(src.epoch) "
                    "FROM (SELECT unnest(%s::text[]) AS prefix, unnest(%s::text[]) AS key, "
                    "unnest(%s::timestamptz[]) AS created_at, "
                    "unnest(%s::timestamptz[]) AS updated_at, "
                    "unnest(%s::float8[]) AS epoch) AS src "
                    "WHERE store.prefix = src.prefix AND store.key = src.key",
                    (
                        [".".join(item.namespace) for item in items],
                        [item.key for item in items],
                        [item.created_at for item in items],
                        [item.updated_at for item in items],
                        [item.expires_at for item in items],
                    ),
                )
            self._conn.execute(
                "UPDATE hippograph_migration_progress SET items_after = %s, "
                "items_copied = items_copied + %s WHERE source = %s",
                (last_id, len(items), self.source_id),
            )

    def copy_history(self, rows: Sequence[SourceHistory]) -> None:
        """Insert source history rows and advance the cursor, in one transaction."""
        if not rows:
            return
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO hippograph_history (prefix, key, op, old, new, at, source) "
                "VALUES (%s, %s, %s, %s::jsonb, %s::jsonb, %s::timestamptz, %s::jsonb)",
                [(r.prefix, r.key, r.op, r.old, r.new, r.at, r.source) for r in rows],
            )
            cur.execute(
                "UPDATE hippograph_migration_progress SET history_after = %s, "
                "history_copied = history_copied + %s WHERE source = %s",
                (rows[-1].id, len(rows), self.source_id),
            )

    def copy_links(self, links: Sequence[SourceLink]) -> int:
        """Insert source links between items the target holds, without history rows (the
        source's own LINK rows are copied with its history); returns how many were new.
        Idempotent: a link already there is left as it is."""
        if not links:
            return 0
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("SELECT set_config('hippograph.history', 'off', true)")
            cur.execute(
                "INSERT INTO hippograph_links (prefix, src, dst, relation, weight, created_at) "
                "SELECT u.* FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], "
                "%s::float8[], %s::timestamptz[]) AS u(prefix, src, dst, relation, weight, at) "
                f"WHERE {_ENDS_PRESENT} ON CONFLICT DO NOTHING",
                _link_columns(links),
            )
            return cur.rowcount

    def count_links_present(self, links: Sequence[SourceLink]) -> int:
        """How many of `links` the target holds (same ends, same relation)."""
        row = self._conn.execute(
            "SELECT count(*) FROM hippograph_links l JOIN unnest(%s::text[], %s::text[], "
            "%s::text[], %s::text[], %s::float8[], %s::timestamptz[]) "
            "AS u(prefix, src, dst, relation, weight, at) ON l.prefix = u.prefix "
            "AND l.src = u.src AND l.dst = u.dst AND l.relation = u.relation",
            _link_columns(links),
        ).fetchone()
        return 0 if row is None else int(row[0])

    def finish(self) -> None:
        """Mark the copy complete."""
        self._conn.execute(
            "UPDATE hippograph_migration_progress SET finished_at = now() WHERE source = %s",
            (self.source_id,),
        )

    def count_present(self, keys: Sequence[tuple[str, str]]) -> tuple[int, int]:
        """How many of `(prefix, key)` exist in the target, and how many have vectors."""
        with_vectors = (
            "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM store_vectors sv "
            "WHERE sv.prefix = s.prefix AND sv.key = s.key))"
            if self.has_vector_table()
            else "0"
        )
        row = self._conn.execute(
            f"SELECT count(*), {with_vectors} FROM store s "
            "JOIN (SELECT unnest(%s::text[]) AS prefix, unnest(%s::text[]) AS key) AS k "
            "ON s.prefix = k.prefix AND s.key = k.key",
            ([p for p, _ in keys], [k for _, k in keys]),
        ).fetchone()
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def has_vector_table(self) -> bool:
        """Whether the target has pgvector's `store_vectors` table."""
        row = self._conn.execute("SELECT to_regclass('store_vectors') IS NOT NULL").fetchone()
        return bool(row and row[0])

    def value_of(self, prefix: str, key: str) -> dict[str, Any] | None:
        """The stored value of one item."""
        row = self._conn.execute(
            "SELECT value FROM store WHERE prefix = %s AND key = %s", (prefix, key)
        ).fetchone()
        return None if row is None else _as_dict(row[0])

    def field_vectors(self, prefix: str, key: str) -> dict[str, np.ndarray]:
        """`{field: vector}` of one item."""
        rows = self._conn.execute(
            "SELECT field_name, embedding::text FROM store_vectors WHERE prefix = %s AND key = %s",
            (prefix, key),
        ).fetchall()
        return {str(f): np.asarray(json.loads(text), dtype=np.float32) for f, text in rows}


_ENDS_PRESENT = " AND ".join(
    f"EXISTS (SELECT 1 FROM store s WHERE s.prefix = u.prefix AND s.key = u.{end})"
    for end in ("src", "dst")
)


def _link_columns(links: Sequence[SourceLink]) -> tuple[list[Any], ...]:
    return (
        [x.prefix for x in links],
        [x.src for x in links],
        [x.dst for x in links],
        [x.relation for x in links],
        [x.weight for x in links],
        [x.created_at for x in links],
    )


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else json.loads(value)
