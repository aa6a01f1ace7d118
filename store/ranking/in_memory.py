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
from hippograph.store.ranking.bm25 import SLOTS, CollectionStats, Postings


class InMemoryKeywords:
    """Postings of `{id: slot texts}` built once; implements `ranking.bm25.KeywordSource`."""

    def __init__(self, documents: Mapping[int, Sequence[str]]) -> None:
        rows: dict[str, list[list[float]]] = {}
        totals = np.zeros(SLOTS)
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
            for term, tf in counts.items():
                rows.setdefault(term, []).append([float(doc_id), *tf, *lengths])
        self._postings = {term: Postings.from_rows(found) for term, found in rows.items()}
        self._documents = len({int(r[0]) for found in rows.values() for r in found})
        self._totals = tuple(float(v) for v in totals)

    def collection(self) -> CollectionStats:
        """Documents indexed and their total length per slot."""
        return CollectionStats(self._documents, self._totals)

    def document_frequencies(self, terms: Sequence[str]) -> dict[str, int]:
        """`{term: documents holding it}`."""
        return {t: len(self._postings[t].ids) for t in terms if t in self._postings}

    def postings(self, term: str) -> Postings:
        """Every posting of `term`."""
        return self._postings.get(term, Postings.empty())

    def postings_for(self, terms: Sequence[str], ids: Collection[int]) -> dict[str, Postings]:
        """The postings of `terms` restricted to the documents `ids`."""
        wanted = np.fromiter(ids, np.int64, len(ids))
        found = {}
        for term in terms:
            postings = self._postings.get(term)
            if postings is None:
                continue
            mask = np.isin(postings.ids, wanted)
            if mask.any():
                found[term] = Postings(
                    postings.ids[mask], postings.tf[mask], postings.lengths[mask]
                )
        return found
