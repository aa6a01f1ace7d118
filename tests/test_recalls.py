"""`RecallLog`: per-user recall counters beside the store."""

from __future__ import annotations

import pytest

from hippograph.config import Settings
from hippograph.recalls import RecallLog, recall_log_path


def test_counts_per_user_most_first(tmp_path):
    log = RecallLog(tmp_path / "r.db")
    assert log.record("alice", [{"key": "a", "score": 0.9}, {"key": "b", "score": 0.5}]) == 2
    assert log.record("alice", [{"key": "a", "score": 0.7}, {"key": "a", "score": 0.7}]) == 1
    log.record("bob", [{"key": "z"}])
    top = log.top("alice")
    assert [(c.key, c.count) for c in top] == [("a", 2), ("b", 1)]
    assert top[0].last_score == 0.7
    assert [c.key for c in log.top("bob")] == ["z"] and log.top("bob")[0].last_score is None
    assert log.top("carol") == []
    assert log.record("alice", []) == 0
    log.close()

    reopened = RecallLog(tmp_path / "r.db")  # durable across processes
    assert [(c.key, c.count) for c in reopened.top("alice", limit=1)] == [("a", 2)]
    reopened.close()


def test_rejects_recalled_memories_without_a_key():
    log = RecallLog(":memory:")
    with pytest.raises(ValueError, match="string key"):
        log.record("alice", [{"key": "a"}, {"content": "no key"}])
    assert log.top("alice") == []  # nothing of the bad turn was counted
    log.close()


def test_lives_beside_the_store(tmp_path):
    settings = Settings(db_path=tmp_path / "data" / "memories.db")
    assert recall_log_path(settings) == str(tmp_path / "data" / "memories-recalls.db")
    assert recall_log_path(Settings(db_path=tmp_path / "plain")).endswith("plain-recalls.db")
    log = RecallLog.for_settings(settings)
    assert (tmp_path / "data" / "memories-recalls.db").exists()
    log.close()
