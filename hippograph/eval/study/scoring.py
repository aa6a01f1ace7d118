"""Rank a study conversation's memories exactly as the store would, for any parameters, fast.

Core pieces:
    - `StudyParams`: the tuned constants of memory search (a `HybridSearch` in waiting).
    - `Scorer`: ranks every question of a corpus with the store's own code —
      `ranking.bm25.QueryScorer`, `ranking.fusion.select_pool` and `ranking.fusion.fuse` —
      caching what does not change between parameter settings (cosines, BM25 per BM25
      setting, date matches per scale), so a cross-validation can try thousands of them.
    - `Extension`: an extra signal tried on top of the shipped ranking (neighbourhood,
      session centroid, a learned reranker), scored the same way.

Only `candidates` (the pool size, a cost knob) is fixed; everything else is in `StudyParams`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from hippograph.eval.study.corpus import StudyConversation
from hippograph.store import analysis
from hippograph.store.ranking import HybridSearch, date_match, query_date
from hippograph.store.ranking.bm25 import QueryScorer
from hippograph.store.ranking.fusion import Signals, fuse, select_pool
from hippograph.store.ranking.hybrid import bm25_params

MISSED = 10_000
"""Rank given to a question none of whose evidence is in the pool."""

KEYWORD_FIELDS = ("content", "context")


@dataclass(frozen=True, slots=True)
class StudyParams:
    """Every constant of memory search that the study tunes.

    Attributes:
        alpha: Cosine weight against the keyword signal.
        context_weight: BM25 weight of a memory's `context` (its own text weighs 1).
        k1: BM25 saturation.
        b: BM25 length normalisation.
        time_weight: Weight of the date match (0: off).
        time_scale_days: Days outside the named span at which the date match halves.
        group_weight: Weight of the thread lift (0: off).
        group_top: Best candidates that make a thread's strength.
    """

    alpha: float = 0.5
    context_weight: float = 0.5
    k1: float = 1.2
    b: float = 0.75
    time_weight: float = 0.3
    time_scale_days: float = 3.0
    group_weight: float = 0.5
    group_top: int = 3

    def settings(self, candidates: int) -> HybridSearch:
        """These parameters as the store's `HybridSearch` for memories."""
        return HybridSearch(
            fields=KEYWORD_FIELDS,
            field_weights={"context": self.context_weight},
            alpha=self.alpha,
            candidates=candidates,
            k1=self.k1,
            b=self.b,
            time_field="timestamp" if self.time_weight > 0 else None,
            time_weight=self.time_weight,
            time_scale_days=self.time_scale_days,
            group_field="source.thread_id" if self.group_weight > 0 else None,
            group_weight=self.group_weight,
            group_top=self.group_top,
        )

    def with_(self, **changes: float) -> StudyParams:
        """A copy with `changes`."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


GRID: dict[str, tuple[float, ...]] = {
    "alpha": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
    "context_weight": (0.0, 0.25, 0.5, 0.75, 1.0),
    "k1": (0.5, 0.8, 1.2, 1.6),
    "b": (0.4, 0.6, 0.75, 0.9),
    "time_weight": (0.0, 0.15, 0.3, 0.5, 0.8, 1.0),
    "time_scale_days": (1.0, 3.0, 7.0),
    "group_weight": (0.0, 0.25, 0.5, 1.0, 1.5, 2.0),
    "group_top": (1, 2, 3, 5),
}
"""The values each parameter may take (coordinate ascent walks this grid)."""


@dataclass(slots=True)
class Ranking:
    """One question's ranked pool: memory indices best first, with their scores and parts,
    and what they were fused from (so an extension can re-fuse changed signals exactly)."""

    order: np.ndarray
    scores: np.ndarray
    parts: dict[str, np.ndarray]
    pool: np.ndarray
    settings: HybridSearch
    signals: Signals
    """The pool's raw signals, in `order`."""


Extension = Callable[[StudyConversation, int, Ranking], tuple[np.ndarray, np.ndarray]]
"""An extra signal on top of a question's ranking: `(memory indices, scores)` to rank by
(it may add memories, e.g. the turns around a hit)."""


class Scorer:
    """Ranks a corpus's questions with the store's ranking code; see the module docstring."""

    def __init__(self, corpus: list[StudyConversation], candidates: int) -> None:
        self.corpus = corpus
        self.candidates = candidates
        self._cosine = [c.vectors @ c.query_vectors.T for c in corpus]
        self._terms = [[analysis.query_terms(q.question) for q in c.questions] for c in corpus]
        self._dates = [[query_date(q.question) for q in c.questions] for c in corpus]
        self._bm25: dict[tuple[int, float, float, float], tuple[np.ndarray, np.ndarray]] = {}
        self._champions = [self._champion_masks(c) for c in corpus]
        self._date_scores: dict[tuple[int, int, float], np.ndarray] = {}

    def _champion_masks(self, conv: StudyConversation) -> np.ndarray:
        """Per question, which memories are among its terms' champions (as the store reads
        them: `candidates` per term, in `impact` order — independent of the parameters)."""
        masks = np.zeros((len(conv.questions), len(conv.memories)), dtype=bool)
        for n, question in enumerate(conv.questions):
            terms = analysis.query_terms(question.question)
            for ids in conv.keywords.champions(terms, self.candidates).values():
                masks[n, ids] = True
        return masks

    def _keyword(self, conv: int, params: StudyParams) -> tuple[np.ndarray, np.ndarray]:
        """BM25 of every memory for every question `(questions, memories)`, and each
        question's attainable maximum."""
        key = (conv, params.k1, params.b, params.context_weight)
        if key not in self._bm25:
            study = self.corpus[conv]
            bm25 = bm25_params(params.settings(self.candidates), KEYWORD_FIELDS)
            every = range(len(study.memories))
            scores = np.zeros((len(study.questions), len(study.memories)))
            most = np.zeros(len(study.questions))
            for n, terms in enumerate(self._terms[conv]):
                if not terms:
                    continue
                query = QueryScorer(bm25, study.keywords, terms)
                most[n] = query.attainable
                for item, value in query.score(every).items():
                    scores[n, item] = value
            self._bm25[key] = (scores, most)
        return self._bm25[key]

    def _date(self, conv: int, question: int, scale: float) -> np.ndarray | None:
        wanted = self._dates[conv][question]
        if wanted is None:
            return None
        key = (conv, question, scale)
        if key not in self._date_scores:
            memories = self.corpus[conv].memories
            self._date_scores[key] = np.asarray(
                [date_match(m.timestamp, wanted, scale) for m in memories]
            )
        return self._date_scores[key]

    def rank(self, conv: int, question: int, params: StudyParams) -> Ranking:
        """The store's ranking of one question's pool."""
        study = self.corpus[conv]
        cosine = self._cosine[conv][:, question]
        bm25, most = self._keyword(conv, params)
        champion = np.where(self._champions[conv][question], bm25[question], 0.0)
        pool = select_pool(cosine, champion, self.candidates)
        signals = Signals(cosine[pool], bm25[question][pool], float(most[question]))
        settings = params.settings(self.candidates)
        if settings.time_field:
            date = self._date(conv, question, params.time_scale_days)
            signals.date = None if date is None else date[pool]
        if settings.group_field:
            signals.groups = [study.memories[i].thread for i in pool]
        scores, parts = fuse(settings, signals)
        order = np.lexsort((pool, -scores))
        ordered = Signals(
            signals.cosine[order],
            signals.bm25[order],
            signals.attainable,
            None if signals.date is None else signals.date[order],
            None if signals.groups is None else [signals.groups[i] for i in order],
        )
        parts = {k: v[order] for k, v in parts.items()}
        return Ranking(pool[order], scores[order], parts, pool, settings, ordered)

    def questions(self, convs: list[int]) -> Iterator[tuple[int, int]]:
        """`(conversation, question)` index pairs of `convs`."""
        for conv in convs:
            for question in range(len(self.corpus[conv].questions)):
                yield conv, question

    def first_ranks(
        self, convs: list[int], params: StudyParams, extension: Extension | None = None
    ) -> np.ndarray:
        """0-based rank of the first memory covering an evidence turn, per question of
        `convs` (`MISSED` when none is in the pool)."""
        ranks = []
        for conv, question in self.questions(convs):
            ranking = self.rank(conv, question, params)
            order = ranking.order
            if extension is not None:
                found, rescored = extension(self.corpus[conv], question, ranking)
                order = found[np.lexsort((found, -rescored))]
            hits = np.flatnonzero(self.corpus[conv].evidence[question][order])
            ranks.append(int(hits[0]) if len(hits) else MISSED)
        return np.asarray(ranks)


def objective(ranks: np.ndarray) -> float:
    """What tuning maximises: R@5 + R@10, with MRR@20 as a tie-breaker."""
    if not len(ranks):
        return 0.0
    reciprocal = np.where(ranks < 20, 1.0 / (ranks + 1.0), 0.0)
    return float((ranks < 5).mean() + (ranks < 10).mean() + 0.1 * reciprocal.mean())
