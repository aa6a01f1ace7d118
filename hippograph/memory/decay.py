"""Time decay and importance weighting of recalled memories (both off by default).

Relevance alone ranks a memory stated two years ago the same as one stated this morning,
and trivia the same as identity. `weigh` multiplies a memory's search score by

    0.5 ** (age / half_life)                        (recency; 1 when `half_life` is None)
    × (1 - importance_weight + importance_weight × importance)   (1 when the weight is 0)

where age runs from when the fact was stated (the value's `timestamp`, else the item's
`updated_at`) to the turn's time. Both stay off by default: they were not measured to
help recall on the LoCoMo benchmark, where old facts are asked about as often as new ones;
turn them on per run through the agent's context (`recency_half_life_days`,
`importance_weight`).
"""

from __future__ import annotations

import contextlib
from datetime import datetime

from langgraph.store.base import SearchItem

from hippograph.store.memory import as_utc

_DAY_SECONDS = 86_400.0


def as_moment(raw: object, fallback: datetime) -> datetime:
    """`raw` read as an ISO-8601 time (naive means UTC), or `fallback` when it is not one."""
    moment = fallback
    if isinstance(raw, str) and raw:
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(raw)
    return as_utc(moment)


def stated_at(item: SearchItem) -> datetime:
    """When the memory's fact was stated (its `timestamp`, else when it was last written)."""
    return as_moment(item.value.get("timestamp"), item.updated_at)


def weigh(
    found: list[tuple[SearchItem, float]],
    *,
    now: datetime,
    half_life_days: float | None,
    importance_weight: float,
) -> list[tuple[SearchItem, float]]:
    """`found` re-scored by recency and importance (see the module docstring), best first.

    A memory stated after `now` (a replayed conversation) counts as stated at `now`.
    """
    if half_life_days is None and not importance_weight:
        return found
    now = as_moment(None, now)
    weighed = []
    for item, score in found:
        factor = 1.0
        if half_life_days is not None:
            age = max(0.0, (now - stated_at(item)).total_seconds() / _DAY_SECONDS)
            factor *= 0.5 ** (age / half_life_days)
        if importance_weight:
            importance = min(1.0, max(0.0, float(item.value.get("importance", 0.5))))
            factor *= 1.0 - importance_weight + importance_weight * importance
        weighed.append((item, score * factor))
    return sorted(weighed, key=lambda pair: pair[1], reverse=True)
