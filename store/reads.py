"""The store's read path: get, search (filter-only, vector, hybrid), list namespaces.

Every function runs inside one read transaction, so a batch of reads sees one consistent
snapshot. Expired items are invisible (`omit_expired`) even before the sweeper deletes them.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langgraph.store.base import GetOp, Item, ListNamespacesOp, MatchCondition, SearchItem, SearchOp

from hippograph.store import fulltext, link_sql, ranking, sorted_ids
from hippograph.store.cached_values import scalars, value_sql
from hippograph.store.codec import decode_value, ns_to_text, prefix_condition, text_to_ns
from hippograph.store.filters import compile_filter
from hippograph.store.index_manager import IndexManager, chunked, vectors_from_rows
from hippograph.store.keyword_cache import CachedKeywords, KeywordCache
from hippograph.store.links import LinkedSearchItem, LinkExpansion, Via
from hippograph.store.ranking import HybridSearch
from hippograph.store.ranking.explain import ExplainedSearchItem

_ITEM_COLUMNS = "i.id, i.prefix, i.key, i.value, i.created_at, i.updated_at, i.ttl_minutes"


@dataclass(slots=True)
class ReadScope:
    """What every read in one transaction shares."""

    conn: sqlite3.Connection
    now: float
    omit_expired: bool
    refresh: list[int] = field(default_factory=list)
    """Ids of items read with `refresh_ttl` that carry a TTL: their clock restarts."""

    def alive(self, alias: str = "i") -> tuple[str, list[float]]:
        if not self.omit_expired:
            return "1", []
        return f"({alias}.expires_at IS NULL OR {alias}.expires_at > ?)", [self.now]

    def note(self, row: tuple, refresh: bool) -> None:
        if refresh and row[6] is not None:
            self.refresh.append(row[0])


def _item(row: tuple) -> Item:
    return Item(
        namespace=text_to_ns(row[1]),
        key=row[2],
        value=decode_value(row[3]),
        created_at=row[4],
        updated_at=row[5],
    )


def _search_item(row: tuple, score: float | None, via: Via | None = None) -> SearchItem:
    item = SearchItem(
        namespace=text_to_ns(row[1]),
        key=row[2],
        value=decode_value(row[3]),
        created_at=row[4],
        updated_at=row[5],
        score=score,
    )
    return item if via is None else LinkedSearchItem(item, via)


def get_items(scope: ReadScope, ops: Sequence[GetOp]) -> list[Item | None]:
    """Results for `ops`, in order (`None` where the item does not exist)."""
    keys_by_ns: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for op in ops:
        keys_by_ns[op.namespace].append(op.key)
    alive, alive_params = scope.alive()
    rows: dict[tuple[tuple[str, ...], str], tuple] = {}
    for namespace, keys in keys_by_ns.items():
        for chunk in chunked(sorted(set(keys))):
            for row in scope.conn.execute(
                f"SELECT {_ITEM_COLUMNS} FROM items i WHERE i.prefix = ? AND i.key IN "
                f"({','.join('?' * len(chunk))}) AND {alive}",
                (ns_to_text(namespace), *chunk, *alive_params),
            ):
                rows[(namespace, row[2])] = row
    results: list[Item | None] = []
    for op in ops:
        row = rows.get((op.namespace, op.key))
        if row is not None:
            scope.note(row, op.refresh_ttl)
        results.append(_item(row) if row is not None else None)
    return results


def _where(scope: ReadScope, op: SearchOp) -> tuple[str, list[object]]:
    ns_sql, ns_params = prefix_condition(op.namespace_prefix, "i.prefix")
    filter_sql, filter_params = compile_filter(op.filter, "i.value")
    alive_sql, alive_params = scope.alive()
    return f"{ns_sql} AND {filter_sql} AND {alive_sql}", [*ns_params, *filter_params, *alive_params]


def search_by_filter(scope: ReadScope, op: SearchOp, *, explain: bool = False) -> list[SearchItem]:
    """Filter-only search: matching items, most recently updated first (with `explain`,
    as `ExplainedSearchItem`s with nothing to explain)."""
    where, params = _where(scope, op)
    rows = scope.conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM items i WHERE {where} "
        "ORDER BY i.updated_at DESC, i.id DESC LIMIT ? OFFSET ?",
        (*params, op.limit, op.offset),
    ).fetchall()
    for row in rows:
        scope.note(row, op.refresh_ttl)
    items = [_search_item(row, None) for row in rows]
    return [ExplainedSearchItem(item, {}) for item in items] if explain else items


def groups_for_prefix(conn: sqlite3.Connection, prefix: tuple[str, ...], depth: int) -> list[str]:
    """The FAISS groups that can hold vectors under `prefix`."""
    if len(prefix) >= depth:
        return [ns_to_text(prefix[:depth])]
    sql, params = prefix_condition(prefix, "grp")
    return [row[0] for row in conn.execute(f"SELECT DISTINCT grp FROM vectors WHERE {sql}", params)]


def search_by_vector(
    scope: ReadScope,
    op: SearchOp,
    query: np.ndarray,
    manager: IndexManager,
    group_depth: int,
    *,
    expansion: LinkExpansion | None = None,
    explain: bool = False,
) -> list[SearchItem]:
    """Semantic search: cosine similarity, max-pooled over an item's vectors (then, with
    `expansion`, the items the best results link to; see `LinkExpansion`). With `explain`,
    results carry their parts (`ranking.explain`).

    Items that match but have no vectors (stored with `index=False`) follow the scored ones
    without a score, as in LangGraph's `InMemoryStore`.
    """
    wanted = op.offset + op.limit
    if expansion is not None:
        wanted = max(wanted, expansion.seeds)
    candidates = _VectorCandidates.find(scope, op, query, manager, group_depth, wanted=wanted)
    parts = {row[0]: {"cosine": score} for row, score in candidates.ranked} if explain else None
    return _page(scope, op, candidates, candidates.ranked, expansion, parts=parts)


def search_hybrid(
    scope: ReadScope,
    op: SearchOp,
    query: np.ndarray,
    manager: IndexManager,
    group_depth: int,
    *,
    settings: HybridSearch,
    expansion: LinkExpansion | None = None,
    explain: bool = False,
    keywords: KeywordCache | None = None,
) -> list[SearchItem]:
    """Hybrid search: the store's primitives (`_SqliteSearchScope`) ranked by
    `ranking.rank` — cosine fused with the searched tenant's own BM25, and whatever else
    `settings` asks for. Unscored items follow as in `search_by_vector`, and `expansion`
    follows links from the best results as there. With `explain`, results carry the parts
    of their scores (`ranking.explain`). With `keywords`, a search within one group reads
    its keyword index from that in-process copy instead of the tables (same results).
    """
    assert op.query is not None
    wanted = op.offset + op.limit
    seeds = expansion.seeds if expansion else 0
    pool = max(settings.candidates, 2 * wanted, seeds)
    paths = [p for p in (settings.time_field, settings.group_field) if p]
    groups = groups_for_prefix(scope.conn, op.namespace_prefix, group_depth)
    fields = fulltext.recorded_fields(scope.conn)
    cached = None
    if keywords is not None and fields is not None and len(groups) == 1:
        cached = keywords.source(scope.conn, groups[0], paths)
    whole_group = len(op.namespace_prefix) == group_depth
    candidates = _VectorCandidates.find(
        scope,
        op,
        query,
        manager,
        group_depth,
        wanted=pool,
        light=True,
        spare=1,
        cached=cached if whole_group else None,
        groups=groups,
    )
    search = _SqliteSearchScope(
        scope,
        candidates,
        query,
        groups,
        fields,
        cached=cached,
        manager=manager,
        paths=paths,
        plain=not op.filter and whole_group,
    )
    vector = [(row[0], score) for row, score in candidates.ranked]
    ranked = ranking.rank(settings, search, op.query, pool=pool, vector=vector)
    head = ranked[: max(wanted, seeds)]
    rows = search.rows([r.item_id for r in head])
    scored = [(rows[r.item_id], r.score) for r in head if r.item_id in rows]
    parts = {r.item_id: dict(r.parts) for r in head} if explain else None
    return _page(scope, op, candidates, scored, expansion, total=len(ranked), parts=parts)


class _SqliteSearchScope:
    """`ranking.SearchScope` on SQLite: one search's namespace, filter and TTL conditions,
    and the keyword index of the groups it spans."""

    def __init__(
        self,
        scope: ReadScope,
        candidates: _VectorCandidates,
        query: np.ndarray,
        groups: list[str],
        fields: list[str] | None,
        *,
        cached: CachedKeywords | None = None,
        manager: IndexManager | None = None,
        paths: Sequence[str] = (),
        plain: bool = False,
    ) -> None:
        self.scope = scope
        self.paths = list(paths)
        """Value fields ranking may ask for (read ahead with admissibility)."""
        self.candidates = candidates
        self.query = query
        self.groups = groups
        self.fields = fields
        """The keyword index's fields (`None`: the database keeps none)."""
        self.manager = manager
        self._values: dict[str, dict[int, object]] = {}
        self._values_of: set[int] = set()
        self._cached = cached
        """The searched group's in-process copy (`keyword_cache`), when it is warm."""
        self.plain = plain
        """No filter and no narrower prefix than the group: only expiry can exclude an item."""

    def vector_candidates(self, count: int) -> list[tuple[int, float]]:
        return [(row[0], score) for row, score in self.candidates.ranked[:count]]

    def keywords(self) -> tuple[ranking.KeywordSource, list[str]] | None:
        if self.fields is None:
            return None
        if self._cached is not None:
            return self._cached, self.fields
        return fulltext.SqliteKeywords(self.scope.conn, self.groups), self.fields

    def admissible(self, ids: Collection[int]) -> set[int]:
        """The admissible ids among `ids` — read together with the value fields ranking
        will ask for, of these and of the vector candidates (one statement, not two).

        With the group's cached values (`cached_values`), only what the copy cannot answer
        is read: admissibility of the ids that are not vector candidates (those were found
        under the search's conditions) unless the search has no filter, spans the whole
        group and the copy knows the item has no TTL, and values of items it does not hold."""
        vector_ids = {row[0] for row, _ in self.candidates.ranked}
        asked = sorted(set(ids) | vector_ids)
        check = (self.candidates.where, self.candidates.params)
        self._values_of = set(asked)
        held = self._cached.item_values if self._cached is not None else None
        if held is None or not set(self.paths) <= set(held.paths):
            self._values, kept = _value_texts(self.scope, asked, self.paths, check=check)
            return kept & set(ids)
        self._values, missing = held.lookup(asked, self.paths)
        unsure = set(ids) - vector_ids
        settled: set[int] = set()
        if self.plain:  # no filter, the whole group: admissible unless expired
            settled = held.without_ttl(sorted(unsure)) if self.scope.omit_expired else unsure
        unsure -= settled
        read, kept = _value_texts(
            self.scope,
            sorted(unsure | set(missing)),
            self.paths if missing else [],
            check=check,
        )
        for path, found in read.items():
            self._values[path].update(found)
        return (kept & unsure) | settled | (set(ids) & vector_ids)

    def admissible_ids(self) -> set[int]:
        return {
            row[0]
            for row in self.scope.conn.execute(
                f"SELECT i.id FROM items i WHERE {self.candidates.where}", self.candidates.params
            )
        }

    def cosines(self, ids: Collection[int]) -> dict[int, float]:
        held = self._held_vectors(ids)
        if held is not None:
            return _max_pooled(*held, self.query)
        rows: list[tuple[int, bytes]] = []
        width = len(self.query) * 4  # float32
        for chunk in chunked(sorted(ids)):
            marks = ",".join("?" * len(chunk))
            rows.extend(
                row
                for row in self.scope.conn.execute(
                    f"SELECT item_id, blob FROM vectors WHERE item_id IN ({marks})",
                    tuple(chunk),
                )
                if len(row[1]) == width
            )
        if not rows:
            return {}
        return _max_pooled(*vectors_from_rows(rows, len(self.query)), self.query)

    def _held_vectors(self, ids: Collection[int]) -> tuple[np.ndarray, np.ndarray] | None:
        """`(owners, vectors)` of `ids` from the warm copy's vector map and the FAISS group,
        rows in the order SQLite would read them; `None` when either cannot tell."""
        if self._cached is None or self.manager is None:
            return None
        found = self._cached.vector_owners.vectors_of(np.asarray(sorted(ids), dtype=np.int64))
        if found is None:
            return None
        vectors = self.manager.stored_vectors(self.groups[0], found[1])
        return None if vectors is None else (found[0], vectors)

    def values(self, ids: Collection[int], paths: Sequence[str]) -> dict[str, dict[int, object]]:
        if set(paths) <= set(self._values) and self._values_of.issuperset(ids):
            return {path: self._values[path] for path in paths}
        return _value_texts(self.scope, sorted(ids), paths)[0]

    def rows(self, ids: Sequence[int]) -> dict[int, tuple]:
        """Full item rows of `ids`."""
        found: dict[int, tuple] = {}
        for chunk in chunked(list(ids)):
            for row in self.scope.conn.execute(
                f"SELECT {_ITEM_COLUMNS} FROM items i WHERE i.id IN ({','.join('?' * len(chunk))})",
                tuple(chunk),
            ):
                found[row[0]] = row
        return found


def _max_pooled(owners: np.ndarray, vectors: np.ndarray, query: np.ndarray) -> dict[int, float]:
    """`{item id: its best cosine}` of vectors (rows) owned by `owners`."""
    found: dict[int, float] = {}
    for item_id, score in zip(owners.tolist(), (vectors @ query).tolist(), strict=True):
        found[item_id] = max(found.get(item_id, score), score)
    return found


def _value_texts(
    scope: ReadScope,
    item_ids: list[int],
    paths: Sequence[str],
    *,
    check: tuple[str, Sequence[object]] | None = None,
) -> tuple[dict[str, dict[int, object]], set[int]]:
    """`{path: {item_id: scalar at the dotted value path}}`, one query for every path
    (JSON objects and arrays are left out), and, in the same query, the ids meeting
    `check` (an SQL condition on `items i` and its parameters; all ids without one)."""
    found: dict[str, dict[int, object]] = {path: {} for path in paths}
    if not item_ids or (not paths and check is None):
        return found, set(item_ids)
    columns, params = value_sql(paths)
    condition, condition_params = check or ("1", [])
    meeting: set[int] = set()
    for chunk in chunked(item_ids):
        for item_id, ok, *values in scope.conn.execute(
            f"SELECT i.id, {condition}{columns} FROM items i "
            f"WHERE i.id IN ({','.join('?' * len(chunk))})",
            (*condition_params, *params, *chunk),
        ):
            if ok:
                meeting.add(item_id)
            for path, value in zip(paths, scalars(values, len(paths)), strict=True):
                if value is not None:
                    found[path][item_id] = value
    return found, meeting


@dataclass(slots=True)
class _VectorCandidates:
    """The best items by cosine for one search, and the SQL conditions the search applies."""

    ranked: list[tuple[tuple, float]]
    exhausted: bool
    """Every item with vectors under the conditions is in `ranked`."""
    where: str
    params: list[object]

    @classmethod
    def find(
        cls,
        scope: ReadScope,
        op: SearchOp,
        query: np.ndarray,
        manager: IndexManager,
        group_depth: int,
        *,
        wanted: int,
        light: bool = False,
        spare: int = 2,
        cached: CachedKeywords | None = None,
        groups: list[str] | None = None,
    ) -> _VectorCandidates:
        """With `light`, `ranked` holds `(item_id,)` instead of full item rows. FAISS is
        asked for `spare` times `wanted` hits first (more when filters drop too many).
        With `cached` (the searched group's warm copy, the prefix naming the whole group),
        hits are mapped to items in memory (`_owned`), not joined in SQL. `groups`: the
        groups the prefix spans, when the caller has read them already."""
        if groups is None:
            groups = groups_for_prefix(scope.conn, op.namespace_prefix, group_depth)
        manager.sync(scope.conn, groups)
        where, params = _where(scope, op)
        allowed = None
        if op.filter or len(op.namespace_prefix) > group_depth:
            allowed = _allowed_vector_ids(scope.conn, where, params, groups)
        k = max(spare * wanted, 16)
        while True:
            hits = manager.search(groups, query, k, allowed)
            if cached is not None and light:
                ranked = _owned(scope, hits, cached)
            else:
                ranked = _hydrate(scope, hits, op.namespace_prefix, light=light)
            exhausted = len(hits) < k
            if len(ranked) >= wanted or exhausted:
                return cls(ranked, exhausted, where, params)
            k *= 4


def _page(
    scope: ReadScope,
    op: SearchOp,
    candidates: _VectorCandidates,
    ranked: list[tuple[tuple, float]],
    expansion: LinkExpansion | None = None,
    *,
    total: int | None = None,
    parts: dict[int, dict[str, Any]] | None = None,
) -> list[SearchItem]:
    """The requested page of `ranked` (expanded through links when asked), followed by
    unscored items once scored ones run out. `ranked` may be the head of a longer
    ranking of `total` items. With `parts` (explain), every result is an
    `ExplainedSearchItem`: its parts, or for a linked result the score it was reached
    with (`links`) and from where (`via`)."""
    via: dict[int, Via] = {}
    extra = 0
    if expansion is not None:
        before = len(ranked)
        ranked, via = link_sql.expand(
            scope.conn,
            ranked,
            expansion,
            where=candidates.where,
            params=candidates.params,
            item_columns=_ITEM_COLUMNS,
        )
        extra = len(ranked) - before
    page = ranked[op.offset : op.offset + op.limit]
    results = [_search_item(row, score, via.get(row[0])) for row, score in page]
    if parts is not None:
        results = [
            _explained(item, row[0], parts, via)
            for item, (row, _) in zip(results, page, strict=True)
        ]
    for row, _ in page:
        scope.note(row, op.refresh_ttl)
    if len(results) < op.limit and candidates.exhausted:
        skip = max(0, op.offset - (len(ranked) if total is None else total + extra))
        for row in scope.conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items i WHERE {candidates.where} AND NOT EXISTS "
            "(SELECT 1 FROM vectors v WHERE v.item_id = i.id) "
            "ORDER BY i.updated_at DESC, i.id DESC LIMIT ? OFFSET ?",
            (*candidates.params, op.limit - len(results), skip),
        ):
            scope.note(row, op.refresh_ttl)
            unscored = _search_item(row, None)
            results.append(unscored if parts is None else ExplainedSearchItem(unscored, {}))
    return results


def _explained(
    item: SearchItem, item_id: int, parts: dict[int, dict[str, Any]], via: dict[int, Via]
) -> SearchItem:
    if item_id in via:
        return ExplainedSearchItem(item, {"links": item.score, "via": via[item_id]["key"]})
    return ExplainedSearchItem(item, parts.get(item_id, {}))


def _allowed_vector_ids(
    conn: sqlite3.Connection, where: str, params: list[object], groups: list[str]
) -> np.ndarray:
    ids: list[int] = []
    for chunk in chunked(groups):
        ids.extend(
            row[0]
            for row in conn.execute(
                f"SELECT v.id FROM vectors v JOIN items i ON i.id = v.item_id "
                f"WHERE v.grp IN ({','.join('?' * len(chunk))}) AND {where}",
                (*chunk, *params),
            )
        )
    return np.asarray(ids, dtype=np.int64)


def _hydrate(
    scope: ReadScope, hits: list[tuple[int, float]], prefix: tuple[str, ...], *, light: bool = False
) -> list[tuple[tuple, float]]:
    """Item rows for vector hits, best score per item, in score order (`(item_id,)` only
    with `light`).

    Hits whose item vanished, expired, or lies outside `prefix` in this snapshot are dropped
    (the FAISS cache may be ahead of or broader than the snapshot).
    """
    rows: dict[int, tuple] = {}
    alive, alive_params = scope.alive()
    columns = "i.id, i.prefix" if light else _ITEM_COLUMNS
    for chunk in chunked([vid for vid, _ in hits]):
        for row in scope.conn.execute(
            f"SELECT v.id, {columns} FROM vectors v JOIN items i ON i.id = v.item_id "
            f"WHERE v.id IN ({','.join('?' * len(chunk))}) AND {alive}",
            (*chunk, *alive_params),
        ):
            rows[row[0]] = row[1:]
    ranked: list[tuple[tuple, float]] = []
    seen: set[int] = set()
    n = len(prefix)
    for vid, score in hits:
        row = rows.get(vid)
        if row is None or row[0] in seen or text_to_ns(row[1])[:n] != prefix:
            continue
        seen.add(row[0])
        ranked.append(((row[0],) if light else row, float(score)))
    return ranked


def _owned(
    scope: ReadScope, hits: list[tuple[int, float]], cached: CachedKeywords
) -> list[tuple[tuple, float]]:
    """What `_hydrate(..., light=True)` gives for hits in a whole group, from the group's
    warm copy: each hit's item from its vector map, best score per item, in score order.
    Only items that may carry a TTL are checked for expiry in SQL."""
    vector_ids = np.fromiter((vid for vid, _ in hits), dtype=np.int64, count=len(hits))
    owners = cached.vector_owners.owner_of(vector_ids)
    if scope.omit_expired:
        never = cached.item_values.no_ttl(owners)
        unsure = sorted_ids.unique(owners[(owners >= 0) & ~never]).tolist()
        if unsure:
            alive = _value_texts(scope, unsure, [], check=scope.alive())[1]
            never |= np.isin(owners, list(alive))
        owners = np.where(never, owners, -1)
    ranked: list[tuple[tuple, float]] = []
    seen: set[int] = set()
    for (_, score), item in zip(hits, owners.tolist(), strict=True):
        if item < 0 or item in seen:
            continue
        seen.add(item)
        ranked.append(((item,), float(score)))
    return ranked


def _matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    if not path:
        return True
    return all(p in ("*", label) for p, label in zip(path, part, strict=True))


def list_namespaces(scope: ReadScope, op: ListNamespacesOp) -> list[tuple[str, ...]]:
    """Distinct namespaces matching `op`, truncated to `max_depth`, sorted, paginated."""
    alive, alive_params = scope.alive()
    where, params = alive, list[object](alive_params)
    for condition in op.match_conditions or ():
        if condition.match_type == "prefix" and "*" not in condition.path:
            sql, extra = prefix_condition(tuple(condition.path), "i.prefix")
            where, params = f"{where} AND {sql}", [*params, *extra]
    namespaces = [
        text_to_ns(row[0])
        for row in scope.conn.execute(
            f"SELECT DISTINCT i.prefix FROM items i WHERE {where}", params
        )
    ]
    for condition in op.match_conditions or ():
        if condition.match_type not in ("prefix", "suffix"):
            raise ValueError(f"Unsupported match type: {condition.match_type!r}")
        namespaces = [ns for ns in namespaces if _matches(condition, ns)]
    if op.max_depth is not None:
        namespaces = list({ns[: op.max_depth] for ns in namespaces})
    namespaces.sort()
    return namespaces[op.offset : op.offset + op.limit]
