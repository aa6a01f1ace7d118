"""Eval ingest goes through the remember subgraph: the CONTRACTS.md memory value, merged
duplicates, and extract mode with a (scripted) chat model."""

from __future__ import annotations

from datetime import UTC, datetime

from hippograph.backends import open_store
from hippograph.eval.dataset import Turn
from hippograph.eval.ingest import TurnIngestor
from hippograph.scripted import ScriptedChatModel
from hippograph.store import LocalEmbeddings, memory_namespace

AT = datetime(2023, 5, 8, 13, 56)
AT_ISO = AT.replace(tzinfo=UTC).isoformat()


def test_turn_becomes_contract_memory_and_duplicates_merge_provenance(
    embeddings: LocalEmbeddings,
) -> None:
    question = Turn("D1:2", "Melanie", "What's new with you?")
    answer = Turn("D1:3", "Caroline", "I went to a LGBTQ support group yesterday.")
    ns = memory_namespace("conv.26")
    with open_store(":memory:", embeddings=embeddings) as store:
        ingest = TurnIngestor(store)
        [first] = ingest("conv.26", None, question, AT, thread_id="conv.26/session_1")
        [added] = ingest("conv.26", question, answer, AT, thread_id="conv.26/session_1")
        assert (first.op, added.op) == ("ADD", "ADD")
        assert added.key is not None
        item = store.get(ns, added.key)
        assert item is not None
        assert item.value == {
            "content": "Caroline: I went to a LGBTQ support group yesterday.",
            "category": "other",
            "importance": 0.5,
            "timestamp": AT_ISO,
            "context": "Melanie: What's new with you?",
            "source": {
                "thread_id": "conv.26/session_1",
                "message_ids": ["D1:3"],
                "turn_at": AT_ISO,
            },
        }
        assert first.key is not None
        first_item = store.get(ns, first.key)
        assert first_item is not None and "context" not in first_item.value

        again = Turn("D7:1", "Caroline", "I went to a LGBTQ support group yesterday.")
        [noop] = ingest("conv.26", None, again, AT, thread_id="conv.26/session_7")
        assert (noop.op, noop.key) == ("NOOP", added.key)
        merged = store.get(ns, added.key)
        assert merged is not None
        assert merged.value["source"]["message_ids"] == ["D1:3", "D7:1"]
        ingest("conv.26", None, again, AT, thread_id="conv.26/session_7")
        merged = store.get(ns, added.key)
        assert merged is not None
        assert merged.value["source"]["message_ids"] == ["D1:3", "D7:1"]  # no repeats
        assert len(store.search(ns, limit=10)) == 2


def test_context_is_capped(embeddings: LocalEmbeddings) -> None:
    long = Turn("D1:1", "Bob", "x" * 5000)
    turn = Turn("D1:2", "Alice", "ok")
    with open_store(":memory:", embeddings=embeddings) as store:
        [op] = TurnIngestor(store)("u", long, turn, AT, thread_id="t")
        assert op.key is not None
        item = store.get(memory_namespace("u"), op.key)
        assert item is not None and len(item.value["context"]) == 1000


def test_extract_mode_remembers_the_models_facts_with_the_turns_provenance(
    embeddings: LocalEmbeddings,
) -> None:
    model = ScriptedChatModel(
        responses=[
            {"facts": [{"content": "Caroline attends an LGBTQ support group",
                        "category": "personal", "importance": 0.8}]},
            {"actions": [{"op": "ADD", "content": "Caroline attends an LGBTQ support group"}]},
        ]
    )  # fmt: skip
    turn = Turn("D1:3", "Caroline", "I went to a LGBTQ support group yesterday.")
    with open_store(":memory:", embeddings=embeddings) as store:
        [op] = TurnIngestor(store, model=model)("conv", None, turn, AT, thread_id="conv/s1")
        assert op.op == "ADD" and op.key is not None
        item = store.get(memory_namespace("conv"), op.key)
        assert item is not None
        assert item.value["content"] == "Caroline attends an LGBTQ support group"
        assert item.value["category"] == "personal"
        assert item.value["source"]["message_ids"] == ["D1:3"]
        assert item.value["timestamp"] == AT_ISO
