"""Fusing a candidate's signals into one score: cosine, BM25, date match, thread lift."""

from __future__ import annotations

from collections.abc import Sequence

from hippograph.store.ranking.settings import HybridSearch


def fuse(
    settings: HybridSearch,
    cosine: float,
    bm25: float,
    best_bm25: float,
    date_score: float | None,
) -> float:
    """The hybrid score of one candidate (see `HybridSearch`); `date_score` is `None` when
    the query names no date."""
    keyword = bm25 / best_bm25 if best_bm25 > 0 else 0.0
    score = settings.alpha * cosine + (1.0 - settings.alpha) * keyword
    if date_score is None or settings.time_weight == 0:
        return score
    return (score + settings.time_weight * date_score) / (1.0 + settings.time_weight)


def blend_groups(
    settings: HybridSearch, scores: Sequence[float], groups: Sequence[object]
) -> list[float]:
    """Lift each score toward its group's (see `HybridSearch.group_field`); `None` groups,
    single-member groups and scores above their group's keep their value."""
    members: dict[object, list[float]] = {}
    for score, group in zip(scores, groups, strict=True):
        if group is not None:
            members.setdefault(group, []).append(score)
    group_score = {
        group: sum(top := sorted(values, reverse=True)[: settings.group_top]) / len(top)
        for group, values in members.items()
        if len(values) > 1
    }
    weight = settings.group_weight
    return [
        max(score, (score + weight * group_score[group]) / (1.0 + weight))
        if group is not None and group in group_score
        else score
        for score, group in zip(scores, groups, strict=True)
    ]
