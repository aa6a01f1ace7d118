"""`Memory`: validation policy, category normalisation, round trips through the store."""

from __future__ import annotations

import math
from typing import Any

import pytest

from hippograph.store import (
    FaissSqliteStore,
    Memory,
    clamp_importance,
    memory_namespace,
    normalize_category,
)
from hippograph.store.memory import decode_label


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tools", "tools"),
        ("tool", "tools"),
        (" Preference ", "preferences"),
        ("job", "work"),
        ("personal-info", "personal"),
        ("GOAL", "goals"),
        ("astrology", "other"),
        (None, "other"),
    ],
)
def test_categories_are_normalised(raw: Any, expected: str) -> None:
    assert normalize_category(raw) == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1, 1.5, True, "0.5", None])
def test_importance_outside_the_unit_interval_is_rejected(bad: Any) -> None:
    with pytest.raises(ValueError):
        Memory(content="x", importance=bad)


@pytest.mark.parametrize(("raw", "expected"), [(1.7, 1.0), (-3, 0.0), ("0.8", 0.8), (0.25, 0.25)])
def test_model_importance_is_clamped(raw: Any, expected: float) -> None:
    assert clamp_importance(raw) == expected


@pytest.mark.parametrize("bad", [math.nan, "high", None, False])
def test_model_importance_that_is_not_a_number_is_rejected(bad: Any) -> None:
    with pytest.raises(ValueError):
        clamp_importance(bad)


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b", "x" * 8001, 42])
def test_bad_content_is_rejected(bad: Any) -> None:
    with pytest.raises(ValueError):
        Memory(content=bad)


def test_round_trip_through_the_store() -> None:
    memory = Memory(
        content="  Codes primarily in Python ",
        category="Tool",
        importance=0.8,
        source={"thread_id": "t1", "message_ids": ["m1"]},
        metadata={"lang": "en"},
    )
    assert memory.content == "Codes primarily in Python" and memory.category == "tools"
    ns = memory_namespace("alice@example.com")
    with FaissSqliteStore(":memory:", index={"embed": "local", "fields": ["content"]}) as store:
        store.put(ns, memory.id, memory.to_value())
        back = Memory.from_item(store.get(ns, memory.id))
    assert back.content == memory.content and back.category == "tools"
    assert back.importance == 0.8 and back.timestamp == memory.timestamp
    assert back.source == memory.source and back.metadata == {"lang": "en"}
    assert back.updated_at is not None


def test_user_ids_map_to_distinct_valid_labels() -> None:
    ids = ["a.b", "a%2Eb", "a%b", "a_b", "ａ.b"]
    labels = [memory_namespace(u)[1] for u in ids]
    assert len(set(labels)) == len(ids)
    assert all("." not in label for label in labels)
    assert [decode_label(label) for label in labels] == ids
    with pytest.raises(ValueError):
        memory_namespace("")
