"""Hybrid ranking over any backend: gather candidates through a `SearchScope`, score them.

Core pieces:
    - `SearchScope`: the per-search primitives a backend provides (its namespace, filter and
      TTL conditions already applied): vector candidates, the keyword index with the
      scope's own statistics, exact cosines, admissibility, scalar value fields.
    - `Ranked`: one scored candidate with the parts of its score (for `explain`).
    - `rank`: the candidates of one search, best first.

Every backend calls `rank`; none re-implements a part of it, so a query ranks the same way on
SQLite and PostgreSQL, and every ranking choice has this one home.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hippograph.store import analysis
from hippograph.store.ranking.bm25 import BM25, KeywordSource, score_documents, top_documents
from hippograph.store.ranking.dates import date_match, query_date
from hippograph.store.ranking.fusion import blend_groups, fuse
from hippograph.store.ranking.settings import HybridSearch


class SearchScope(Protocol):
    """One search's view of a backend: everything it returns obeys the search's namespace
    prefix, filter and TTL, and its statistics are the searched groups' own."""

    def vector_candidates(self, count: int) -> list[tuple[int, float]]:
        """The `count` best items by cosine (max-pooled over an item's vectors), best first."""
        ...

    def keywords(self) -> tuple[KeywordSource, Sequence[str]] | None:
        """The keyword index of the searched groups and the fields its slots hold, or
        `None` when the database keeps no keyword index."""
        ...

    def admissible(self, ids: Collection[int]) -> set[int]:
        """The ids among `ids` that the search may return."""
        ...

    def admissible_ids(self) -> set[int]:
        """Every id the search may return (costs a pass over the searched groups)."""
        ...

    def cosines(self, ids: Collection[int]) -> dict[int, float]:
        """Exact max-pooled cosine of items found by keywords only."""
        ...

    def values(self, ids: Collection[int], path: str) -> dict[int, object]:
        """`{id: scalar at the dotted value path}` (items without one are left out)."""
        ...


@dataclass(slots=True)
class Ranked:
    """One candidate of a search, scored.

    Attributes:
        item_id: The backend's item id.
        score: The score it ranks by.
        parts: What the score is made of (`cosine`, `bm25`, `keyword`, `date`, `thread`).
    """

    item_id: int
    score: float
    parts: dict[str, float] = field(default_factory=dict)


def bm25_params(settings: HybridSearch, fields: Sequence[str]) -> BM25:
    """BM25 for an index laid out as `fields`, weighing the fields `settings` searches."""
    from hippograph.store.ranking.bm25 import slot_weights

    wanted = settings.fields if settings.fields is not None else fields
    return BM25(weights=slot_weights(fields, wanted, settings.field_weights))


def keyword_candidates(
    settings: HybridSearch, scope: SearchScope, terms: Sequence[str], count: int
) -> tuple[dict[int, float], KeywordSource | None, BM25 | None]:
    """The `count` best admissible items by BM25, `{id: bm25}`, with the index and
    parameters used (`None` without a keyword index)."""
    found = scope.keywords()
    if found is None or not terms:
        return {}, None, None
    source, fields = found
    params = bm25_params(settings, fields)
    top = top_documents(params, source, terms, 2 * count)
    kept = scope.admissible(top)
    if len(kept) < min(count, len(top)) and len(top) == 2 * count:
        # Many of the best are filtered out: rank only what the search may return.
        top = top_documents(params, source, terms, count, allowed=scope.admissible_ids())
        kept = set(top)
    ordered = sorted(kept, key=lambda i: (-top[i], i))[:count]
    return {i: top[i] for i in ordered}, source, params


def rank(
    settings: HybridSearch,
    scope: SearchScope,
    query: str,
    *,
    pool: int,
    vector: Sequence[tuple[int, float]] | None = None,
) -> list[Ranked]:
    """Score the best `pool` candidates by cosine and by BM25 and return them best first.

    Args:
        settings: How to rank.
        scope: The backend's primitives for this search.
        query: The query text.
        pool: Candidates drawn from each of the two rankings.
        vector: The vector candidates, if the caller already has them.
    """
    vector = list(vector) if vector is not None else scope.vector_candidates(pool)
    cosine = dict(vector)
    terms = analysis.query_terms(query)
    keyword, source, params = keyword_candidates(settings, scope, terms, pool)
    missing = [i for i in cosine if i not in keyword]
    if source is not None and params is not None and missing:
        keyword.update(score_documents(params, source, terms, missing))
    only_keyword = [i for i in keyword if i not in cosine]
    if only_keyword:
        cosine.update(dict.fromkeys(only_keyword, 0.0) | scope.cosines(only_keyword))
    ids = list(cosine)
    best = max(keyword.values(), default=0.0)
    wanted_date = query_date(query) if settings.time_field else None
    times = scope.values(ids, settings.time_field) if wanted_date and settings.time_field else {}
    ranked = []
    for item_id in ids:
        bm25 = keyword.get(item_id, 0.0)
        parts = {"cosine": cosine[item_id], "bm25": bm25, "keyword": bm25 / best if best else 0.0}
        date_score = None
        if wanted_date is not None:
            date_score = date_match(times.get(item_id), wanted_date, settings.time_scale_days)
            parts["date"] = date_score
        score = fuse(settings, cosine[item_id], bm25, best, date_score)
        ranked.append(Ranked(item_id, score, parts))
    if settings.group_field is not None:
        group_of = scope.values(ids, settings.group_field)
        lifted = blend_groups(settings, [r.score for r in ranked], [group_of.get(i) for i in ids])
        for candidate, score in zip(ranked, lifted, strict=True):
            candidate.parts["thread"] = score - candidate.score
            candidate.score = score
    ranked.sort(key=lambda r: (-r.score, r.item_id))
    return ranked
