"""Concurrency in CI: 8 threads (6 sync, 2 event loops of 2 tasks) and 2 processes on one
store for 10 seconds — zero errors, every read consistent with the acknowledged writes,
no deleted item ever returned, and the store consistent afterwards."""

from __future__ import annotations

from pathlib import Path

from tests.harness.reliability.concurrency import Events, check
from tests.harness.reliability.stress import StressConfig, run_stress


def test_threads_tasks_and_processes_share_one_store(tmp_path: Path, corpus_path: Path) -> None:
    result = run_stress(StressConfig(tmp_path, corpus_path, seconds=10.0, seed=5))
    summary = result.summary()
    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["violations"] == []
    assert summary["store_problems"] == []
    workers = {events.worker[0] for events in result.events if sum(events.ops.values())}
    assert workers == {"t", "a", "p"}, "sync threads, async tasks and processes all worked"
    for kind in ("put", "pair-put", "delete", "pair", "get", "search", "list"):
        assert summary["by_kind"].get(kind, 0) > 0, kind
    assert summary["reads_checked"] > 100


def _events(writes, reads) -> list[Events]:
    events = Events("w")
    events.writes = writes
    events.reads = reads
    return [events]


def test_the_checker_finds_inconsistent_reads() -> None:
    writes = [("k", 1, 0.0, 1.0), ("k", 2, 2.0, 3.0), ("t", 1, 0.0, 1.0), ("t", None, 4.0, 5.0)]
    fine = [
        ("get", 2.5, 2.6, [("k", 1)]),
        ("get", 3.5, 3.6, [("k", 2)]),
        ("get", 6, 7, [("t", None)]),
        ("get", 3.9, 4.5, [("t", None)]),  # the delete (invoked at 4.0) may commit first
    ]
    assert check(_events(writes, fine)).violations == []
    cases = {
        "stale": ("get", 3.5, 3.6, [("k", 1)]),
        "lost": ("get", 3.5, 3.6, [("k", None)]),
        "lost before the delete": ("get", 3.5, 3.9, [("t", None)]),
        "deleted": ("search", 6.0, 6.1, [("t", 1)]),
        "phantom": ("get", 0.5, 0.6, [("k", 2)]),
        "torn": ("pair", 3.5, 3.6, [("k", 2), ("t", 1)]),
    }
    for name, read in cases.items():
        assert check(_events(writes, [read])).violations, name
    backwards = [("get", 3.5, 3.6, [("k", 2)]), ("get", 3.7, 3.8, [("k", 1)])]
    assert check(_events(writes, backwards)).violations
