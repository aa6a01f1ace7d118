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

from collections.abc import Collection, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Protocol, overload

import numpy as np

from hippograph.store import analysis, sorted_ids
from hippograph.store.ranking.bm25 import BM25, KeywordSource, QueryScorer, slot_weights
from hippograph.store.ranking.dates import date_match, query_date
from hippograph.store.ranking.fusion import Signals, fuse
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

    def values(self, ids: Collection[int], paths: Sequence[str]) -> dict[str, dict[int, object]]:
        """`{path: {id: scalar at that dotted value path}}` (items without one left out)."""
        ...


@dataclass(slots=True)
class Ranked:
    """One candidate of a search, scored.

    Attributes:
        item_id: The backend's item id.
        score: The score it ranks by.
        parts: What the score is made of (`cosine`, `bm25`, `keyword`, and `date`,
            `thread` when they apply); see `fusion`.
    """

    item_id: int
    score: float
    parts: Mapping[str, float] = field(default_factory=dict)


class _Parts(Mapping[str, float]):
    """One candidate's parts, read from the search's arrays only when asked (explain)."""

    def __init__(self, arrays: dict[str, np.ndarray], index: int) -> None:
        self._arrays = arrays
        self._index = index

    def __getitem__(self, name: str) -> float:
        return float(self._arrays[name][self._index])

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)


class Ranking(Sequence[Ranked]):
    """A search's candidates best first, each `Ranked` built only when read: a search
    reads the head of a ranking and its length, not every candidate."""

    def __init__(
        self, ids: Sequence[int], scores: np.ndarray, parts: dict[str, np.ndarray]
    ) -> None:
        self._ids = np.asarray(ids, dtype=np.int64)
        self._scores = scores
        self._parts = parts
        self._order = np.lexsort((self._ids, -scores)) if len(scores) else self._ids

    def __len__(self) -> int:
        return len(self._order)

    def _at(self, n: int) -> Ranked:
        return Ranked(int(self._ids[n]), float(self._scores[n]), _Parts(self._parts, n))

    @overload
    def __getitem__(self, index: int) -> Ranked: ...

    @overload
    def __getitem__(self, index: slice) -> list[Ranked]: ...

    def __getitem__(self, index: int | slice) -> Ranked | list[Ranked]:
        if isinstance(index, slice):
            return [self._at(n) for n in self._order[index].tolist()]
        return self._at(int(self._order[index]))


def bm25_params(settings: HybridSearch, fields: Sequence[str]) -> BM25:
    """BM25 for an index laid out as `fields`, weighing the fields `settings` searches."""
    wanted = settings.fields if settings.fields is not None else fields
    weights = slot_weights(fields, wanted, settings.field_weights)
    return BM25(k1=settings.k1, b=settings.b, weights=weights)


def keyword_candidates(
    scorer: QueryScorer, scope: SearchScope, count: int, also: Collection[int] = ()
) -> dict[int, float]:
    """The `count` best admissible items by BM25 (from the terms' champion lists), plus the
    BM25 of the items `also` (the vector candidates), `{id: bm25}` — scored in one read."""
    champions = scorer.champion_ids(count)
    wanted = sorted_ids.union(champions, np.fromiter(also, dtype=np.int64, count=len(also)))
    ids, found = scorer.score_arrays(wanted)
    scores = dict(zip(ids.tolist(), found.tolist(), strict=True))
    best = sorted_ids.contains(champions, ids)
    order = np.lexsort((ids[best], -found[best]))[:count]
    top = ids[best][order].tolist()
    kept = scope.admissible(top)
    if len(kept) < len(top):
        # Some of the best are filtered out: rank only what the search may return.
        filtered = scorer.top(count, allowed=scope.admissible_ids())
        return {i: scores[i] for i in also if i in scores} | filtered
    return {i: scores[i] for i in also if i in scores} | {i: scores[i] for i in top}


def rank(
    settings: HybridSearch,
    scope: SearchScope,
    query: str,
    *,
    pool: int,
    vector: Sequence[tuple[int, float]] | None = None,
) -> Ranking:
    """Score the best `pool` candidates by cosine and by BM25 and return them best first.

    Args:
        settings: How to rank.
        scope: The backend's primitives for this search.
        query: The query text.
        pool: Candidates drawn from each of the two rankings.
        vector: The vector candidates, if the caller already has them.
    """
    vector = list(vector)[:pool] if vector is not None else scope.vector_candidates(pool)
    cosine = dict(vector)
    keyword: dict[int, float] = {}
    most = 0.0
    terms = analysis.query_terms(query)
    index = scope.keywords() if terms else None
    if index is not None:
        source, fields = index
        scorer = QueryScorer(bm25_params(settings, fields), source, terms)
        most = scorer.attainable
        keyword = keyword_candidates(scorer, scope, pool, also=list(cosine))
    only_keyword = [i for i in keyword if i not in cosine]
    if only_keyword:
        cosine.update(dict.fromkeys(only_keyword, 0.0) | scope.cosines(only_keyword))
    ids = list(cosine)
    if not ids:
        return Ranking([], np.empty(0), {})
    signals = Signals(
        cosine=np.fromiter(cosine.values(), dtype=np.float64, count=len(ids)),
        bm25=np.fromiter(map(keyword.get, ids, repeat(0.0)), dtype=np.float64, count=len(ids)),
        attainable=most,
    )
    wanted_date = query_date(query) if settings.time_field else None
    paths = [p for p in (settings.time_field if wanted_date else None, settings.group_field) if p]
    found = scope.values(ids, paths) if paths else {}
    if wanted_date is not None and settings.time_field:
        times = found[settings.time_field]
        scale = settings.time_scale_days
        signals.date = np.asarray([date_match(times.get(i), wanted_date, scale) for i in ids])
    if settings.group_field is not None:
        group_of = found[settings.group_field]
        signals.groups = [
            v if v is None or type(v) is str else _hashable(v) for v in map(group_of.get, ids)
        ]
    scores, parts = fuse(settings, signals)
    return Ranking(ids, scores, parts)


def _hashable(value: object) -> Hashable | None:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
