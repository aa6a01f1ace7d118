"""Dates named in a query, and how near an item's time is to them.

Core pieces:
    - `query_date`: the first explicit calendar date in a query ("on 13 October, 2023",
      "October 13, 2023", "2023-10-13", "in May 2023"), with how precise it is.
    - `date_match`: 1.0 when an item's ISO time falls in the named span, decaying with
      the distance outside it.

Assumes English month names or ISO dates in queries and ISO-8601 times in items; relative
dates ("last week") are not resolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

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


def date_match(item_time: object, wanted: QueryDate, scale_days: float) -> float:
    """1.0 when `item_time` (ISO text) falls in the span `wanted` names, decaying with distance."""
    found = _item_date(item_time)
    if found is None:
        return 0.0
    distance = abs((found - wanted.day).days)
    outside = max(distance - wanted.tolerance_days, 0)
    return 1.0 / (1.0 + outside / scale_days)
