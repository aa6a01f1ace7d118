"""Conditional batches: compare-and-set on `updated_at`, atomic with the batch's writes."""

from __future__ import annotations

import pytest
from langgraph.store.base import PutOp

from hippograph.store import ExpectOp, ExtendedStore, StaleWriteError

NS = ("memories", "alice")


def test_a_batch_commits_when_what_it_read_is_unchanged(memory_store):
    memory_store.put(NS, "m1", {"content": "Lives in Berlin"})
    read = memory_store.get(NS, "m1")
    memory_store.batch(
        [ExpectOp(NS, "m1", read.updated_at), PutOp(NS, "m1", {"content": "Lives in Paris"})]
    )
    assert memory_store.get(NS, "m1").value["content"] == "Lives in Paris"
    assert isinstance(memory_store, ExtendedStore)


def test_a_changed_item_refuses_the_whole_batch(memory_store):
    memory_store.put(NS, "m1", {"content": "Lives in Berlin"})
    memory_store.put(NS, "m2", {"content": "Codes in Python"})
    read = memory_store.get(NS, "m1")
    memory_store.delete(NS, "m1")  # another turn forgot it meanwhile
    before = memory_store.history(NS)
    with pytest.raises(StaleWriteError, match="stale write refused, nothing written") as raised:
        memory_store.batch(
            [
                ExpectOp(NS, "m1", read.updated_at),
                PutOp(NS, "m1", {"content": "Lives in Paris"}),
                PutOp(NS, "m2", {"content": "Codes in Rust"}),
            ]
        )
    assert [(c.key, c.found) for c in raised.value.conflicts] == [("m1", None)]
    assert memory_store.get(NS, "m1") is None  # the delete is not undone
    assert memory_store.get(NS, "m2").value["content"] == "Codes in Python"
    assert memory_store.history(NS) == before


def test_expecting_absence(memory_store):
    memory_store.batch([ExpectOp(NS, "new", None), PutOp(NS, "new", {"content": "x"})])
    with pytest.raises(StaleWriteError):
        memory_store.batch([ExpectOp(NS, "new", None), PutOp(NS, "new", {"content": "y"})])
    assert memory_store.get(NS, "new").value["content"] == "x"


def test_langgraph_stores_are_not_extended_stores(embeddings):
    from langgraph.store.memory import InMemoryStore

    assert not isinstance(InMemoryStore(), ExtendedStore)  # reconcile re-reads there instead
