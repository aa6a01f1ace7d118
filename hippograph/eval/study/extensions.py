"""Signals tried on top of the shipped ranking, each with one weight the study tunes.

Core pieces:
    - `neighbourhood(w)`: the memories written just before and after a hit in the same
      thread get `w` times its score (returned even when they were not candidates) — "the
      turns around a hit". Assumes memories of a thread are written in conversation order.
    - `neighbourhood_tail(w)`: the same, but the first ranking's `HEAD` best keep their
      places; the turns around the hits only compete for the places after them.
    - `reply_lift(w)`: only the memory written right after a hit that asks something (its
      text holds a "?") gets `w` times the hit's score — the answer follows the question.
      Assumes the same, and that replies are stored as their own memories.
    - `session_centroid(w)`: a candidate gains `w` times how much better its thread's mean
      vector matches the query than the average thread's — a session-level view. Assumes
      threads are topical sessions.
    - `learned_reranker`: a logistic regression over the candidates' signals, trained on
      the training conversations of each fold (the feature-based reranker).
    - `STUDIED`: these with one weight, and the query signals of `query_signals` (name
      match, vector and keyword pseudo-relevance feedback).

Measured in `benchmarks/results/locomo/`; none ships unless it helps cross-validated.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np

from hippograph.eval.study.corpus import StudyConversation
from hippograph.eval.study.cv import CVResult
from hippograph.eval.study.query_signals import keyword_feedback, name_match, vector_feedback
from hippograph.eval.study.scoring import Extension, Ranking, Scorer, StudyParams

_ADJACENT: dict[int, tuple[StudyConversation, tuple[np.ndarray, np.ndarray]]] = {}


def _adjacent(study: StudyConversation) -> tuple[np.ndarray, np.ndarray]:
    """Index of the previous and next memory in the same thread (-1 at a thread's ends)."""
    cached = _ADJACENT.get(id(study))
    if cached is not None and cached[0] is study:
        return cached[1]
    by_thread: dict[str | None, list[int]] = {}
    for n, memory in enumerate(study.memories):
        by_thread.setdefault(memory.thread, []).append(n)
    previous = np.full(len(study.memories), -1)
    following = np.full(len(study.memories), -1)
    for members in by_thread.values():
        members.sort(key=lambda n: study.memories[n].order)
        for a, b in pairwise(members):
            following[a], previous[b] = b, a
    _ADJACENT[id(study)] = (study, (previous, following))
    return previous, following


def neighbourhood(weight: float) -> Extension:
    """Hits lend `weight` of their score to the turns around them (see the module)."""

    def extend(study: StudyConversation, _: int, ranking: Ranking) -> tuple[np.ndarray, np.ndarray]:
        if weight == 0:
            return ranking.order, ranking.scores
        previous, following = _adjacent(study)
        best = dict(zip(ranking.order.tolist(), ranking.scores.tolist(), strict=True))
        for item, score in zip(ranking.order.tolist(), ranking.scores.tolist(), strict=True):
            for near in (previous[item], following[item]):
                if near >= 0:
                    best[int(near)] = max(best.get(int(near), float("-inf")), weight * score)
        items = np.fromiter(best, np.int64, len(best))
        return items, np.asarray([best[i] for i in items.tolist()])

    return extend


HEAD = 5
"""Places `neighbourhood_tail` leaves as the first ranking had them."""


def neighbourhood_tail(weight: float) -> Extension:
    """`neighbourhood(weight)` below the first ranking's `HEAD` best (see the module)."""
    around = neighbourhood(weight)

    def extend(
        study: StudyConversation, question: int, ranking: Ranking
    ) -> tuple[np.ndarray, np.ndarray]:
        items, scores = around(study, question, ranking)
        head = ranking.order[:HEAD].tolist()
        kept = set(head)
        rest = sorted(
            (i for i in zip(items.tolist(), scores.tolist(), strict=True) if i[0] not in kept),
            key=lambda pair: (-pair[1], pair[0]),
        )
        order = np.asarray(head + [i for i, _ in rest], dtype=np.int64)
        return order, -np.arange(len(order), dtype=np.float64)

    return extend


def reply_lift(weight: float) -> Extension:
    """The memory after a hit that asks something gets `weight` of its score (see the
    module)."""

    def extend(study: StudyConversation, _: int, ranking: Ranking) -> tuple[np.ndarray, np.ndarray]:
        if weight == 0:
            return ranking.order, ranking.scores
        following = _adjacent(study)[1]
        best = dict(zip(ranking.order.tolist(), ranking.scores.tolist(), strict=True))
        for item, score in zip(ranking.order.tolist(), ranking.scores.tolist(), strict=True):
            after = int(following[item])
            if after >= 0 and "?" in study.memories[item].content:
                best[after] = max(best.get(after, float("-inf")), weight * score)
        items = np.fromiter(best, np.int64, len(best))
        return items, np.asarray([best[i] for i in items.tolist()])

    return extend


def session_centroid(weight: float) -> Extension:
    """Candidates gain `weight` times their thread's centroid advantage (see the module)."""

    def extend(
        study: StudyConversation, question: int, ranking: Ranking
    ) -> tuple[np.ndarray, np.ndarray]:
        if weight == 0:
            return ranking.order, ranking.scores
        query = study.query_vectors[question]
        threads = [study.memories[i].thread for i in ranking.order.tolist()]
        match = {}
        for thread in set(threads):
            members = [n for n, m in enumerate(study.memories) if m.thread == thread]
            centroid = study.vectors[members].mean(axis=0)
            match[thread] = float(centroid @ query / (np.linalg.norm(centroid) or 1.0))
        mean = float(np.mean(list(match.values())))
        gain = np.asarray([match[t] - mean for t in threads])
        return ranking.order, ranking.scores + weight * gain

    return extend


def _features(study: StudyConversation, ranking: Ranking) -> np.ndarray:
    previous, following = _adjacent(study)
    position = {i: n for n, i in enumerate(ranking.order.tolist())}
    neighbour = np.asarray(
        [
            max(
                (
                    ranking.scores[position[int(j)]]
                    for j in (previous[i], following[i])
                    if j in position
                ),
                default=0.0,
            )
            for i in ranking.order.tolist()
        ]
    )
    columns = [ranking.parts["cosine"], ranking.parts["keyword"], ranking.scores, neighbour]
    columns.append(ranking.parts.get("date", np.zeros(len(ranking.order))))
    columns.append(ranking.parts.get("thread", np.zeros(len(ranking.order))))
    return np.stack(columns, axis=1)


def _fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 25) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method; the last weight is the bias."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(x1.shape[1])
    penalty = np.r_[np.full(x.shape[1], l2), 0.0]
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x1 @ w)))
        gradient = x1.T @ (p - y) + penalty * w
        hessian = (x1 * (p * (1 - p))[:, None]).T @ x1 + np.diag(penalty)
        w -= np.linalg.solve(hessian, gradient)
    return w


def learned_reranker(scorer: Scorer, result: CVResult) -> CVResult:
    """A logistic regression over each candidate's signals (cosine, keyword, fused score,
    best neighbour's score, date, thread lift), trained per fold on the other conversations."""
    every = list(range(len(scorer.corpus)))

    def data(convs: list[int], params: StudyParams) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = [], []
        for conv, question in scorer.questions(convs):
            ranking = scorer.rank(conv, question, params)
            xs.append(_features(scorer.corpus[conv], ranking))
            ys.append(scorer.corpus[conv].evidence[question][ranking.order].astype(float))
        return np.vstack(xs), np.concatenate(ys)

    def rerank(w: np.ndarray) -> Extension:
        def extend(
            study: StudyConversation, _: int, ranking: Ranking
        ) -> tuple[np.ndarray, np.ndarray]:
            return ranking.order, _features(study, ranking) @ w[:-1]

        return extend

    weights = _fit(*data(every, result.params))
    in_sample = scorer.first_ranks(every, result.params, rerank(weights))
    held_out = []
    for conv in every:
        params = result.fold_params[scorer.corpus[conv].id]
        fold = _fit(*data([c for c in every if c != conv], params))
        held_out.append(scorer.first_ranks([conv], params, rerank(fold)))
    return CVResult(in_sample, np.concatenate(held_out), result.params, result.fold_params)


STUDIED: dict[str, tuple[Callable[[float], Extension], tuple[float, ...]]] = {
    "neighbourhood (turns around a hit)": (neighbourhood, (0.0, 0.5, 0.7, 0.8, 0.9)),
    "neighbourhood below the top 5": (neighbourhood_tail, (0.0, 0.5, 0.7, 0.8, 0.9)),
    "reply lift (the turn after a question)": (reply_lift, (0.0, 0.7, 0.8, 0.9, 0.95)),
    "session centroid": (session_centroid, (0.0, 0.1, 0.2, 0.4)),
    "name match (names in the question)": (name_match, (0.0, 0.1, 0.2, 0.3, 0.5)),
    "vector feedback (Rocchio, 5 best)": (vector_feedback, (0.0, 0.15, 0.3, 0.6)),
    "keyword feedback (RM3-like, 5 best, 10 terms)": (keyword_feedback, (0.0, 0.1, 0.2, 0.5)),
}
"""Extensions with one weight, and the weights tried (0: off)."""
