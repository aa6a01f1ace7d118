"""BM25 over one tenant's keyword index: the formula, and a top-k search whose cost is bounded.

Core pieces:
    - `KeywordSource`: what a backend exposes for one search scope (a tenant's namespace
      group, or the groups a search spans): the scope's statistics, each term's champion
      list, and each document's term counts (a forward index). SQLite implements it in
      `hippograph.store.fulltext`; every backend stores the same tables.
    - `BM25`: the scoring parameters (`k1`, `b`, a weight per field slot).
    - `impact`: the order of a term's postings, fixed when a document is written.
    - `QueryScorer`: one query against one scope — IDF, the attainable maximum, exact
      scores of given documents, and the top documents.

Scores are Okapi BM25 with field weights folded into term frequency and length (a document's
weighted length against the scope's weighted mean, as FTS5 did), and the probabilistic IDF
`ln(1 + (N - df + 0.5) / (df + 0.5))`, which is never negative. Every statistic — N, df,
mean length — is the scope's own, so one tenant's ranking never moves when another writes.

The top documents come from champion lists (Manning, Raghavan & Schütze, *Introduction to
Information Retrieval*, §7.1.3): each query term contributes its `per_term` postings of
highest `impact`, and the union is scored exactly from the forward index. A term held by
fewer documents than `per_term` contributes all of them, so the result is exact whenever
every query term is that rare; a term found in half the memories (a speaker's name) adds
only its best few hundred, so a search reads a bounded number of rows at any tenant size.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

from hippograph.store import sorted_ids

SLOTS = 4
"""Field slots a document's text is counted in: the keyword index's first three fields get
one each, everything else shares the last."""

_IMPACT_MEAN_LENGTH = 16.0


def impact(tf: Sequence[int], lengths: Sequence[int]) -> float:
    """Where a posting stands in its term's champion list: BM25's term-frequency part with
    unit slot weights, k1 1.2, b 0.75 and a fixed mean length — independent of any search's
    settings and of the tenant's statistics, so it never changes once written (backends
    store it as given, and delete by it)."""
    count, length = sum(tf), sum(lengths)
    return count / (count + 1.2 * (0.25 + 0.75 * length / _IMPACT_MEAN_LENGTH))


class CollectionStats(NamedTuple):
    """Statistics of one search scope: how many documents, and their total length per slot."""

    documents: int
    lengths: tuple[float, ...]


class DocumentTerms(NamedTuple):
    """The forward index of some documents, limited to a query's terms (parallel arrays)."""

    ids: np.ndarray
    """Document ids, int64 `(n,)`."""
    lengths: np.ndarray
    """Each document's length (terms) per slot, float64 `(n, SLOTS)`."""
    tf: np.ndarray
    """Counts of each query term (in the order asked) per slot, float64 `(n, terms, SLOTS)`."""

    @classmethod
    def empty(cls, terms: int) -> DocumentTerms:
        """No documents."""
        return cls(np.empty(0, np.int64), np.empty((0, SLOTS)), np.empty((0, terms, SLOTS)))


class KeywordSource(Protocol):
    """A backend's keyword index, seen from one search scope (one tenant's group(s))."""

    def collection(self) -> CollectionStats:
        """Documents in the scope and their total length per slot."""
        ...

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """`{term: documents of the scope holding it}` (terms held by none may be left out)."""
        ...

    def champions(self, terms: Sequence[str], limit: int | None) -> dict[str, list[int]]:
        """Per term, the ids of its `limit` postings of highest `impact` (all with `None`)."""
        ...

    def documents(self, ids: Collection[int], terms: Sequence[str]) -> DocumentTerms:
        """The forward index of the documents `ids` (those indexed), limited to `terms`."""
        ...


@dataclass(frozen=True, slots=True)
class BM25:
    """BM25 parameters.

    Attributes:
        k1: Term-frequency saturation (1.2 is the usual default).
        b: Length normalisation, 0 (none) to 1 (full).
        weights: Weight of each field slot (`SLOTS` values); 0 leaves a slot out.
    """

    k1: float = 1.2
    b: float = 0.75
    weights: tuple[float, ...] = (1.0,) * SLOTS

    def __post_init__(self) -> None:
        if self.k1 < 0 or not 0.0 <= self.b <= 1.0:
            raise ValueError(f"BM25 needs k1 >= 0 and b in [0, 1], got {self.k1}, {self.b}")
        if len(self.weights) != SLOTS or any(w < 0 for w in self.weights):
            raise ValueError(f"BM25 needs {SLOTS} non-negative slot weights, got {self.weights}")


def _idf(documents: int, df: int) -> float:
    return math.log(1.0 + (documents - df + 0.5) / (df + 0.5))


class QueryScorer:
    """BM25 of one query against one scope: its terms' IDF (rarest first), what it could
    score at most, and the top-k and point scoring built on them."""

    def __init__(self, params: BM25, source: KeywordSource, terms: Sequence[str]) -> None:
        self.source = source
        stats = source.collection()
        self.params = params
        documents = max(stats.documents, 1)
        total = sum(w * n for w, n in zip(params.weights, stats.lengths, strict=True))
        self.mean_length = total / documents if total > 0 else 1.0
        unique = list(dict.fromkeys(terms))
        frequencies = source.document_frequencies(unique) if unique else {}
        self.idf = {term: _idf(documents, df) for term, df in frequencies.items() if df > 0}
        self.terms = sorted(self.idf, key=lambda t: (-self.idf[t], t))
        """The query's terms the scope holds, rarest first."""
        unseen = _idf(documents, 0) * (len(unique) - len(self.idf))
        self.attainable = (sum(self.idf.values()) + unseen) * (params.k1 + 1.0)
        """The BM25 of an item holding every query term (unseen ones at the highest IDF)."""

    def _scored(self, docs: DocumentTerms) -> dict[int, float]:
        """BM25 of `docs` (their term counts in `self.terms` order), positive scores only."""
        ids, scores = self._scored_arrays(docs)
        return dict(zip(ids.tolist(), scores.tolist(), strict=True))

    def _scored_arrays(self, docs: DocumentTerms) -> tuple[np.ndarray, np.ndarray]:
        """`_scored` as parallel arrays `(ids, scores)`, ids ascending as `docs` has them."""
        if not len(docs.ids):
            return docs.ids, np.empty(0)
        k1, b = self.params.k1, self.params.b
        weights = np.asarray(self.params.weights, dtype=np.float64)
        tf = docs.tf @ weights
        norm = k1 * (1.0 - b + b * (docs.lengths @ weights) / self.mean_length)
        idf = np.asarray([self.idf[t] for t in self.terms])
        if k1 > 0 and 0 <= b < 1:  # every norm > 0: an absent term's share is 0.0 as it is
            share = tf * (k1 + 1.0) / (tf + norm[:, None])
        else:  # a norm may be 0: divide only where a term occurs (0 elsewhere)
            share = np.divide(
                tf * (k1 + 1.0), tf + norm[:, None], out=np.zeros_like(tf), where=tf > 0
            )
        scores = share @ idf
        keep = scores > 0
        return docs.ids[keep], scores[keep]

    def champion_ids(self, per_term: int | None) -> np.ndarray:
        """The union of the query terms' `per_term` champions (`None`: every posting), as an
        ascending int64 array."""
        lists = list(self.source.champions(self.terms, per_term).values())
        if not lists:
            return np.empty(0, np.int64)
        return sorted_ids.unique(np.concatenate([np.asarray(ids, dtype=np.int64) for ids in lists]))

    def score(self, ids: Collection[int]) -> dict[int, float]:
        """`{id: bm25}` of the documents `ids` that match any term (others score 0)."""
        if not self.terms or not ids:
            return {}
        return self._scored(self.source.documents(ids, self.terms))

    def score_arrays(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`score` as parallel arrays `(ids, scores)`, ids ascending (`ids`: unique int64)."""
        if not self.terms or not len(ids):
            return np.empty(0, np.int64), np.empty(0)
        return self._scored_arrays(self.source.documents(ids.tolist(), self.terms))

    def top(
        self,
        count: int,
        *,
        allowed: Collection[int] | None = None,
        per_term: int | None = None,
    ) -> dict[int, float]:
        """The `count` best documents of the scope (fewer when fewer match), `{id: bm25}`,
        best first, from each term's `per_term` champions (default `count`; see the module
        docstring). With `allowed`, only those documents compete, and every
        posting of each term is read."""
        if count < 1 or not self.terms:
            return {}
        limit = None if allowed is not None else (per_term or count)
        found = set(self.champion_ids(limit).tolist())
        if allowed is not None:
            found &= set(allowed)
        scores = self._scored(self.source.documents(found, self.terms))
        best = sorted(scores, key=lambda i: (-scores[i], i))[:count]
        return {i: scores[i] for i in best}


def top_documents(
    params: BM25,
    source: KeywordSource,
    terms: Sequence[str],
    count: int,
    *,
    allowed: Collection[int] | None = None,
    per_term: int | None = None,
) -> dict[int, float]:
    """The `count` best documents of the scope for `terms` (see `QueryScorer.top`)."""
    if count < 1 or not terms:
        return {}
    return QueryScorer(params, source, terms).top(count, allowed=allowed, per_term=per_term)


def attainable(params: BM25, source: KeywordSource, terms: Sequence[str]) -> float:
    """The most BM25 an item of the scope could score for `terms`: every term matched, at
    saturation (terms no item holds count at the highest IDF). 0 without terms."""
    return QueryScorer(params, source, terms).attainable if terms else 0.0


def score_documents(
    params: BM25, source: KeywordSource, terms: Sequence[str], ids: Collection[int]
) -> dict[int, float]:
    """`{id: bm25}` of the documents `ids` that match any of `terms` (others score 0)."""
    if not terms or not ids:
        return {}
    return QueryScorer(params, source, terms).score(ids)


def slot_weights(
    fields: Sequence[str], wanted: Collection[str], weight_of: Mapping[str, float]
) -> tuple[float, ...]:
    """Slot weights for a search wanting the fields `wanted` of an index laid out as
    `fields` (slot i holds `fields[i]`, the last slot everything else): a field not wanted
    weighs 0, a wanted one `weight_of.get(field, 1.0)`."""
    weights = []
    for slot in range(SLOTS - 1):
        field = fields[slot] if slot < len(fields) else None
        used = field is not None and field in wanted
        weights.append(float(weight_of.get(field, 1.0)) if used and field else 0.0)
    rest = [f for f in fields[SLOTS - 1 :] if f in wanted]
    weights.append(max((float(weight_of.get(f, 1.0)) for f in rest), default=1.0))
    return tuple(weights)
