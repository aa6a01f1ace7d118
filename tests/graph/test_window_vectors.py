"""Retrieve's recent-turns window at almost no cost (issue 16): its query vector is pooled
from the vectors of the messages it joins, which the thread keeps, so a conversation runs
each user message through the model once — and a follow-up still finds what the
conversation is about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.store.memory import InMemoryStore

from hippograph.backends import memory_index_config
from hippograph.graph import build_agent, build_recall_graph
from hippograph.memory.window import window_vectors
from hippograph.nodes.retrieve import recall_queries
from hippograph.store import FaissSqliteStore, LocalEmbeddings, memory_namespace
from tests.conftest import run_config, user_turn
from tests.graph.test_turn_embeddings import RecordingEmbeddings

ALLERGY = "Ana is allergic to peanuts."
MEMORIES = [
    ALLERGY,
    "I can't eat gluten.",
    "Rita is vegan.",
    "Tom hates mushrooms.",
    "I should avoid cooking with too much salt, doctor's orders.",
    "My dog Bolt must not eat chocolate.",
    "I bought a new cast-iron pan last week.",
    "Tom loves chocolate cake.",
    "I usually cook pasta on Fridays.",
    "My kitchen oven runs a little hot.",
]
CONVERSATION = [
    "My sister Ana is coming for dinner on Friday.",
    "Ana flies in from Porto that morning.",
]
FOLLOW_UP = "What should I avoid cooking?"  # says nothing of Ana: only the window does


def _seeded(path: Path, embedder: LocalEmbeddings, hybrid: bool) -> FaissSqliteStore:
    store = FaissSqliteStore(str(path), index=memory_index_config(embedder), hybrid=hybrid)
    for n, text in enumerate(MEMORIES):
        value = {"content": text, "category": "personal", "importance": 0.5}
        store.put(memory_namespace("alice"), f"seed{n}", value)
    return store


def _recalled(out: dict[str, Any]) -> list[str]:
    return [memory["content"] for memory in out["recalled"]]


@pytest.mark.parametrize("hybrid", [False, True], ids=["vector", "hybrid"])
def test_a_follow_up_recalls_what_the_conversation_is_about(tmp_path, hybrid):
    embedder = RecordingEmbeddings()
    with _seeded(tmp_path / "m.db", embedder, hybrid) as store:
        agent = build_agent(store=store, checkpointer=InMemorySaver())
        for thread, window in (("with", 3), ("without", 0)):
            context = {"user_id": "alice", "recall_window": window}
            for text in CONVERSATION:
                agent.invoke(user_turn(text), run_config(thread), context=context)
            embedder.ran.clear()
            out = agent.invoke(user_turn(FOLLOW_UP), run_config(thread), context=context)
            assert "\n" not in "".join(embedder.ran)  # no joined window text was embedded
            if window:
                assert ALLERGY in _recalled(out)
            else:  # the follow-up alone does not find it: the window is what does
                assert ALLERGY not in _recalled(out)
        assert "recent_vectors" not in out  # scratch state, not the agent's output


def test_a_conversation_embeds_each_user_message_once(tmp_path):
    """Four turns; the embedder keeps no cache, so a message embedded twice would show."""
    embedder = RecordingEmbeddings()
    embedder.cache_size = 0
    turns = [
        "I moved to Lisbon last year. The weather is great.",
        "My sister Ana lives in Porto. She is a dentist.",
        "Ana has a dog called Bolt. He is very old.",
        "What does my sister do for work?",
    ]
    with FaissSqliteStore.from_conn_string(
        str(tmp_path / "m.db"), index=memory_index_config(embedder)
    ) as store:
        agent = build_agent(store=store, checkpointer=InMemorySaver())
        for text in turns:
            agent.invoke(user_turn(text), run_config(), context={"user_id": "alice"})
    assert [embedder.ran.count(text) for text in turns] == [1, 1, 1, 1]
    assert not [text for text in embedder.ran if "\n" in text]  # never a joined window


def test_a_resumed_thread_embeds_only_its_latest_message(tmp_path):
    """The earlier messages' vectors travel with the thread's checkpoint: a new process
    (a new store and embedder, nothing cached) embeds only the new message."""
    checkpointer = InMemorySaver()
    with _seeded(tmp_path / "m.db", RecordingEmbeddings(), hybrid=True) as store:
        agent = build_agent(store=store, checkpointer=checkpointer)
        for text in CONVERSATION:
            agent.invoke(user_turn(text), run_config(), context={"user_id": "alice"})
    embedder = RecordingEmbeddings()
    with FaissSqliteStore(
        str(tmp_path / "m.db"), index=memory_index_config(embedder), hybrid=True
    ) as store:
        agent = build_agent(store=store, checkpointer=checkpointer)
        out = agent.invoke(user_turn(FOLLOW_UP), run_config(), context={"user_id": "alice"})
    assert embedder.runs == [[FOLLOW_UP]]
    assert ALLERGY in _recalled(out)


def test_without_the_threads_vectors_the_messages_are_embedded_in_one_run(tmp_path):
    """The recall subgraph keeps no state between runs: the window's messages are embedded
    with the latest one, in one model run (still not the joined text)."""
    embedder = RecordingEmbeddings()
    with _seeded(tmp_path / "m.db", embedder, hybrid=True) as store:
        embedder.runs.clear()
        recall = build_recall_graph(store=store)
        messages = [HumanMessage(CONVERSATION[0]), HumanMessage(FOLLOW_UP)]
        out = recall.invoke({"messages": messages}, context={"user_id": "alice"})
    assert embedder.runs == [[CONVERSATION[0], FOLLOW_UP]]
    assert ALLERGY in _recalled(out)


def test_a_store_that_cannot_take_vectors_searches_with_the_joined_text():
    """LangGraph's `InMemoryStore` embeds the window's text itself, as before."""
    embedder = RecordingEmbeddings()
    store = InMemoryStore(index={"dims": 384, "embed": embedder, "fields": ["content"]})
    for n, text in enumerate(MEMORIES):
        store.put(memory_namespace("alice"), f"seed{n}", {"content": text})
    embedder.ran.clear()
    messages = [HumanMessage(text) for text in CONVERSATION] + [HumanMessage(FOLLOW_UP)]
    out = build_recall_graph(store=store).invoke(
        {"messages": messages}, context={"user_id": "alice"}
    )
    assert "\n".join([*CONVERSATION, FOLLOW_UP]) in embedder.ran
    assert ALLERGY in _recalled(out)


def test_saved_vectors_of_another_embedder_or_unreadable_are_embedded_again(tmp_path):
    embedder = RecordingEmbeddings()
    embedder.cache_size = 0
    messages: list[Any] = [HumanMessage(CONVERSATION[0]), AIMessage("ok"), HumanMessage("hi")]
    queries = recall_queries(messages, 3)
    with FaissSqliteStore(str(tmp_path / "m.db"), index=memory_index_config(embedder)) as store:
        _, saved = window_vectors(store, queries, None, 3)
        assert saved is not None and len(saved["vectors"]) == 2
        for broken in (
            {**saved, "embedder": "OtherEmbeddings:model"},
            {**saved, "vectors": dict.fromkeys(saved["vectors"], "not base64!")},
            {**saved, "vectors": dict.fromkeys(saved["vectors"], "AAAA")},  # a zero vector
            "garbage",
        ):
            embedder.ran.clear()
            vectors, again = window_vectors(store, queries, broken, 3)  # type: ignore[arg-type]
            assert sorted(embedder.ran) == sorted([CONVERSATION[0], "hi"])
            assert set(vectors) == {q.text for q in queries} and again == saved
        embedder.ran.clear()
        window_vectors(store, queries, saved, 3)
        assert embedder.ran == ["hi"]  # the latest only: the earlier one was saved


def test_a_blank_latest_message_embeds_nothing_blank(tmp_path):
    embedder = RecordingEmbeddings()
    with _seeded(tmp_path / "m.db", embedder, hybrid=True) as store:
        embedder.ran.clear()
        messages = [HumanMessage(CONVERSATION[0]), HumanMessage("  ")]
        out = build_recall_graph(store=store).invoke(
            {"messages": messages}, context={"user_id": "alice"}
        )
    assert embedder.ran == [CONVERSATION[0]]  # the window's only message; nothing blank
    assert out["recalled"]
