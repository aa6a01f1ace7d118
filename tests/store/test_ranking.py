"""Hybrid ranking settings and score fusion (no database)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from hippograph.store import HybridSearch
from hippograph.store.ranking import QueryDate, date_match, query_date
from hippograph.store.ranking.fusion import Signals, fuse, select_pool


def fused(settings: HybridSearch, **signals: object) -> list[float]:
    arrays = {
        k: np.asarray(v, dtype=np.float64) if k in ("cosine", "bm25", "date") else v
        for k, v in signals.items()
    }
    scores, _ = fuse(settings, Signals(**arrays))  # type: ignore[arg-type]
    return [float(s) for s in scores]


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


def test_a_date_or_thread_never_makes_an_unrelated_memory_relevant() -> None:
    settings = HybridSearch(time_field="t", group_field="g", time_weight=1.0, group_weight=2.0)
    scores = fused(
        settings,
        cosine=[0.06, 0.8, 0.7, 0.1],
        bm25=[0.0, 0.0, 0.0, 0.0],
        attainable=0.0,
        date=[1.0, 1.0, 0.0, 0.0],
        groups=["a", "a", "b", "b"],
    )
    assert scores[0] < 0.1  # right date, strongest thread, still unrelated
    assert scores[1] > scores[2]


def test_fuse_is_on_an_absolute_scale() -> None:
    settings = HybridSearch()
    scores = fused(settings, cosine=[1.0, 0.6, 0.6, 0.6], bm25=[8.0, 0.0, 4.0, 8.0], attainable=8.0)
    assert scores == pytest.approx([1.0, 0.3, 0.55, 0.8])
    # The best keyword match is not promoted to 1.0: a weak one stays weak.
    assert fused(settings, cosine=[0.1], bm25=[1.0], attainable=10.0) == pytest.approx([0.1])
    assert fused(settings, cosine=[0.6], bm25=[0.0], attainable=0.0) == pytest.approx([0.3])
    dated = HybridSearch(time_field="timestamp", time_weight=0.5)
    assert fused(dated, cosine=[1.0, 1.0], bm25=[7.0, 7.0], attainable=7.0, date=[1.0, 0.0]) == (
        pytest.approx([1.0, 0.5])
    )


def test_the_thread_lift_needs_competing_threads() -> None:
    settings = HybridSearch(group_field="source.thread_id", group_weight=0.5, group_top=2)
    cosine, bm25 = [0.9, 0.8, 0.2, 0.5, 0.4], [0.0] * 5
    alone = fused(settings, cosine=cosine, bm25=bm25, attainable=0.0, groups=["a"] * 5)
    assert alone == pytest.approx([c * 0.5 for c in cosine])  # one thread: nothing lifted
    lifted = fused(
        settings, cosine=cosine, bm25=bm25, attainable=0.0, groups=["a", "a", "a", "b", None]
    )
    # Strengths: a = mean(0.45, 0.4) = 0.425, b = 0.25; mean 0.3375. Only "a" stands out,
    # and its members are re-weighed by 1 + 0.5 * 0.0875 (the unrelated one stays low).
    lift = 0.5 * (0.425 - 0.3375)
    assert lifted[:3] == pytest.approx([s * (1 + lift) for s in (0.45, 0.4, 0.1)])
    assert lifted[3:] == pytest.approx([0.25, 0.2])


def test_the_pool_is_the_best_by_each_signal() -> None:
    cosine = np.asarray([0.9, 0.1, 0.8, 0.2, 0.3])
    bm25 = np.asarray([0.0, 5.0, 0.0, 0.0, 1.0])
    assert select_pool(cosine, bm25, 2).tolist() == [0, 1, 2, 4]


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="alpha"):
        HybridSearch(alpha=1.5)
    with pytest.raises(ValueError, match="candidates"):
        HybridSearch(candidates=0)
    with pytest.raises(ValueError, match="k1"):
        HybridSearch(b=1.5)
    with pytest.raises(ValueError, match="field weight"):
        HybridSearch(field_weights={"context": -1})
    with pytest.raises(ValueError, match="fields"):
        HybridSearch(fields=())
    with pytest.raises(ValueError, match="value paths"):
        HybridSearch(group_field='source."x"')
    settings = HybridSearch(fields=["content", "context"], field_weights={"context": 0.5})  # type: ignore[arg-type]
    assert settings.fields == ("content", "context")
    assert settings.weight_of("context") == 0.5 and settings.weight_of("content") == 1.0
