"""BM25 over one tenant's postings: the formula, and a top-k search that reads little.

Core pieces:
    - `KeywordSource`: what a backend exposes for one search scope (a tenant's namespace
      group, or the groups a search spans): the scope's statistics and its postings. SQLite
      implements it in `hippograph.store.fulltext`; every backend stores the same tables.
    - `BM25`: the scoring parameters (`k1`, `b`, a weight per field slot).
    - `top_documents`: the best-scoring documents of the scope for a query's terms.
    - `score_documents`: the BM25 of given documents (e.g. the vector search's candidates).

Scores are Okapi BM25 with field weights folded into term frequency and length (a document's
weighted length against the scope's weighted mean, as FTS5 did), and the probabilistic IDF
`ln(1 + (N - df + 0.5) / (df + 0.5))`, which is never negative. Every statistic — N, df,
mean length — is the scope's own, so one tenant's ranking never moves when another writes.

`top_documents` is exact and reads only what can matter (MaxScore, Turtle & Flood 1995):
terms are read rarest first; once the `count`-th best score beats what every unread term
could still add, documents seen in no read term cannot enter the top, and the remaining
(common, low-IDF) terms are looked up only for the documents that still can. A query mixing
a name found in half the memories with one rare word reads the rare word's postings and a
few hundred point lookups, not half the tenant.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import numpy as np

SLOTS = 4
"""Field slots a document's text is counted in: the keyword index's first three fields get
one each, everything else shares the last."""


class CollectionStats(NamedTuple):
    """Statistics of one search scope: how many documents, and their total length per slot."""

    documents: int
    lengths: tuple[float, ...]


class Postings(NamedTuple):
    """Postings of one term, slot weights applied: parallel arrays, one row per document."""

    ids: np.ndarray
    """Document (item) ids, int64."""
    tf: np.ndarray
    """The term's weighted count in the document: `sum(weight[s] * tf[s])`, float64."""
    lengths: np.ndarray
    """The document's weighted length: `sum(weight[s] * len[s])`, float64."""

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[float]]) -> Postings:
        """From `(id, weighted tf, weighted length)` rows, as the backends select them."""
        if not rows:
            return cls.empty()
        array = np.asarray(rows, dtype=np.float64).reshape(len(rows), 3)
        return cls(array[:, 0].astype(np.int64), array[:, 1], array[:, 2])

    @classmethod
    def empty(cls) -> Postings:
        """No postings."""
        return cls(np.empty(0, np.int64), np.empty(0), np.empty(0))


class KeywordSource(Protocol):
    """A backend's keyword index, seen from one search scope (one tenant's group(s)).

    `weights` are the slot weights of the search (`BM25.weights`): a posting's term count
    and its document's length come back as weighted sums over the slots.
    """

    def collection(self) -> CollectionStats:
        """Documents in the scope and their total length per slot."""
        ...

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """`{term: documents of the scope holding it}` (terms held by none may be left out)."""
        ...

    def postings(self, term: str, weights: Sequence[float]) -> Postings:
        """Every posting of `term` in the scope."""
        ...

    def postings_for(
        self, terms: Sequence[str], ids: Collection[int], weights: Sequence[float]
    ) -> dict[str, Postings]:
        """The postings of `terms` restricted to the documents `ids`."""
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
        self.weights = np.asarray(params.weights, dtype=np.float64)
        documents = max(stats.documents, 1)
        total = float(np.dot(np.asarray(stats.lengths, dtype=np.float64), self.weights))
        self.mean_length = total / documents if total > 0 else 1.0
        unique = list(dict.fromkeys(terms))
        frequencies = source.document_frequencies(unique) if unique else {}
        self.idf = {term: _idf(documents, df) for term, df in frequencies.items() if df > 0}
        self.terms = sorted(self.idf, key=lambda t: (-self.idf[t], t))
        unseen = _idf(documents, 0) * (len(unique) - len(self.idf))
        self.attainable = (sum(self.idf.values()) + unseen) * (params.k1 + 1.0)
        """The BM25 of an item holding every query term (unseen ones at the highest IDF)."""

    def bound(self, term: str) -> float:
        """The most `term` can add to any document's score."""
        return self.idf[term] * (self.params.k1 + 1.0)

    def contributions(self, term: str, postings: Postings) -> np.ndarray:
        """`term`'s share of each posting's document score."""
        k1, b = self.params.k1, self.params.b
        tf, length = postings.tf, postings.lengths
        norm = k1 * (1.0 - b + b * length / self.mean_length)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(tf > 0, tf * (k1 + 1.0) / (tf + norm), 0.0)
        return self.idf[term] * share

    def top(self, count: int, *, allowed: Collection[int] | None = None) -> dict[int, float]:
        """The `count` best documents of the scope (fewer when fewer match), `{id: bm25}`;
        with `allowed`, only those documents compete.

        Exact: the same documents (up to ties) as scoring every posting of every term.
        """
        if count < 1 or not self.terms:
            return {}
        scores = _Scores()
        order = self.terms
        unread = sum(self.bound(t) for t in order)
        read = 0
        for term in order:
            if scores.kth(count) >= unread:
                break  # no document outside `scores` can reach the top any more
            postings = _kept(self.source.postings(term, self.params.weights), allowed)
            scores.add(postings.ids, self.contributions(term, postings))
            unread -= self.bound(term)
            read += 1
        rest = order[read:]
        if rest and len(scores.ids):
            threshold = scores.kth(count)
            open_ids = scores.ids[scores.values + unread >= threshold]
            found = self.source.postings_for(rest, open_ids.tolist(), self.params.weights)
            for term in rest:
                if term in found:
                    scores.add(found[term].ids, self.contributions(term, found[term]))
        return scores.best(count)

    def score(self, ids: Collection[int]) -> dict[int, float]:
        """`{id: bm25}` of the documents `ids` that match any term (others score 0)."""
        if not self.terms or not ids:
            return {}
        scores = _Scores()
        found = self.source.postings_for(self.terms, ids, self.params.weights)
        for term, postings in found.items():
            if term in self.idf:
                scores.add(postings.ids, self.contributions(term, postings))
        return scores.as_dict()


class _Scores:
    """Accumulated scores by document id."""

    def __init__(self) -> None:
        self.ids = np.empty(0, np.int64)
        self.values = np.empty(0, np.float64)

    def add(self, ids: np.ndarray, values: np.ndarray) -> None:
        if not len(ids):
            return
        merged_ids = np.concatenate([self.ids, ids])
        unique, inverse = np.unique(merged_ids, return_inverse=True)
        merged = np.zeros(len(unique), np.float64)
        np.add.at(merged, inverse, np.concatenate([self.values, values]))
        self.ids, self.values = unique, merged

    def kth(self, count: int) -> float:
        """The `count`-th best score (`-inf` while fewer documents are scored)."""
        if len(self.values) < count:
            return -math.inf
        return float(np.partition(self.values, len(self.values) - count)[len(self.values) - count])

    def as_dict(self) -> dict[int, float]:
        keep = self.values > 0
        return dict(zip(self.ids[keep].tolist(), self.values[keep].tolist(), strict=True))

    def best(self, count: int) -> dict[int, float]:
        """The `count` best positive scores, best first (ties by id)."""
        keep = np.flatnonzero(self.values > 0)
        if len(keep) > count:
            cut = np.partition(self.values[keep], len(keep) - count)[len(keep) - count]
            keep = keep[self.values[keep] >= cut]
        order = keep[np.lexsort((self.ids[keep], -self.values[keep]))][:count]
        return dict(zip(self.ids[order].tolist(), self.values[order].tolist(), strict=True))


def _kept(postings: Postings, allowed: Collection[int] | None) -> Postings:
    if allowed is None or not len(postings.ids):
        return postings
    mask = np.isin(postings.ids, np.fromiter(allowed, np.int64, len(allowed)))
    return Postings(postings.ids[mask], postings.tf[mask], postings.lengths[mask])


def weighted(tf: np.ndarray, lengths: np.ndarray, weights: Sequence[float]) -> tuple:
    """Per-slot `(n, SLOTS)` counts and lengths folded with slot `weights` (for sources
    that keep them apart)."""
    w = np.asarray(weights, dtype=np.float64)
    return tf @ w, lengths @ w


def top_documents(
    params: BM25,
    source: KeywordSource,
    terms: Sequence[str],
    count: int,
    *,
    allowed: Collection[int] | None = None,
) -> dict[int, float]:
    """The `count` best documents of the scope for `terms` (see `QueryScorer.top`)."""
    if count < 1 or not terms:
        return {}
    return QueryScorer(params, source, terms).top(count, allowed=allowed)


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
