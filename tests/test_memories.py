"""MemoryManager: the user-level facade the CLI and UI call, on both of hippograph's backends
(our SQLite store and PostgreSQL, opened through `hippograph.backends`) and on InMemoryStore."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from langgraph.store.base import BaseStore
from langgraph.store.memory import InMemoryStore

from hippograph.backends import memory_index_config, open_store
from hippograph.memories import (
    DuplicateMemoryError,
    HistoryUnavailableError,
    ImportValidationError,
    MemoryManager,
    MemoryNotFoundError,
)
from hippograph.store import Memory, memory_namespace


@pytest.fixture(params=["sqlite", "postgres"])
def backend_store(request: pytest.FixtureRequest, embeddings) -> Iterator[BaseStore]:
    """The store as `open_store` gives it: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield request.getfixturevalue("memory_store")
        return
    with open_store(request.getfixturevalue("pg_url"), embeddings=embeddings) as store:
        yield store


@pytest.fixture
def alice(backend_store):
    return MemoryManager(backend_store, "alice", origin="test")


def _seed(manager: MemoryManager) -> dict[str, str]:
    rows = [
        ("Codes primarily in Python", "tools", 0.8, "2024-01-05T10:00:00+00:00"),
        ("Uses NeoVim", "tools", 0.4, "2024-02-01T10:00:00+00:00"),
        ("Lives in Berlin", "personal", 0.9, "2024-02-01T12:00:00+00:00"),
        ("Runs every morning", "habits", 0.2, "2024-03-10T07:00:00+00:00"),
    ]
    keys = {}
    for content, category, importance, at in rows:
        memory = Memory(content=content, category=category, importance=importance, timestamp=at)  # type: ignore[arg-type]
        manager.store.put(manager.namespace, memory.id, memory.to_value())
        keys[content] = memory.id
    return keys


def test_list_filters(alice):
    _seed(alice)
    contents = lambda ms: [m.content for m in ms]  # noqa: E731
    assert contents(alice.list()) == [
        "Runs every morning",
        "Lives in Berlin",
        "Uses NeoVim",
        "Codes primarily in Python",
    ]
    assert contents(alice.list(category="tools")) == ["Uses NeoVim", "Codes primarily in Python"]
    assert contents(alice.list(min_importance=0.5, max_importance=0.85)) == [
        "Codes primarily in Python"
    ]
    feb = datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 2, 28, tzinfo=UTC)
    assert contents(alice.list(since=feb[0], until=feb[1])) == ["Lives in Berlin", "Uses NeoVim"]
    assert contents(alice.list(text="BERLIN")) == ["Lives in Berlin"]
    assert contents(alice.list(limit=1, offset=1)) == ["Lives in Berlin"]


def test_search_returns_scores(alice):
    _seed(alice)
    hits = alice.search("Which programming language do I use?", limit=2)
    assert hits[0].memory.content == "Codes primarily in Python"
    assert hits[0].score > hits[1].score > 0


def test_search_skips_malformed_memories_and_keeps_each_score(alice, caplog):
    _seed(alice)
    bad = {"content": "Which programming language do I use? Python.", "importance": 7}
    alice.store.put(alice.namespace, "bad", bad)
    question = "Which programming language do I use?"
    raw = {hit.key: hit.score for hit in alice.store.search(alice.namespace, query=question)}
    assert next(iter(raw)) == "bad"  # the malformed item is the best raw hit
    hits = alice.search(question, limit=3)
    assert "bad" not in [hit.memory.id for hit in hits] and len(hits) == 2
    assert [hit.score for hit in hits] == [pytest.approx(raw[hit.memory.id]) for hit in hits]
    assert "skipping malformed memory bad of alice" in caplog.text


def test_add_edit_delete_and_history(alice):
    memory = alice.add("Prefers dark mode", category="preference", importance=0.6)
    assert memory.category == "preferences"
    edited = alice.edit(memory.id, content="Prefers dark mode everywhere", importance=0.9)
    assert (edited.content, edited.importance) == ("Prefers dark mode everywhere", 0.9)
    with pytest.raises(ValueError, match="importance"):
        alice.edit(memory.id, importance=1.5)
    with pytest.raises(ValueError, match="empty"):
        alice.edit(memory.id, content="   ")
    assert alice.get(memory.id).content == "Prefers dark mode everywhere"  # nothing written
    other = alice.add("Has a cat")
    assert sorted(alice.delete([memory.id, other.id, "missing"])) == sorted([memory.id, other.id])
    history = alice.history(memory.id)
    assert [h["op"] for h in history] == ["DELETE", "UPDATE", "ADD"]
    assert history[1]["old"]["content"] == "Prefers dark mode"
    assert all(h["source"]["origin"] == "test" for h in history)
    with pytest.raises(MemoryNotFoundError):
        alice.edit(memory.id, importance=0.1)


def test_add_can_refuse_what_is_already_remembered(alice):
    """Chat's offline duplicate rule (exact cosine >= 0.95), for the UI's "Add a memory";
    another user's identical memory is not a duplicate."""
    bob = MemoryManager(alice.store, "bob", origin="test")
    bob.add("Allergic to peanuts")
    assert alice.duplicate_of("Allergic to peanuts") is None
    first = alice.add("Allergic to peanuts", allow_duplicate=False)
    with pytest.raises(DuplicateMemoryError, match="already remembered as “Allergic to peanuts”"):
        alice.add("allergic to  peanuts", allow_duplicate=False)
    found = alice.duplicate_of("Allergic to peanuts")
    assert found is not None and found.memory.id == first.id and found.score > 0.99
    assert alice.duplicate_of("Allergic to shellfish") is None
    alice.add("Allergic to peanuts")  # the default stays: add what is asked
    assert [m.content for m in alice.list()] == ["Allergic to peanuts"] * 2
    assert [m.content for m in bob.list()] == ["Allergic to peanuts"]


def test_only_the_users_namespace_is_touched(alice):
    bob = MemoryManager(alice.store, "bob")
    secret = bob.add("Bob's bank PIN hint")
    assert alice.list() == [] and alice.search("bank PIN") == []
    with pytest.raises(MemoryNotFoundError):
        alice.edit(secret.id, content="hijacked")
    assert alice.delete(secret.id) == []
    assert bob.get(secret.id).content == "Bob's bank PIN hint"
    assert alice.history() == []


def test_history_unavailable_elsewhere(embeddings):
    manager = MemoryManager(InMemoryStore(index=memory_index_config(embeddings)), "alice")
    manager.add("Works on any BaseStore")
    assert [m.content for m in manager.list()] == ["Works on any BaseStore"]
    assert manager.search("any store")[0].memory.content == "Works on any BaseStore"
    with pytest.raises(HistoryUnavailableError, match="unavailable on the InMemoryStore backend"):
        manager.history()


def test_export_import_round_trip(alice, tmp_path):
    keys = _seed(alice)
    memory_store = alice.store
    memory_store.put(
        alice.namespace, "ctx", {"content": "Yes, Python", "context": "Q: which language?"}
    )
    path = tmp_path / "export.jsonl"
    assert alice.export_jsonl(path) == 5
    target = MemoryManager(memory_store, "carol")
    report = target.import_jsonl(path)
    assert report.imported == 5 and report.skipped == []
    assert target.get(keys["Lives in Berlin"]).importance == 0.9
    copied = memory_store.get(memory_namespace("carol"), "ctx").value
    assert copied["context"] == "Q: which language?" and "created_at" not in copied


def test_import_reports_bad_lines_and_writes_nothing(alice):
    lines = [
        json.dumps({"content": "Good line", "category": "tools", "importance": 0.5}),
        "{not json",
        json.dumps({"content": "", "importance": 0.5}),
        "",
        json.dumps({"content": "Too important", "importance": 7}),
        json.dumps(["a", "list"]),
    ]
    text = "\n".join(lines) + "\n"
    with pytest.raises(ImportValidationError) as raised:
        alice.import_jsonl(io.StringIO(text))
    assert [e.line for e in raised.value.errors] == [2, 3, 5, 6]
    assert alice.count() == 0
    report = alice.import_jsonl(io.StringIO(text), skip_invalid=True)
    assert report.imported == 1 and len(report.skipped) == 4
    assert [m.content for m in alice.list()] == ["Good line"]


def test_a_key_repeated_in_an_import_is_written_once_from_its_last_line(alice):
    """The import is a pipelined bulk load: a key on lines in two different chunks must not
    depend on which chunk was written first. Its last line wins, the others are reported."""
    filler = [json.dumps({"key": f"f{i}", "content": f"Filler fact {i}"}) for i in range(600)]
    first = json.dumps({"key": "tea", "content": "Likes green tea"})
    last = json.dumps({"key": "tea", "content": "Likes black tea now"})
    text = "\n".join([first, *filler, last]) + "\n"
    report = alice.import_jsonl(io.StringIO(text))
    assert report.imported == 601 and alice.count() == 601
    assert alice.get("tea").content == "Likes black tea now"
    assert [(k.line, k.error) for k in report.kept] == [(1, "tea is repeated on line 602")]


def test_stats(alice):
    _seed(alice)
    stats = alice.stats()
    assert stats.total == 4 == alice.count()
    assert stats.by_category == {"tools": 2, "personal": 1, "habits": 1}
    assert stats.importance_histogram == [0, 0, 1, 0, 1, 0, 0, 0, 1, 1]
    assert stats.growth == [("2024-01-05", 1), ("2024-02-01", 3), ("2024-03-10", 4)]
