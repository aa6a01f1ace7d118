"""`InMemoryKeywords`: a `KeywordSource` over documents held in memory.

The reference implementation of the keyword primitives: the evaluation's studies score
thousands of parameter settings over cached documents with it, and tests check the SQLite
index against it. Documents are analysed exactly as the store analyses them, and champion
lists follow the same `impact` order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from hippograph.store import analysis
from hippograph.store.ranking.bm25 import SLOTS, CollectionStats, DocumentTerms, impact


class InMemoryKeywords:
    """The keyword index of `{id: slot texts}`, built once; a `ranking.bm25.KeywordSource`."""

    def __init__(self, documents: Mapping[int, Sequence[str]]) -> None:
        self._docs: dict[int, tuple[tuple[int, ...], dict[str, tuple[int, ...]]]] = {}
        postings: dict[str, list[tuple[float, int]]] = {}
        totals = [0] * SLOTS
        for doc_id, texts in documents.items():
            counts: dict[str, list[int]] = {}
            lengths = [0] * SLOTS
            for slot, text in enumerate(list(texts)[:SLOTS]):
                found = analysis.terms(text)
                lengths[slot] = len(found)
                for term, n in Counter(found).items():
                    counts.setdefault(term, [0] * SLOTS)[slot] += n
            if not counts:
                continue
            self._docs[doc_id] = (tuple(lengths), {t: tuple(tf) for t, tf in counts.items()})
            totals = [a + b for a, b in zip(totals, lengths, strict=True)]
            for term, tf in counts.items():
                postings.setdefault(term, []).append((impact(tf, lengths), doc_id))
        self._postings = {
            term: [doc for _, doc in sorted(found, reverse=True)]
            for term, found in postings.items()
        }
        self._totals = tuple(float(v) for v in totals)

    def collection(self) -> CollectionStats:
        """Documents indexed and their total length per slot."""
        return CollectionStats(len(self._docs), self._totals)

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """`{term: documents holding it}`."""
        return {t: len(self._postings[t]) for t in terms if t in self._postings}

    def champions(self, terms: Sequence[str], limit: int | None) -> dict[str, list[int]]:
        """Per term, its `limit` documents of highest impact (all with `None`)."""
        return {t: self._postings[t][:limit] for t in terms if t in self._postings}

    def documents(self, ids: Collection[int], terms: Sequence[str]) -> DocumentTerms:
        """The forward index of `ids`, limited to `terms`."""
        found = [i for i in ids if i in self._docs]
        if not found:
            return DocumentTerms.empty(len(terms))
        lengths = np.asarray([self._docs[i][0] for i in found], dtype=np.float64)
        tf = np.zeros((len(found), len(terms), SLOTS))
        for row, doc_id in enumerate(found):
            counts = self._docs[doc_id][1]
            for column, term in enumerate(terms):
                if term in counts:
                    tf[row, column] = counts[term]
        return DocumentTerms(np.asarray(found, dtype=np.int64), lengths, tf)
