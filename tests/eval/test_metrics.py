"""Evidence recall@k and MRR on hand-made results with known answers."""

from __future__ import annotations

import pytest

from hippograph.eval.metrics import (
    Hit,
    QuestionResult,
    latency_summary,
    recall_all,
    recall_any,
    reciprocal_rank,
    summarize,
)


def hits(*ids: tuple[str, ...]) -> list[Hit]:
    return [Hit(f"k{n}", 1.0 - n / 10, message_ids) for n, message_ids in enumerate(ids)]


RANKED = hits(("D1:1",), ("D1:2", "D3:3"), ("D2:1",), ("D4:4",))


def test_recall_any_and_all_over_provenance() -> None:
    assert recall_any(["D3:3"], RANKED, 1) == 0.0
    assert recall_any(["D3:3"], RANKED, 2) == 1.0  # a merged memory covers both its turns
    assert recall_all(["D1:1", "D2:1"], RANKED, 2) == 0.0
    assert recall_all(["D1:1", "D2:1"], RANKED, 3) == 1.0
    assert recall_any(["D9:9"], RANKED, 10) == 0.0
    assert recall_all([], RANKED, 10) == 0.0


def test_reciprocal_rank_is_first_covering_hit() -> None:
    assert reciprocal_rank(["D2:1", "D4:4"], RANKED) == pytest.approx(1 / 3)
    assert reciprocal_rank(["D1:1"], RANKED) == 1.0
    assert reciprocal_rank(["D9:9"], RANKED) == 0.0


def test_summarize_known_answers() -> None:
    results = [
        QuestionResult("c", "q1", 4, ("D1:1",), RANKED),  # rank 1
        QuestionResult("c", "q2", 4, ("D2:1", "D4:4"), RANKED),  # first at 3, all at 4
        QuestionResult("c", "q3", 1, ("D9:9",), RANKED),  # never
        QuestionResult("c", "q4", 2, (), RANKED),  # no evidence: skipped
    ]
    summary = summarize(results, ks=(1, 3, 4))
    assert summary["questions"] == 3
    assert summary["recall_any@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["recall_any@3"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["recall_all@3"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary["recall_all@4"] == pytest.approx(2 / 3, abs=1e-4)
    assert summary["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3, abs=1e-4)
    assert summarize([], ks=(1,)) == {
        "recall_any@1": 0.0,
        "recall_all@1": 0.0,
        "mrr": 0.0,
        "questions": 0,
    }


def test_latency_summary_in_milliseconds() -> None:
    summary = latency_summary([0.001 * n for n in range(1, 101)])
    assert summary["n"] == 100
    assert summary["p50_ms"] == pytest.approx(50.5)
    assert summary["p95_ms"] == pytest.approx(95.05)
    assert latency_summary([])["n"] == 0
