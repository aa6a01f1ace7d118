"""Hybrid ranking settings and score fusion (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from hippograph.store import HybridSearch
from hippograph.store.ranking import QueryDate, date_match, query_date
from hippograph.store.ranking.fusion import blend_groups, fuse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What did Melanie paint on October 13, 2023?", QueryDate(date(2023, 10, 13), 0)),
        ("community service on 31 July, 2023", QueryDate(date(2023, 7, 31), 0)),
        ("on the 2nd of May 2022", QueryDate(date(2022, 5, 2), 0)),
        ("notes from 2023-01-05", QueryDate(date(2023, 1, 5), 0)),
        ("What happened in May 2023?", QueryDate(date(2023, 5, 15), 15)),
        ("When did she go camping?", None),
        ("on February 30, 2023", None),
    ],
)
def test_query_date(text: str, expected: QueryDate | None) -> None:
    assert query_date(text) == expected


def test_date_match_decays_outside_the_named_span() -> None:
    day = QueryDate(date(2023, 10, 13), 0)
    assert date_match("2023-10-13T19:00:00+00:00", day, 3.0) == 1.0
    assert date_match("2023-10-16T00:00:00", day, 3.0) == pytest.approx(0.5)
    assert date_match("2023-05-20T00:00:00", QueryDate(date(2023, 5, 15), 15), 3.0) == 1.0
    assert date_match("not a date", day, 3.0) == 0.0
    assert date_match(None, day, 3.0) == 0.0


def test_fuse_stays_in_unit_range_and_orders_sensibly() -> None:
    settings = HybridSearch()
    assert fuse(settings, 1.0, 7.0, 7.0, None) == 1.0
    assert fuse(settings, 0.6, 0.0, 7.0, None) == pytest.approx(0.3)
    assert fuse(settings, 0.6, 3.5, 7.0, None) == pytest.approx(0.55)
    assert fuse(settings, 0.6, 0.0, 0.0, None) == pytest.approx(0.3)  # no keyword matches
    dated = HybridSearch(time_field="timestamp", time_weight=0.5)
    assert fuse(dated, 1.0, 7.0, 7.0, 1.0) == 1.0
    assert fuse(dated, 1.0, 7.0, 7.0, 0.0) == pytest.approx(1 / 1.5)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="alpha"):
        HybridSearch(alpha=1.5)
    with pytest.raises(ValueError, match="candidates"):
        HybridSearch(candidates=0)
    with pytest.raises(ValueError, match="field weight"):
        HybridSearch(field_weights={"context": -1})
    with pytest.raises(ValueError, match="fields"):
        HybridSearch(fields=())
    with pytest.raises(ValueError, match="value paths"):
        HybridSearch(group_field='source."x"')
    settings = HybridSearch(fields=["content", "context"], field_weights={"context": 0.5})  # type: ignore[arg-type]
    assert settings.fields == ("content", "context")
    assert settings.weight_of("context") == 0.5 and settings.weight_of("content") == 1.0


def test_blend_groups_lifts_members_of_strong_threads_only() -> None:
    settings = HybridSearch(group_field="source.thread_id", group_weight=0.5, group_top=2)
    scores = [0.9, 0.8, 0.2, 0.5, 0.4]
    groups = ["a", "a", "a", "b", None]
    blended = blend_groups(settings, scores, groups)
    assert blended[0] == 0.9  # above its group's mean of its best two (0.85): unchanged
    assert blended[1] == pytest.approx((0.8 + 0.5 * 0.85) / 1.5)
    assert blended[2] == pytest.approx((0.2 + 0.5 * 0.85) / 1.5)
    assert blended[3:] == [0.5, 0.4]  # alone in its group, or no group
