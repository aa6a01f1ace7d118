"""Verbatim ingest writes the CONTRACTS.md memory value, and merges near-duplicates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hippograph.backends import open_store
from hippograph.eval.dataset import Turn
from hippograph.eval.ingest import ExtractModeUnavailableError, ingest_turn
from hippograph.store import LocalEmbeddings, memory_namespace

AT = datetime(2023, 5, 8, 13, 56)
AT_ISO = AT.replace(tzinfo=UTC).isoformat()


def test_turn_becomes_contract_memory_and_duplicates_merge_provenance(
    embeddings: LocalEmbeddings,
) -> None:
    question = Turn("D1:2", "Melanie", "What's new with you?")
    answer = Turn("D1:3", "Caroline", "I went to a LGBTQ support group yesterday.")
    with open_store(":memory:", embeddings=embeddings) as store:
        first = ingest_turn(store, "conv.26", None, question, AT, thread_id="conv.26")
        added = ingest_turn(store, "conv.26", question, answer, AT, thread_id="conv.26")
        assert (first.op, added.op) == ("ADD", "ADD")
        item = store.get(memory_namespace("conv.26"), added.key)
        assert item is not None
        assert item.value == {
            "content": "Caroline: I went to a LGBTQ support group yesterday.",
            "category": "other",
            "importance": 0.5,
            "timestamp": AT_ISO,
            "context": "Melanie: What's new with you?",
            "source": {
                "thread_id": "conv.26",
                "message_ids": ["D1:3"],
                "turn_at": AT_ISO,
            },
        }
        first_item = store.get(memory_namespace("conv.26"), first.key)
        assert first_item is not None and "context" not in first_item.value

        again = Turn("D7:1", "Caroline", "I went to a LGBTQ support group yesterday.")
        noop = ingest_turn(store, "conv.26", None, again, AT, thread_id="conv.26")
        assert (noop.op, noop.key) == ("NOOP", added.key)
        merged = store.get(memory_namespace("conv.26"), added.key)
        assert merged is not None
        assert merged.value["source"]["message_ids"] == ["D1:3", "D7:1"]
        ingest_turn(store, "conv.26", None, again, AT, thread_id="conv.26")
        merged = store.get(memory_namespace("conv.26"), added.key)
        assert merged is not None
        assert merged.value["source"]["message_ids"] == ["D1:3", "D7:1"]  # no repeats
        assert len(store.search(memory_namespace("conv.26"), limit=10)) == 2


def test_context_is_capped_and_extract_mode_needs_the_agent(embeddings: LocalEmbeddings) -> None:
    long = Turn("D1:1", "Bob", "x" * 5000)
    turn = Turn("D1:2", "Alice", "ok")
    with open_store(":memory:", embeddings=embeddings) as store:
        op = ingest_turn(store, "u", long, turn, AT, thread_id="t")
        item = store.get(memory_namespace("u"), op.key)
        assert item is not None and len(item.value["context"]) == 1000
        with pytest.raises(ExtractModeUnavailableError, match="agent workstream"):
            ingest_turn(store, "u", None, turn, AT, thread_id="t", mode="extract")
