"""How hybrid search ranks: the configuration and the score fusion, free of SQL and FAISS.

Core pieces:
    - `HybridSearch`: turns hybrid search on for a store and says how to weigh its parts.
    - `fuse`: one score per candidate from cosine similarity, BM25 and (optionally) how
      close the item's time is to a date named in the query.
    - `query_date`: the date a query names ("on 13 October, 2023", "in May 2023"), if any.
    - `blend_groups`: lift candidates whose conversation thread holds other good matches.

A fused score stays in [0, 1] for cosines in [0, 1], so a caller's thresholds keep their
meaning: an exact duplicate of the query scores 1.0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH = r"(january|february|march|april|may|june|july|august|september|october|november|december)"
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_MONTH_DAY_YEAR = re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+(\d{{4}})\b")
_DAY_MONTH_YEAR = re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+(\d{{4}})\b")
_MONTH_YEAR = re.compile(rf"\b{_MONTH},?\s+(\d{{4}})\b")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


@dataclass(frozen=True, slots=True)
class QueryDate:
    """A date named in a query, with how precise it is."""

    day: date
    tolerance_days: int
    """Half-width of the span the query names: 0 for a day, 15 for a month."""


def _safe_date(year: str, month: int, day: str | int) -> date | None:
    try:
        return date(int(year), month, int(day))
    except ValueError:
        return None


def query_date(text: str) -> QueryDate | None:
    """The first explicit calendar date in `text` ("13 October 2023", "October 13, 2023",
    "2023-10-13", or a month and year such as "May 2023"), else `None`."""
    lowered = text.lower()
    if match := _ISO_DATE.search(lowered):
        found = _safe_date(match.group(1), int(match.group(2)), match.group(3))
        return QueryDate(found, 0) if found else None
    if match := _MONTH_DAY_YEAR.search(lowered):
        found = _safe_date(match.group(3), _MONTHS.index(match.group(1)) + 1, match.group(2))
        return QueryDate(found, 0) if found else None
    if match := _DAY_MONTH_YEAR.search(lowered):
        found = _safe_date(match.group(3), _MONTHS.index(match.group(2)) + 1, match.group(1))
        return QueryDate(found, 0) if found else None
    if match := _MONTH_YEAR.search(lowered):
        found = _safe_date(match.group(2), _MONTHS.index(match.group(1)) + 1, 15)
        return QueryDate(found, 15) if found else None
    return None


def _item_date(value: object) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class HybridSearch:
    """Hybrid search settings: vector similarity fused with SQLite FTS5 BM25.

    With hybrid search on, a natural-language `search` scores every candidate (the best
    `candidates` by cosine plus the best `candidates` by BM25, after filters) as
    `alpha * cosine + (1 - alpha) * bm25 / best_bm25`, so a keyword-only match is found and
    exact terms (names, places, titles) count even when the embedder blurs them.

    Attributes:
        fields: Value fields (JSON paths) kept in the full-text index; `None` uses the
            store's index `fields`. They may differ: e.g. embed only `content` but let BM25
            also read `context`.
        alpha: Weight of cosine similarity; `1 - alpha` goes to BM25 (relative to the best
            BM25 among the query's matches).
        field_weights: BM25 weight of each indexed field (JSON path as in the index
            `fields`), default 1.0 — e.g. `{"context": 0.5}` lets a memory's context help
            without outranking its own text.
        candidates: Candidates drawn from each ranking (raised to twice `offset + limit`).
        time_field: Dotted value path of an ISO-8601 time (e.g. `"timestamp"`). When set
            and the query names a date, items whose time is near it get up to `time_weight`.
        time_weight: Weight of the date match relative to the text score.
        time_scale_days: Days past the named span at which the date match halves.
        group_field: Dotted value path naming the conversation an item came from (e.g.
            `"source.thread_id"`). When set, a candidate whose group's `group_top` best
            candidates score higher than it on average is lifted toward them: a memory from
            a thread that holds other good matches rises. Scores never drop, so an exact
            duplicate of the query still scores 1.0.
        group_weight: Weight of the group's score in that blend.
        group_top: How many of a group's best candidates make its score.
    """

    fields: tuple[str, ...] | None = None
    alpha: float = 0.5
    field_weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    candidates: int = 100
    time_field: str | None = None
    time_weight: float = 0.3
    time_scale_days: float = 3.0
    group_field: str | None = None
    group_weight: float = 0.5
    group_top: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be within [0, 1], got {self.alpha}")
        if self.candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {self.candidates}")
        if self.time_weight < 0 or self.time_scale_days <= 0:
            raise ValueError("time_weight must be >= 0 and time_scale_days > 0")
        if self.group_weight < 0 or self.group_top < 1:
            raise ValueError("group_weight must be >= 0 and group_top >= 1")
        for path in (self.time_field, self.group_field):
            if path is not None and (not path or any(ch in path for ch in '"\\')):
                raise ValueError(f"value paths must be non-empty, without quotes: {path!r}")
        for path, weight in self.field_weights.items():
            if weight < 0:
                raise ValueError(f"field weight of {path!r} must be >= 0, got {weight}")
        object.__setattr__(self, "field_weights", MappingProxyType(dict(self.field_weights)))
        if self.fields is not None:
            if not self.fields or not all(isinstance(f, str) and f for f in self.fields):
                raise ValueError(f"fields must be non-empty JSON paths, got {self.fields!r}")
            object.__setattr__(self, "fields", tuple(self.fields))

    def weight_of(self, path: str) -> float:
        """BM25 weight of the indexed field `path`."""
        return float(self.field_weights.get(path, 1.0))


def date_match(item_time: object, wanted: QueryDate, scale_days: float) -> float:
    """1.0 when `item_time` (ISO text) falls in the span `wanted` names, decaying with distance."""
    found = _item_date(item_time)
    if found is None:
        return 0.0
    distance = abs((found - wanted.day).days)
    outside = max(distance - wanted.tolerance_days, 0)
    return 1.0 / (1.0 + outside / scale_days)


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
