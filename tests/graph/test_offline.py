"""The agent with no model configured: verbatim memories, duplicates, forgetting, recall."""

from __future__ import annotations

from typing import Any

import pytest

from hippograph.config import Settings
from hippograph.graph import aopen_agent, build_agent, open_agent
from hippograph.graph.context import MissingUserError
from hippograph.store import memory_namespace
from tests.conftest import run_config, user_turn

NS = memory_namespace("alice")


@pytest.fixture
def agent(memory_store, checkpointer, settings):
    return build_agent(store=memory_store, checkpointer=checkpointer, settings=settings)


def _turn(agent: Any, text: str, **context: Any) -> dict[str, Any]:
    return agent.invoke(
        user_turn(text), config=run_config(), context={"user_id": "alice", **context}
    )


def test_offline_turn_is_stored_verbatim_and_recalled(agent, memory_store):
    first = _turn(agent, "I live in Berlin, near the river.")
    assert [op["op"] for op in first["ops"]] == ["ADD"]
    item = memory_store.get(NS, first["ops"][0]["key"])
    assert item.value["content"] == "I live in Berlin, near the river."
    assert item.value["category"] == "other" and item.value["importance"] == 0.5
    assert item.value["source"]["message_ids"] == [first["messages"][0].id]
    assert "context" not in item.value  # the first turn has nothing before it

    second = _turn(agent, "Where do I live?", store_questions=False)
    assert second["ops"] == []  # a bare question is not a memory here
    assert second["recalled"][0]["content"] == "I live in Berlin, near the river."
    answer = second["messages"][-1].content
    assert "No chat model is configured" in answer and "I live in Berlin" in answer


def test_duplicate_is_noop_and_merges_provenance(agent, memory_store):
    first = _turn(agent, "I code mostly in Python.")
    again = _turn(agent, "I code mostly in Python.")
    assert [op["op"] for op in again["ops"]] == ["NOOP"]
    assert again["ops"][0]["key"] == first["ops"][0]["key"]
    item = memory_store.get(NS, first["ops"][0]["key"])
    user_ids = [m.id for m in again["messages"] if m.type == "human"]
    assert item.value["source"]["message_ids"] == user_ids


def test_offline_forget_deletes_the_closest_memory_only(agent, memory_store):
    _turn(agent, "I live in Berlin, near the river.")
    _turn(agent, "I code mostly in Python.")
    out = _turn(agent, "Please forget where I live.")
    assert [(op["op"], op["content"]) for op in out["ops"]] == [
        ("DELETE", "I live in Berlin, near the river.")
    ]
    remaining = [i.value["content"] for i in memory_store.search(NS)]
    assert remaining == ["I code mostly in Python."]
    deleted = memory_store.history(NS, out["ops"][0]["key"])[0]
    assert deleted["op"] == "DELETE" and deleted["source"]["thread_id"] == "t1"


def test_offline_forget_with_nothing_similar_keeps_everything(agent, memory_store):
    _turn(agent, "I code mostly in Python.")
    out = _turn(agent, "Forget my mother's maiden name.")
    assert [op["op"] for op in out["ops"]] == ["NOOP"]
    assert "nothing similar" in out["ops"][0]["reason"]
    assert len(memory_store.search(NS)) == 1


def test_missing_user_is_a_clear_error(agent):
    with pytest.raises(MissingUserError):
        agent.invoke(user_turn("hi"), config=run_config())


def test_default_storage_persists_across_agents(tmp_path):
    settings = Settings(db_path=tmp_path / "home" / "memories.db")
    with open_agent(settings=settings) as agent:
        agent.invoke(
            user_turn("My cat is called Tom."), config=run_config(), context={"user_id": "u"}
        )
    agent = build_agent(settings=settings)
    out = agent.invoke(
        user_turn("What is my cat called?"), config=run_config(), context={"user_id": "u"}
    )
    assert out["recalled"][0]["content"] == "My cat is called Tom."
    assert len([m for m in out["messages"] if m.type == "human"]) == 2  # checkpointed thread
    assert settings.checkpoint_path.is_file()


async def test_async_agent(tmp_path):
    settings = Settings(db_path=tmp_path / "async" / "memories.db")
    async with aopen_agent(settings=settings) as agent:
        await agent.ainvoke(
            user_turn("I drink green tea."), config=run_config(), context={"user_id": "u"}
        )
        out = await agent.ainvoke(
            user_turn("What do I drink?"), config=run_config(), context={"user_id": "u"}
        )
    assert out["recalled"][0]["content"] == "I drink green tea."
    assert len(out["messages"]) == 4


def test_agent_runs_on_any_base_store(embeddings, checkpointer, settings):
    from langgraph.store.memory import InMemoryStore

    from hippograph.backends import memory_index_config

    store = InMemoryStore(index=memory_index_config(embeddings))
    agent = build_agent(store=store, checkpointer=checkpointer, settings=settings)
    _turn(agent, "I play the violin.")
    out = _turn(agent, "I play the violin.")
    assert [op["op"] for op in out["ops"]] == ["NOOP"]
    assert [i.value["content"] for i in store.search(NS)] == ["I play the violin."]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # Hybrid search fuses cosine (0.84 here) with BM25, lifting the lexical twin to
        # 0.92: the duplicate check must compare meanings (exact cosine), not ranks.
        ("My favourite colour is blue.", "My favourite colour is green."),
        # Cosine 0.94: close in meaning, still a different fact.
        ("I have two cats.", "I have three cats."),
    ],
)
def test_a_different_fact_in_the_same_words_is_not_a_duplicate(agent, memory_store, first, second):
    _turn(agent, first)
    out = _turn(agent, second)
    assert [op["op"] for op in out["ops"]] == ["ADD"]
    contents = {item.value["content"] for item in memory_store.search(NS, limit=10)}
    assert contents == {first, second}
