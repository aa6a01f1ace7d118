"""`InMemoryKeywords`: a `KeywordSource` over documents held in memory.

The reference implementation of the keyword primitives: the evaluation's studies score
thousands of parameter settings over cached documents with it, and tests check the SQLite
index against it. Documents are analysed exactly as the store analyses them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from hippograph.store import analysis
from hippograph.store.ranking.bm25 import SLOTS, CollectionStats, Postings, weighted


class InMemoryKeywords:
    """Postings of `{id: slot texts}` built once; implements `ranking.bm25.KeywordSource`."""

    def __init__(self, documents: Mapping[int, Sequence[str]]) -> None:
        rows: dict[str, list[list[int]]] = {}
        totals = np.zeros(SLOTS)
        indexed = 0
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
            totals += lengths
            indexed += 1
            for term, tf in counts.items():
                rows.setdefault(term, []).append([doc_id, *tf, *lengths])
        self._postings: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for term, postings in rows.items():
            array = np.asarray(postings, dtype=np.float64)
            self._postings[term] = (
                array[:, 0].astype(np.int64),
                array[:, 1 : 1 + SLOTS],
                array[:, 1 + SLOTS :],
            )
        self._documents = indexed
        self._totals = tuple(float(v) for v in totals)

    def collection(self) -> CollectionStats:
        """Documents indexed and their total length per slot."""
        return CollectionStats(self._documents, self._totals)

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """`{term: documents holding it}`."""
        return {t: len(self._postings[t][0]) for t in terms if t in self._postings}

    def postings(self, term: str, weights: Sequence[float]) -> Postings:
        """Every posting of `term`."""
        found = self._postings.get(term)
        if found is None:
            return Postings.empty()
        ids, tf, lengths = found
        return Postings(ids, *weighted(tf, lengths, weights))

    def postings_for(
        self, terms: Sequence[str], ids: Collection[int], weights: Sequence[float]
    ) -> dict[str, Postings]:
        """The postings of `terms` restricted to the documents `ids`."""
        wanted = np.fromiter(ids, np.int64, len(ids))
        found = {}
        for term in terms:
            postings = self._postings.get(term)
            if postings is None:
                continue
            mask = np.isin(postings[0], wanted)
            if mask.any():
                tf, lengths = weighted(postings[1][mask], postings[2][mask], weights)
                found[term] = Postings(postings[0][mask], tf, lengths)
        return found
