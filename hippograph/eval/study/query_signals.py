"""Signals from the query and the first ranking, tried on top of the shipped ranking.

Core pieces:
    - `query_names`: the proper names a question mentions (capitalised words past its
      first), as index terms.
    - `name_match(w)`: a candidate whose own text lacks a name the question mentions loses
      `w` of its score per share of names missing. Assumes names are capitalised (English
      prose) and that the memory about a person names them (a speaker prefix does).
    - `vector_feedback(beta)`: pseudo-relevance feedback on the vector side (Rocchio): the
      query vector plus `beta` times the mean vector of the first ranking's `FEEDBACK_DOCS`
      best; the pool's cosines are recomputed with it and re-fused.
    - `keyword_feedback(gamma)`: pseudo-relevance feedback on the keyword side (RM3-like):
      the `FEEDBACK_TERMS` terms that weigh most in the `FEEDBACK_DOCS` best (term share x
      score x IDF) join the query at `gamma` of a query term's weight; BM25 re-fused.

Both feedbacks assume the first ranking's best are mostly relevant. Each re-fuses with the
ranking's own `fusion.fuse` and settings, so the result is what the store would return if
it did the same over its pool. Measured in `benchmarks/results/locomo/study.md`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter

import numpy as np

from hippograph.eval.study.corpus import StudyConversation
from hippograph.eval.study.scoring import KEYWORD_FIELDS, Extension, Ranking
from hippograph.store import analysis
from hippograph.store.ranking.bm25 import QueryScorer
from hippograph.store.ranking.fusion import fuse
from hippograph.store.ranking.hybrid import bm25_params

FEEDBACK_DOCS = 5
"""Best memories of the first ranking that feedback reads."""

FEEDBACK_TERMS = 10
"""Terms keyword feedback adds to the query."""

_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_TERMS: dict[int, tuple[StudyConversation, list[list[str]]]] = {}


def query_names(question: str) -> list[str]:
    """Index terms of the capitalised words of `question` after its first word (names,
    places, titles), in order, without repeats."""
    found: dict[str, None] = {}
    for word in _WORD.findall(question)[1:]:
        if word[0].isupper():
            found.update(dict.fromkeys(analysis.query_terms(word)))
    return list(found)


def _content_terms(study: StudyConversation) -> list[list[str]]:
    """Each memory's `content` as index terms, computed once per conversation."""
    cached = _TERMS.get(id(study))
    if cached is not None and cached[0] is study:
        return cached[1]
    terms = [analysis.terms(m.content) for m in study.memories]
    _TERMS[id(study)] = (study, terms)
    return terms


def _refused(ranking: Ranking, **signals: object) -> tuple[np.ndarray, np.ndarray]:
    changed = dataclasses.replace(ranking.signals, **signals)  # type: ignore[arg-type]
    scores, _ = fuse(ranking.settings, changed)
    return ranking.order, scores


def name_match(weight: float) -> Extension:
    """Candidates lacking the question's names lose `weight` per share missing."""

    def extend(
        study: StudyConversation, question: int, ranking: Ranking
    ) -> tuple[np.ndarray, np.ndarray]:
        names = query_names(study.questions[question].question)
        if weight == 0 or not names:
            return ranking.order, ranking.scores
        terms = _content_terms(study)
        missing = np.asarray(
            [sum(n not in set(terms[i]) for n in names) / len(names) for i in ranking.order]
        )
        return ranking.order, ranking.scores * (1.0 - weight * missing)

    return extend


def vector_feedback(beta: float) -> Extension:
    """Rocchio feedback: cosines to `q + beta * mean(best vectors)`, re-fused."""

    def extend(
        study: StudyConversation, question: int, ranking: Ranking
    ) -> tuple[np.ndarray, np.ndarray]:
        if beta == 0:
            return ranking.order, ranking.scores
        best = study.vectors[ranking.order[:FEEDBACK_DOCS]].mean(axis=0)
        query = study.query_vectors[question] + beta * best
        query /= np.linalg.norm(query) or 1.0
        return _refused(ranking, cosine=study.vectors[ranking.order] @ query)

    return extend


def keyword_feedback(gamma: float) -> Extension:
    """RM3-like feedback: the best memories' weightiest terms join the query at `gamma`."""

    def extend(
        study: StudyConversation, question: int, ranking: Ranking
    ) -> tuple[np.ndarray, np.ndarray]:
        if gamma == 0:
            return ranking.order, ranking.scores
        terms = _content_terms(study)
        asked = set(analysis.query_terms(study.questions[question].question))
        documents = study.keywords.collection().documents
        weight: dict[str, float] = {}
        for item, score in zip(ranking.order[:FEEDBACK_DOCS], ranking.scores, strict=False):
            counts = Counter(t for t in terms[item] if t not in asked)
            total = max(len(terms[item]), 1)
            df = study.keywords.document_frequencies(list(counts))
            for term, n in counts.items():
                idf = math.log(1.0 + documents / max(df.get(term, 1), 1))
                share = n / total * max(float(score), 0.0) * idf
                weight[term] = weight.get(term, 0.0) + share
        added = sorted(weight, key=lambda t: (-weight[t], t))[:FEEDBACK_TERMS]
        if not added:
            return ranking.order, ranking.scores
        scorer = QueryScorer(bm25_params(ranking.settings, KEYWORD_FIELDS), study.keywords, added)
        found = scorer.score(ranking.order.tolist())
        extra = np.asarray([found.get(i, 0.0) for i in ranking.order.tolist()])
        return _refused(
            ranking,
            bm25=ranking.signals.bm25 + gamma * extra,
            attainable=ranking.signals.attainable + gamma * scorer.attainable,
        )

    return extend
