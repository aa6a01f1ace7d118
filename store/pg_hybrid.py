"""Hybrid search on PostgreSQL: `ranking.SearchScope` over pgvector and the keyword tables.

Core pieces:
    - `PgSearchScope`: one search's primitives — its vector candidates (from
      `pg_reads`' pgvector ranking), the keyword index of the groups it spans
      (`pg_keywords.PgKeywords`), admissibility under the search's conditions, exact
      cosines of items found by keywords only, and scalar value fields.
    - `rank_hybrid(...)`: `ranking.rank` over that scope; the head of the ranking as item
      rows with their scores.

Items are identified by their keyword document id (`hippograph_keyword_docs.id`), the
integer `ranking` works with; a vector candidate without one (written by a plain
`PostgresStore` client) gets a negative id for the duration of the search. The ranking
itself is `store.ranking`'s, the one SQLite uses, so both backends order the same memories
the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from psycopg import Cursor

from hippograph.store import pg_keywords, ranking
from hippograph.store.ranking import HybridSearch

if TYPE_CHECKING:
    from hippograph.store.pg_reads import SearchConditions

Row = Mapping[str, Any]
_DOCS = "hippograph_keyword_docs d JOIN store ON store.prefix = d.prefix AND store.key = d.key"


class PgSearchScope:
    """`ranking.SearchScope` on PostgreSQL for one search (see the module docstring)."""

    def __init__(
        self,
        cur: Cursor[Any],
        conditions: SearchConditions,
        vector: str,
        *,
        candidates: Sequence[tuple[Row, float]],
        groups: Sequence[str],
        item_columns: str,
        fields: Sequence[str] | None,
        whole_groups: bool = False,
    ) -> None:
        self.cur = cur
        self.conditions = conditions
        self.vector = vector
        self.groups = list(groups)
        self.item_columns = item_columns
        self.fields = None if fields is None else list(fields)
        self.whole_groups = whole_groups
        """Every indexed item of the groups is admissible (no filter, no expiry, and the
        namespace prefix is the groups'): admissibility needs no query."""
        self.rows: dict[int, Row] = {}
        """Item rows by id: the vector candidates', then those `cosines` reads."""
        self.ranked: list[tuple[int, float]] = []
        for n, (row, score) in enumerate(candidates):
            item_id = row["doc_id"] if row.get("doc_id") is not None else -(n + 1)
            self.rows[int(item_id)] = row
            self.ranked.append((int(item_id), score))

    def vector_candidates(self, count: int) -> list[tuple[int, float]]:
        return self.ranked[:count]

    def keywords(self) -> tuple[pg_keywords.PgKeywords, list[str]] | None:
        if self.fields is None:
            return None
        return pg_keywords.PgKeywords(self.cur, self.groups), self.fields

    def admissible(self, ids: Collection[int]) -> set[int]:
        if self.whole_groups:
            return set(ids)
        known = [i for i in ids if i >= 0]
        kept = {i for i in ids if i < 0}  # vector candidates: admissible by construction
        if known:
            rows = self.cur.execute(
                f"SELECT d.id FROM {_DOCS} WHERE d.id = ANY(%s) AND {self.conditions.where}",
                (known, *self.conditions.params),
            ).fetchall()
            kept.update(int(row["id"]) for row in rows)
        return kept

    def admissible_ids(self) -> set[int]:
        rows = self.cur.execute(
            f"SELECT d.id FROM {_DOCS} WHERE d.grp = ANY(%s) AND {self.conditions.where}",
            (self.groups, *self.conditions.params),
        ).fetchall()
        return {int(row["id"]) for row in rows} | {i for i, _ in self.ranked if i < 0}

    def cosines(self, ids: Collection[int]) -> dict[int, float]:
        """Exact cosines of items found by keywords only; keeps their rows for `values`
        and the page."""
        if not ids:
            return {}
        rows = self.cur.execute(
            f"""
            WITH scored AS (
                SELECT d.id, d.prefix, d.key, min({self.conditions.distance}) AS neg_score
                FROM hippograph_keyword_docs d
                JOIN store_vectors sv ON sv.prefix = d.prefix AND sv.key = d.key
                WHERE d.id = ANY(%s) GROUP BY d.id
            )
            SELECT scored.id, {self.item_columns}, {self.conditions.score} AS score
            FROM scored JOIN store ON store.prefix = scored.prefix AND store.key = scored.key
            """,
            (self.vector, sorted(ids)),
        ).fetchall()
        self.rows.update({int(row["id"]): row for row in rows})
        return {int(row["id"]): float(row["score"]) for row in rows}

    def values(self, ids: Collection[int], paths: Sequence[str]) -> dict[str, dict[int, object]]:
        found: dict[str, dict[int, object]] = {path: {} for path in paths}
        for item_id, row in self.fetch_rows(list(ids)).items():
            for path in paths:
                value = _at(row["value"], path)
                if value is not None and not isinstance(value, dict | list):
                    found[path][item_id] = value
        return found

    def fetch_rows(self, ids: Sequence[int]) -> dict[int, Row]:
        """Item rows of `ids` (read now if neither a vector candidate nor scored by `cosines`)."""
        missing = [i for i in ids if i not in self.rows]
        if missing:
            rows = self.cur.execute(
                f"SELECT d.id, {self.item_columns} FROM {_DOCS} WHERE d.id = ANY(%s)",
                (missing,),
            ).fetchall()
            self.rows.update({int(row["id"]): row for row in rows})
        return {i: self.rows[i] for i in ids if i in self.rows}


def _at(value: Any, path: str) -> object:
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def rank_hybrid(
    scope: PgSearchScope, settings: HybridSearch, query: str, *, pool: int, head: int
) -> tuple[list[tuple[Row, float]], int, dict[tuple[str, str], dict[str, float]]]:
    """The best `head` items of the hybrid ranking of `query` as `(row, score)`, how many
    items the whole ranking holds, and the parts of each one's score (for explain)."""
    ranked = ranking.rank(settings, scope, query, pool=pool, vector=scope.ranked)
    best = ranked[:head]
    rows = scope.fetch_rows([r.item_id for r in best])
    kept = [(rows[r.item_id], r) for r in best if r.item_id in rows]
    parts = {(row["prefix"], row["key"]): dict(r.parts) for row, r in kept}
    return [(row, r.score) for row, r in kept], len(ranked), parts
