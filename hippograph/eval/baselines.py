"""Raw-turn baselines, run on the same data in the same process as our store.

Core pieces:
    - `BM25Turns`: Okapi BM25 (`rank_bm25`) over the raw turns, lower-cased words minus
      English stop words — the "keyword search over the transcript" baseline.
    - `DenseTurns`: LangGraph's `InMemoryStore` with the same embedder, one item per turn —
      the "vector store over the transcript" baseline a LangGraph user starts with.
    - `reciprocal_rank_fusion`: RRF of the two (k = 60), the standard hybrid baseline.
    - `RawTurnBaselines`: all three for one conversation.

Each turn is indexed as `"<speaker>: <text>"`, exactly the content of our verbatim memories,
so the comparison isolates what our store and ranking add.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.memory import InMemoryStore
from rank_bm25 import BM25Okapi

from hippograph.eval.dataset import Turn
from hippograph.eval.metrics import Hit
from hippograph.store.analysis import STOP_WORDS

BASELINES: tuple[str, ...] = ("bm25", "dense", "rrf")
"""Names of the baselines, as they appear in reports."""

RRF_K = 60
"""The usual reciprocal-rank-fusion constant (Cormack et al., 2009)."""

_WORD = re.compile(r"\w+(?:'\w+)*")
_NAMESPACE = ("turns",)


def tokenize(text: str) -> list[str]:
    """Lower-cased words of `text` without stop words."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def _hit(turn: Turn, score: float) -> Hit:
    return Hit(key=turn.dia_id, score=score, message_ids=(turn.dia_id,), content=turn.content)


class BM25Turns:
    """BM25 over raw turns."""

    def __init__(self, turns: Sequence[Turn]) -> None:
        self._turns = list(turns)
        self._bm25 = BM25Okapi([tokenize(t.content) or [""] for t in self._turns])

    def search(self, query: str, limit: int) -> list[Hit]:
        """The `limit` best turns for `query`, best first."""
        words = tokenize(query)
        if not words:
            return []
        scores = self._bm25.get_scores(words)
        order = np.argsort(-scores, kind="stable")[:limit]
        return [_hit(self._turns[i], float(scores[i])) for i in order]


class DenseTurns:
    """Dense search over raw turns in LangGraph's `InMemoryStore`."""

    def __init__(self, turns: Sequence[Turn], embeddings: Embeddings, dims: int) -> None:
        self._turns = {t.dia_id: t for t in turns}
        self._store = InMemoryStore(index={"embed": embeddings, "dims": dims, "fields": ["text"]})
        # One put per turn: InMemoryStore.batch fails when one batch repeats a text.
        for turn in turns:
            self._store.put(_NAMESPACE, turn.dia_id, {"text": turn.content})

    def search(self, query: str, limit: int) -> list[Hit]:
        """The `limit` most similar turns for `query`, best first."""
        items = self._store.search(_NAMESPACE, query=query, limit=limit)
        return [_hit(self._turns[item.key], float(item.score or 0.0)) for item in items]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[Hit]], limit: int, k: int = RRF_K
) -> list[Hit]:
    """Fuse rankings by RRF: each hit scores the sum of `1 / (k + rank)` over the rankings."""
    scores: dict[str, float] = {}
    hits: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.key] = scores.get(hit.key, 0.0) + 1.0 / (k + rank)
            hits.setdefault(hit.key, hit)
    order = sorted(scores, key=lambda key: -scores[key])[:limit]
    return [
        Hit(hits[key].key, scores[key], hits[key].message_ids, hits[key].content) for key in order
    ]


class RawTurnBaselines:
    """BM25, dense and RRF baselines over one conversation's raw turns."""

    def __init__(self, turns: Sequence[Turn], embeddings: Embeddings, dims: int) -> None:
        self.bm25 = BM25Turns(turns)
        self.dense = DenseTurns(turns, embeddings, dims)

    def search(self, query: str, limit: int) -> dict[str, list[Hit]]:
        """`{baseline name: hits}` for `query`; RRF fuses 100-deep candidate lists."""
        depth = max(limit, 100)
        keyword = self.bm25.search(query, depth)
        dense = self.dense.search(query, depth)
        return {
            "bm25": keyword[:limit],
            "dense": dense[:limit],
            "rrf": reciprocal_rank_fusion([keyword, dense], limit),
        }
