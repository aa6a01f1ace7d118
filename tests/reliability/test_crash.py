"""Crash durability in CI: SIGKILL a writer 60 times; after each kill the store is intact.

The 1,000-kill run is `benchmarks/crash_durability.py`; this is the same harness, smaller.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from langgraph.store.base import PutOp

from hippograph.store.codec import to_unit_vectors
from tests.harness.reliability.corpus import PrecomputedEmbeddings
from tests.harness.reliability.crash import CrashConfig, check_store, run_crash_test
from tests.harness.reliability.processes import open_crash_store
from tests.harness.reliability.workload import Model, Workload, apply

KILL_POINTS = 60


def test_sixty_kills_lose_nothing_and_tear_nothing(tmp_path: Path, corpus_path: Path) -> None:
    config = CrashConfig(tmp_path / "run", corpus_path, kill_points=KILL_POINTS, seed=8)
    result = run_crash_test(config)
    summary = result.summary()
    assert result.problems == []
    assert summary["kill_points"] == KILL_POINTS
    assert set(summary["by_target"]) == {"random", "checkpoint", "reopen", "erase", "load"}
    assert summary["by_phase"].get("loading", 0) > 0
    assert summary["during_checkpoint"] > 0
    assert summary["by_phase"].get("erasing", 0) > 0
    assert summary["acknowledged_steps"] > 5 * KILL_POINTS
    assert summary["final_items"] > 0


def _written_store(directory: Path, corpus: Path, embeddings: PrecomputedEmbeddings) -> Model:
    """Run 40 workload steps (no erasures or reopens) directly; return the model."""
    model: Model = {}
    steps = Workload(3, embeddings.texts, "t").steps(model)
    with open_crash_store(directory / "crash.db", embeddings, "full") as store:
        for step, _ in steps:
            if step.kind in ("erase", "reopen", "async"):
                continue
            store.batch(
                [
                    PutOp(w.namespace, w.key, w.value, index=None if w.indexed else False)
                    for w in step.writes
                ]
            )
            model = apply(model, step)
            if len(model) > 25:
                return model
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (
            "UPDATE items SET value = json_set(value, '$.step', 'x') WHERE id = (SELECT min(id) "
            "FROM items)",
            "matches neither",
        ),
        ("DELETE FROM history WHERE id = (SELECT max(id) FROM history)", "history"),
        (
            "UPDATE vectors SET blob = zeroblob(length(blob)) WHERE id = (SELECT min(id) FROM "
            "vectors)",
            "vector",
        ),
        (
            "DELETE FROM keyword_docs WHERE item_id = (SELECT min(item_id) FROM keyword_docs)",
            "keyword",
        ),
        (
            "UPDATE keyword_terms SET df = df + 1",
            "document frequencies",
        ),
    ],
)
def test_the_checker_finds_damage(
    tmp_path: Path,
    corpus_path: Path,
    precomputed: PrecomputedEmbeddings,
    damage: str,
    expected: str,
) -> None:
    model = _written_store(tmp_path, corpus_path, precomputed)
    vectors = {
        t: to_unit_vectors([precomputed.vector(t)], precomputed.dims, 1)[0]
        for t in precomputed.texts
    }
    config = CrashConfig(tmp_path, corpus_path, kill_points=0)
    _, outcome, problems = check_store(tmp_path / "crash.db", config, model, model, vectors)
    assert (outcome, problems) == ("none", [])
    conn = sqlite3.connect(tmp_path / "crash.db", isolation_level=None)
    conn.execute(damage)
    conn.close()
    _, _, problems = check_store(tmp_path / "crash.db", config, model, model, vectors)
    assert any(expected in problem for problem in problems), json.dumps(problems)
