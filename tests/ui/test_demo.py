"""The demo user: conversations through the real agent leave real memories and history."""

from __future__ import annotations

from datetime import UTC, datetime

from hippograph.memories import MemoryManager
from hippograph.recalls import RecallLog
from hippograph.ui.demo import DEMO_SCRIPT, DEMO_USER, seed_demo


def test_seeded_memories_history_and_recalls(memory_store):
    log = RecallLog(":memory:")
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    done: list[int] = []
    count = seed_demo(memory_store, recall_log=log, now=now, progress=lambda n, _: done.append(n))
    assert done[-1] == len(DEMO_SCRIPT)
    manager = MemoryManager(memory_store, DEMO_USER)
    contents = {m.content for m in manager.list()}
    assert count == len(contents) == 11
    assert {"Lives in Porto", "Codes primarily in Java", "Is allergic to peanuts"} <= contents
    assert not contents & {"Lives in Lisbon", "Codes primarily in Python", "Dislikes long meetings"}
    assert len({m.category for m in manager.list()}) == 7
    stated = sorted(m.timestamp for m in manager.list())
    assert (stated[-1] - stated[0]).days >= 30 and stated[-1] <= now

    ops = [
        (e["op"], (e["old"] or {}).get("content"), (e["new"] or {}).get("content"))
        for e in manager.history(limit=100)
    ]
    assert ("UPDATE", "Codes primarily in Python", "Codes primarily in Java") in ops
    assert ("DELETE", "Dislikes long meetings", None) in ops
    peanuts = next(m for m in manager.list() if "peanuts" in m.content)
    assert peanuts.importance == 1.0
    assert manager.history(peanuts.id)[0]["source"]["origin"] == "ui"

    top = log.top(DEMO_USER, limit=3)
    assert top and top[0].count >= 2
