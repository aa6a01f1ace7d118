"""The audit trail, on every backend that keeps one: each change, its old and new value, and
the provenance of the write (the value's own `source`, or an explicit `provenance(...)`)."""

from __future__ import annotations

from datetime import datetime

import pytest

from hippograph.store import provenance
from tests.store.conftest import StoreFactory

NS = ("memories", "alice")


@pytest.fixture(params=["faiss_sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """The backends with a `history()` (overrides the conftest's list)."""
    return str(request.param)


def test_history_records_every_change_with_provenance(make_store: StoreFactory) -> None:
    store = make_store(fields=["content"])
    store.put(NS, "k", {"content": "Lives in Berlin", "source": {"thread_id": "t1"}})
    store.put(NS, "k", {"content": "Lives in Berlin", "source": {"thread_id": "t1"}})  # no change
    store.put(NS, "k", {"content": "Lives in Munich", "source": {"thread_id": "t2"}})
    with provenance({"thread_id": "t3", "message_ids": ["m9"]}):
        store.delete(NS, "k")
    entries = store.history(NS, "k")  # type: ignore[attr-defined]
    assert [e["op"] for e in entries] == ["DELETE", "UPDATE", "ADD"]
    delete, update, add = entries
    assert add["new"] == {"content": "Lives in Berlin", "source": {"thread_id": "t1"}}
    assert add["namespace"] == NS and add["key"] == "k"
    assert update["old"]["content"] == "Lives in Berlin"
    assert update["new"]["content"] == "Lives in Munich"
    assert update["source"] == {"thread_id": "t2"}
    assert delete["old"]["content"] == "Lives in Munich" and delete["new"] is None
    assert delete["source"] == {"thread_id": "t3", "message_ids": ["m9"]}
    assert isinstance(delete["at"], datetime) and delete["at"].tzinfo is not None
    assert store.history(("memories", "bob")) == []  # type: ignore[attr-defined]
    assert len(store.history(("memories",))) == 3  # type: ignore[attr-defined]
    assert len(store.history(NS, limit=1, offset=1)) == 1  # type: ignore[attr-defined]
