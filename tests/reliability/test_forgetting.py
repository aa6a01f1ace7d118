"""Time decay, importance weighting and pruning: off by default, and when on they change
the ranking and forget exactly what they say."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from langgraph.store.base import SearchItem
from typer.testing import CliRunner

from hippograph.cli import app
from hippograph.graph import build_agent
from hippograph.memories import MemoryManager
from hippograph.memory.context import Context
from hippograph.memory.decay import weigh
from hippograph.scripted import ScriptedChatModel
from tests.conftest import run_config, user_turn

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _item(key: str, days_old: float, importance: float) -> SearchItem:
    stated = (NOW - timedelta(days=days_old)).isoformat()
    value = {"content": key, "timestamp": stated, "importance": importance}
    return SearchItem(("memories", "u"), key, value, NOW, NOW, score=None)


def test_weigh_is_the_identity_when_off() -> None:
    found = [(_item("a", 900, 0.1), 0.8), (_item("b", 0, 0.9), 0.7)]
    assert weigh(found, now=NOW, half_life_days=None, importance_weight=0.0) == found


def test_recency_halves_the_score_every_half_life() -> None:
    found = [(_item("old", 60, 0.5), 0.8), (_item("new", 0, 0.5), 0.6)]
    ranked = weigh(found, now=NOW, half_life_days=30, importance_weight=0.0)
    assert [(i.key, round(s, 6)) for i, s in ranked] == [("new", 0.6), ("old", 0.2)]


def test_importance_weighting_scales_between_one_and_importance() -> None:
    found = [(_item("trivia", 0, 0.1), 0.8), (_item("identity", 0, 1.0), 0.6)]
    ranked = weigh(found, now=NOW, half_life_days=None, importance_weight=1.0)
    assert [(i.key, round(s, 6)) for i, s in ranked] == [("identity", 0.6), ("trivia", 0.08)]
    half = weigh(found, now=NOW, half_life_days=None, importance_weight=0.5)
    assert [(i.key, round(s, 6)) for i, s in half] == [("identity", 0.6), ("trivia", 0.44)]


def test_a_fact_from_the_future_is_not_boosted() -> None:
    ranked = weigh([(_item("f", -10, 0.5), 0.5)], now=NOW, half_life_days=1, importance_weight=0)
    assert ranked[0][1] == 0.5


@pytest.mark.parametrize(
    "field", [{"recency_half_life_days": 0}, {"importance_weight": 1.5}, {"importance_weight": -1}]
)
def test_context_rejects_bad_weights(field) -> None:
    with pytest.raises(ValueError):
        Context(user_id="u", **field)


def _import(manager: MemoryManager, rows: list[dict]) -> None:
    manager.import_jsonl(io.StringIO("".join(json.dumps(r) + "\n" for r in rows)))


def _recall(store, checkpointer, **context) -> list[str]:
    model = ScriptedChatModel(responses=["Ok.", {"facts": []}])
    agent = build_agent(store=store, checkpointer=checkpointer, model=model)
    context = {"user_id": "alice", "turn_at": NOW.isoformat(), **context}
    out = agent.invoke(
        user_turn("Which city do I live in?"), config=run_config("t"), context=context
    )
    return [m["content"] for m in out["recalled"]]


def test_the_agent_ranks_by_recency_and_importance_only_when_asked(
    memory_store, checkpointer
) -> None:
    _import(
        MemoryManager(memory_store, "alice"),
        [
            {"content": "Lives in Berlin", "importance": 0.9, "timestamp": "2024-01-01T00:00:00"},
            {"content": "Lives in Paris now", "importance": 0.2, "timestamp": "2026-05-30"},
        ],
    )
    plain = _recall(memory_store, checkpointer)
    assert plain[:1] == ["Lives in Berlin"]  # the closer match, by relevance alone
    assert _recall(memory_store, checkpointer, recency_half_life_days=30)[:1] == [
        "Lives in Paris now"
    ]
    assert _recall(memory_store, checkpointer, importance_weight=1.0)[:1] == ["Lives in Berlin"]


ROWS = [
    {"content": "minor and old", "importance": 0.1, "timestamp": "2026-01-01T00:00:00+00:00"},
    {"content": "minor and new", "importance": 0.1, "timestamp": "2026-05-30T00:00:00+00:00"},
    {"content": "major and old", "importance": 0.9, "timestamp": "2026-01-01T00:00:00+00:00"},
    {"content": "at the bound", "importance": 0.3, "timestamp": "2025-01-01T00:00:00+00:00"},
]


def test_prune_forgets_only_what_is_both_minor_and_old(memory_store) -> None:
    manager = MemoryManager(memory_store, "alice")
    _import(manager, ROWS)
    MemoryManager(memory_store, "bob").add("bob's minor note", importance=0.0)
    age = timedelta(days=30)
    dry = manager.prune(below_importance=0.3, older_than=age, now=NOW, dry_run=True)
    assert [m.content for m in dry] == ["minor and old"]
    assert manager.count() == 4
    pruned = manager.prune(below_importance=0.3, older_than=age, now=NOW)
    assert [m.content for m in pruned] == ["minor and old"]
    assert sorted(m.content for m in manager.list()) == sorted(r["content"] for r in ROWS[1:])
    assert [h["op"] for h in manager.history(pruned[0].id)][:1] == ["DELETE"]
    assert MemoryManager(memory_store, "bob").count() == 1
    with pytest.raises(ValueError):
        manager.prune(below_importance=2, older_than=age)


def test_cli_prune_is_a_dry_run_without_yes(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    db = tmp_path / "m.db"
    now = datetime.now(UTC)  # the CLI prunes relative to the real clock
    shifted = [
        {**r, "timestamp": (now - (NOW - datetime.fromisoformat(r["timestamp"]))).isoformat()}
        for r in ROWS
    ]
    rows = "".join(json.dumps(r) + "\n" for r in shifted)
    base = ["--user", "alice", "--db", str(db)]
    assert runner.invoke(app, ["memories", "import", "-", *base], input=rows).exit_code == 0
    args = ["memories", "prune", "--below-importance", "0.5", "--older-than", "3650", *base]
    assert "nothing to prune" in runner.invoke(app, args).output
    args[-len(base) - 1] = "100"
    dry = runner.invoke(app, args)
    assert dry.exit_code == 0 and "dry run: 2 memories would be pruned" in dry.output
    assert "minor and old" in dry.output and "at the bound" in dry.output
    listed = runner.invoke(app, ["memories", "list", *base]).output
    assert "minor and old" in listed
    done = runner.invoke(app, [*args, "--yes"])
    assert done.exit_code == 0 and "pruned 2 memories" in done.output, done.output
    listed = runner.invoke(app, ["memories", "list", *base]).output
    assert "minor and old" not in listed and "major and old" in listed
