"""One score per candidate from its signals, on an absolute scale so thresholds keep meaning.

Core pieces:
    - `Signals`: the raw signals of a search's candidates (parallel arrays).
    - `select_pool`: the candidates a search scores: the best by cosine plus the best by BM25.
    - `fuse`: scores and their parts (for `explain`).

The score of a candidate is

    text  = alpha * cosine + (1 - alpha) * keyword
    dated = text * (1 - time_weight * (1 - date))        when the query names a date
    score = min(dated * (1 + group_weight * lift), 1)    when its thread stands out

where `keyword` is the candidate's BM25 as a share of what the query's terms could score at
most (`QueryScorer.attainable`), `date` how near the item's time is to a date the query
names, and `lift` how much better its thread's best candidates match than the average
thread's. (Negative text scores are left as they are.) Every signal is absolute — none is
divided by the best candidate's — and the date and thread only re-weigh the text score:
a memory's score does not rise because the others are poor, a date or a thread never makes
an unrelated memory relevant (it stays near its text score), and in a one-thread chat
nothing is lifted at all. `min_score` is therefore a threshold on text relevance.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from hippograph.store.ranking.settings import HybridSearch


@dataclass(slots=True)
class Signals:
    """Raw signals of one search's candidates, in candidate order.

    Attributes:
        cosine: Cosine similarity with the query (max-pooled over an item's vectors).
        bm25: BM25 with the searched tenant's statistics (0 without a keyword match).
        attainable: The most BM25 any item could score for this query (0: no query terms).
        date: How near each item's time is to the date the query names (`None`: it names
            none, or the settings use no time field).
        groups: Each item's thread (`None` entries: no thread; `None`: not used).
    """

    cosine: np.ndarray
    bm25: np.ndarray
    attainable: float
    date: np.ndarray | None = None
    groups: Sequence[Hashable | None] | None = None


def select_pool(cosine: np.ndarray, bm25: np.ndarray, size: int) -> np.ndarray:
    """Indices of the `size` best by cosine and the `size` best matching by BM25, sorted."""
    by_cosine = np.argsort(-cosine, kind="stable")[:size]
    matching = np.flatnonzero(bm25 > 0)
    by_bm25 = matching[np.argsort(-bm25[matching], kind="stable")[:size]]
    return np.union1d(by_cosine, by_bm25)


def _thread_lift(
    settings: HybridSearch, scores: np.ndarray, groups: Sequence[Hashable | None]
) -> np.ndarray:
    """How much each candidate's thread beats the average thread, in [0, 1]; 0 for every
    candidate when fewer than two threads compete (a one-thread chat)."""
    threads = dict.fromkeys(groups)  # in order of first appearance
    threads.pop(None, None)
    codes: dict[Hashable | None, int] = {g: n for n, g in enumerate(threads)}
    codes[None] = -1
    group = np.fromiter(map(codes.__getitem__, groups), dtype=np.int64, count=len(groups))
    del codes[None]
    if len(codes) < 2:
        return np.zeros(len(scores))
    member = group >= 0
    order = np.lexsort((-scores[member], group[member]))
    ranked_groups, ranked_scores = group[member][order], scores[member][order]
    starts = np.searchsorted(ranked_groups, np.arange(len(codes)))
    rank_in_group = np.arange(len(ranked_groups)) - starts[ranked_groups]
    best = rank_in_group < settings.group_top
    totals = np.bincount(ranked_groups[best], ranked_scores[best], minlength=len(codes))
    counts = np.bincount(ranked_groups[best], minlength=len(codes))
    strength = totals / np.maximum(counts, 1)
    mean = np.add.reduce(strength) / len(strength)  # `strength.mean()`, bit for bit, cheaper
    lift = np.maximum(strength - mean, 0.0)
    return np.where(member, lift[np.maximum(group, 0)], 0.0)


def fuse(settings: HybridSearch, signals: Signals) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Scores of the candidates (see the module docstring) and their parts by name:
    `cosine`, `bm25`, `keyword`, and `date` / `thread` when they apply."""
    keyword = signals.bm25 / signals.attainable if signals.attainable > 0 else signals.bm25 * 0
    keyword = np.minimum(np.maximum(keyword, 0.0), 1.0)  # np.clip's value, without its overhead
    scores = settings.alpha * signals.cosine + (1.0 - settings.alpha) * keyword
    parts = {"cosine": signals.cosine, "bm25": signals.bm25, "keyword": keyword}
    if signals.date is not None and settings.time_weight > 0:
        factor = 1.0 - settings.time_weight * (1.0 - signals.date)
        scores = np.where(scores > 0, scores * factor, scores)
        parts["date"] = signals.date
    if signals.groups is not None and settings.group_weight > 0:
        lift = _thread_lift(settings, scores, signals.groups)
        lifted = np.where(
            scores > 0, np.minimum(scores * (1.0 + settings.group_weight * lift), 1.0), scores
        )
        parts["thread"] = lifted - scores
        scores = lifted
    return scores, parts
