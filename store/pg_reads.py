"""The read path of `PostgresMemoryStore`: get, and filter-only, vector or hybrid search, paged
and expanded through links.

Core pieces:
    - `get_items(store, cur, ops)`: the items `GetOp`s name, in order (`None` where missing).
    - `search(store, cur, op, query_vector, expansion)`: one `SearchOp`. With a query and a
      vector index, the best items by pgvector distance (scored like LangGraph's
      `PostgresStore`: cosine similarity by default, best vector per item) — or, when the
      store has hybrid settings, those fused with the tenant's BM25 by `store.ranking`
      (`pg_hybrid`, the same ranking as SQLite) — then, with
      `expansion` — the items the best results link to (`store.expansion`), then the page.
      Without a query, matching items, most recently updated first.
    - `PgLinkGraph`: the `LinkGraph` of one search, over `hippograph_links` and `store`.

Every search applies the same conditions (namespace prefix on whole labels, the filter with
`pg_filters` semantics, expiry when the store omits expired items), so an item reached
through a link obeys them exactly like a ranked one. Pages are cut in Python from one
ranking of `offset + limit` items, so pages of one query never overlap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from langgraph.store.base import GetOp, Item, SearchItem, SearchOp
from langgraph.store.postgres.base import get_distance_operator
from psycopg import Cursor

from hippograph.store import pg_keywords, pg_links
from hippograph.store.codec import ns_to_text, text_to_ns
from hippograph.store.expansion import ItemRef, expand_ranked
from hippograph.store.links import Link, LinkedSearchItem, LinkExpansion, Via
from hippograph.store.pg_filters import search_filter
from hippograph.store.pg_hybrid import PgSearchScope, rank_hybrid
from hippograph.store.pg_sql import WANTED, prefix_condition, vector_literal
from hippograph.store.ranking.explain import ExplainedSearchItem

if TYPE_CHECKING:
    from hippograph.store.postgres import PostgresMemoryStore

Row = Mapping[str, Any]
_ITEM = (
    "store.prefix, store.key, store.value, store.created_at, store.updated_at, store.ttl_minutes"
)


@dataclass(frozen=True, slots=True)
class SearchConditions:
    """The conditions of one search on `store` rows, and how it measures distance (shared
    with `pg_hybrid`)."""

    where: str
    params: list[Any]
    distance: str
    """SQL of one vector's distance to the query (`sv.embedding <=> %s::vector`)."""
    score: str
    """SQL turning `scored.neg_score` (the best distance of an item) into its score."""
    vectors_where: str
    """The namespace condition on `store_vectors sv`, plus a join to `store` when the
    search also filters items (by value or expiry)."""
    vectors_params: list[Any]
    filtered: bool = True
    """Whether the search filters items beyond their namespace (by value or expiry)."""


def _scope(store: PostgresMemoryStore, op: SearchOp) -> SearchConditions:
    prefix = tuple(op.namespace_prefix)
    ns_sql, ns_params = prefix_condition(prefix, "store.prefix")
    sv_sql, sv_params = prefix_condition(prefix, "sv.prefix")
    filter_sql, filter_params = search_filter(op.filter)
    if store.omits_expired:
        filter_sql += " AND (store.expires_at IS NULL OR store.expires_at > now())"
    distance, score = "", ""
    if store.index_config:
        operator, score = get_distance_operator(store)
        vector_type = store.index_config.get("ann_index_config", {}).get("vector_type", "vector")
        distance = operator % ("%s", vector_type)
    if filter_sql == "TRUE":
        # Every vector belongs to a live item (foreign key): rank the vectors alone, which
        # reads one index range of the namespace instead of joining row by row.
        vectors_where, vectors_params = f"WHERE {sv_sql}", sv_params
    else:
        vectors_where = (
            "JOIN store ON store.prefix = sv.prefix AND store.key = sv.key "
            f"WHERE {sv_sql} AND {ns_sql} AND {filter_sql}"
        )
        vectors_params = [*sv_params, *ns_params, *filter_params]
    return SearchConditions(
        f"{ns_sql} AND {filter_sql}",
        [*ns_params, *filter_params],
        distance,
        score,
        vectors_where,
        vectors_params,
        filtered=filter_sql != "TRUE",
    )


def search(
    store: PostgresMemoryStore,
    cur: Cursor[Any],
    op: SearchOp,
    query_vector: Sequence[float] | None,
    expansion: LinkExpansion | None,
    *,
    explain: bool = False,
) -> list[SearchItem]:
    """The results of `op` (see the module docstring); with `explain`, as
    `ExplainedSearchItem`s carrying the parts of their scores."""
    scope = _scope(store, op)
    parts: dict[ItemRef, dict[str, Any]] | None = {} if explain else None
    if query_vector is None or not op.query or not scope.distance:
        unscored: list[tuple[Row, float | None]] = [(r, None) for r in _unscored(cur, scope, op)]
        return _finish(store, cur, op, unscored, {}, parts=parts)
    vector = vector_literal(query_vector)
    wanted = op.offset + op.limit
    if expansion is not None:
        wanted = max(wanted, expansion.seeds)
    config = cast(dict[str, Any], store.index_config or {})
    per_item = int(config.get("__estimated_num_vectors", 1))
    settings = store.hybrid
    if settings is not None:
        pool = max(settings.candidates, 2 * (op.offset + op.limit), wanted)
        candidates, exhausted = _ranking(cur, scope, vector, pool, per_item, doc_ids=True)
        prefix = tuple(op.namespace_prefix)
        hybrid = PgSearchScope(
            cur,
            scope,
            vector,
            candidates=candidates,
            groups=pg_keywords.groups_for_prefix(cur, prefix, store.group_depth),
            item_columns=_ITEM,
            fields=store.searched_keyword_fields(),
            whole_groups=not scope.filtered and len(prefix) <= store.group_depth,
        )
        ranked, total, hybrid_parts = rank_hybrid(
            hybrid, settings, op.query, pool=pool, head=wanted
        )
        if parts is not None:
            parts.update(hybrid_parts)
    else:
        ranked, exhausted = _ranking(cur, scope, vector, wanted, per_item)
        total = len(ranked)
        if parts is not None:
            parts.update({(row["prefix"], row["key"]): {"cosine": score} for row, score in ranked})
    via: dict[ItemRef, Via] = {}
    if expansion is not None:
        before = len(ranked)
        ranked, via = expand_ranked(ranked, expansion, PgLinkGraph(cur, scope, vector))
        total += len(ranked) - before
    page: list[tuple[Row, float | None]] = list(ranked[op.offset : op.offset + op.limit])
    if len(page) < op.limit and exhausted:
        # Items stored without vectors (`index=False`) follow, unscored, as in InMemoryStore.
        skip = max(0, op.offset - total)
        tail = op._replace(limit=op.limit - len(page), offset=skip)
        page += [(row, None) for row in _unscored(cur, scope, tail, without_vectors=True)]
    return _finish(store, cur, op, page, via, parts=parts)


def _ranking(
    cur: Cursor[Any],
    scope: SearchConditions,
    vector: str,
    wanted: int,
    per_item: int,
    *,
    doc_ids: bool = False,
) -> tuple[list[tuple[Row, float]], bool]:
    """The `wanted` best items by their best vector, and whether that is every item with
    vectors under the search's conditions (with `doc_ids`, rows carry their keyword
    document id as `doc_id`)."""
    limit = wanted * per_item * 2 + 1
    doc_id = (
        ", (SELECT d.id FROM hippograph_keyword_docs d "
        "WHERE d.prefix = store.prefix AND d.key = store.key) AS doc_id"
        if doc_ids
        else ""
    )
    while True:
        rows = cur.execute(
            f"""
            WITH candidates AS (
                SELECT sv.prefix, sv.key, {scope.distance} AS neg_score
                FROM store_vectors sv {scope.vectors_where}
                ORDER BY neg_score ASC
                LIMIT %s
            ), scored AS (
                SELECT prefix, key, min(neg_score) AS neg_score FROM candidates
                GROUP BY prefix, key
            )
            SELECT {_ITEM}, {scope.score} AS score,
                (SELECT count(*) FROM candidates) AS candidates{doc_id}
            FROM scored JOIN store ON store.prefix = scored.prefix AND store.key = scored.key
            ORDER BY score DESC, store.prefix, store.key
            LIMIT %s
            """,
            (vector, *scope.vectors_params, limit, wanted),
        ).fetchall()
        exhausted = not rows or int(rows[0]["candidates"]) < limit
        if len(rows) >= wanted or exhausted:
            return [(row, float(row["score"])) for row in rows], exhausted
        limit *= 4


def _unscored(
    cur: Cursor[Any], scope: SearchConditions, op: SearchOp, *, without_vectors: bool = False
) -> list[Row]:
    """Items matching the search, most recently updated first (only those without vectors
    when asked), paged by `op`."""
    no_vectors = (
        " AND NOT EXISTS (SELECT 1 FROM store_vectors sv "
        "WHERE sv.prefix = store.prefix AND sv.key = store.key)"
        if without_vectors
        else ""
    )
    return cur.execute(
        f"SELECT {_ITEM} FROM store WHERE {scope.where}{no_vectors} "
        "ORDER BY store.updated_at DESC, store.prefix, store.key LIMIT %s OFFSET %s",
        (*scope.params, op.limit, op.offset),
    ).fetchall()


def _finish(
    store: PostgresMemoryStore,
    cur: Cursor[Any],
    op: SearchOp,
    page: Sequence[tuple[Row, float | None]],
    via: Mapping[ItemRef, Via],
    *,
    parts: Mapping[ItemRef, Mapping[str, Any]] | None = None,
) -> list[SearchItem]:
    """`SearchItem`s for `page` (restarting their TTL clocks when `op` asks to); with
    `parts` (explain), `ExplainedSearchItem`s: an item's parts, or for a linked result the
    score it was reached with (`links`) and from where (`via`)."""
    if op.refresh_ttl:
        _refresh(cur, [row for row, _ in page])
    results: list[SearchItem] = []
    for row, score in page:
        item = SearchItem(
            namespace=text_to_ns(row["prefix"]),
            key=row["key"],
            value=store.decode(row["value"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            score=score,
        )
        ref = (row["prefix"], row["key"])
        how = via.get(ref)
        found = item if how is None else LinkedSearchItem(item, how)
        if parts is not None:
            explained = parts.get(ref, {}) if how is None else {"links": score, "via": how["key"]}
            found = ExplainedSearchItem(found, explained)
        results.append(found)
    return results


def _refresh(cur: Cursor[Any], rows: Sequence[Row]) -> None:
    """Restart the TTL clock of the `rows` that have one (no statement when none has)."""
    timed = [row for row in rows if row["ttl_minutes"] is not None]
    if timed:
        cur.execute(
            "UPDATE store SET expires_at = now() + (ttl_minutes || ' minutes')::interval "
            f"FROM {WANTED} WHERE store.prefix = wanted.prefix AND store.key = wanted.key "
            "AND store.ttl_minutes IS NOT NULL",
            ([row["prefix"] for row in timed], [row["key"] for row in timed]),
        )


def get_items(
    store: PostgresMemoryStore, cur: Cursor[Any], ops: Sequence[GetOp]
) -> list[Item | None]:
    """The items `ops` name, in order (`None` where missing, or expired when the store omits
    expired items); restarts the TTL clock of those read with `refresh_ttl`."""
    keys: dict[str, list[str]] = {}
    for op in ops:
        keys.setdefault(ns_to_text(op.namespace), []).append(op.key)
    alive = " AND (expires_at IS NULL OR expires_at > now())" if store.omits_expired else ""
    found: dict[ItemRef, Row] = {}
    for prefix, wanted in keys.items():
        for row in cur.execute(
            f"SELECT {_ITEM} FROM store WHERE prefix = %s AND key = ANY(%s){alive}",
            (prefix, wanted),
        ).fetchall():
            found[(row["prefix"], row["key"])] = row
    rows = [found.get((ns_to_text(op.namespace), op.key)) for op in ops]
    _refresh(cur, [row for op, row in zip(ops, rows, strict=True) if row and op.refresh_ttl])
    return [
        None
        if row is None
        else Item(
            namespace=text_to_ns(row["prefix"]),
            key=row["key"],
            value=store.decode(row["value"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
        for row in rows
    ]


class PgLinkGraph:
    """`LinkGraph` over `hippograph_links` and `store` for one vector search."""

    def __init__(self, cur: Cursor[Any], scope: SearchConditions, vector: str) -> None:
        self.cur, self.scope, self.vector = cur, scope, vector

    def ref(self, row: Row) -> ItemRef:
        return (row["prefix"], row["key"])

    def order(self, row: Row) -> ItemRef:
        return (row["prefix"], row["key"])

    def links_touching(self, keys: Mapping[str, Sequence[str]]) -> list[Link]:
        return pg_links.links_touching(self.cur, keys)

    def reachable(self, wanted: set[ItemRef]) -> dict[ItemRef, tuple[Row, float | None]]:
        """Rows of the wanted items that pass the search's conditions and have vectors,
        each with its own score for the query."""
        if not wanted:
            return {}
        refs = sorted(wanted)
        rows = self.cur.execute(
            f"""
            WITH scored AS (
                SELECT sv.prefix, sv.key, min({self.scope.distance}) AS neg_score
                FROM {WANTED}
                JOIN store_vectors sv ON sv.prefix = wanted.prefix AND sv.key = wanted.key
                GROUP BY sv.prefix, sv.key
            )
            SELECT {_ITEM}, {self.scope.score} AS score
            FROM scored JOIN store ON store.prefix = scored.prefix AND store.key = scored.key
            WHERE {self.scope.where}
            """,
            (self.vector, [p for p, _ in refs], [k for _, k in refs], *self.scope.params),
        ).fetchall()
        return {(row["prefix"], row["key"]): (row, float(row["score"])) for row in rows}
