"""How the agent meets its callers: context errors, defaults, turn time, unscored items,
and the lifetime of the storage build_agent opens (issues 13.4, 13.5, 20.3, 20.4, 21)."""

from __future__ import annotations

import gc

import pytest

from hippograph.config import Settings
from hippograph.graph import build_agent
from hippograph.memory.context import MissingUserError, UnknownContextKeyError
from hippograph.store import memory_namespace
from tests.conftest import run_config, user_turn

NS = memory_namespace("alice")


@pytest.fixture
def agent(memory_store, checkpointer):
    return build_agent(store=memory_store, checkpointer=checkpointer)


@pytest.mark.parametrize("context", [None, {}])
def test_no_user_is_our_error_not_a_type_error(agent, context):
    with pytest.raises(MissingUserError, match=r"context=\{'user_id': \.\.\.\}"):
        agent.invoke(user_turn("hi"), config=run_config(), context=context)


def test_an_unknown_context_key_is_refused_by_name(agent):
    with pytest.raises(UnknownContextKeyError, match="'userid'"):
        agent.invoke(user_turn("hi"), config=run_config(), context={"userid": "alice"})


def test_a_chat_user_s_question_is_not_a_memory(agent, memory_store):
    agent.invoke(
        user_turn("I repair old bikes."), config=run_config(), context={"user_id": "alice"}
    )
    out = agent.invoke(
        user_turn("What do I repair?"), config=run_config(), context={"user_id": "alice"}
    )
    assert out["ops"] == []
    assert [i.value["content"] for i in memory_store.search(NS)] == ["I repair old bikes."]
    assert all(0.0 <= m["score"] <= 1.0 for m in out["recalled"])


def test_turn_time_is_an_input_of_each_turn_never_sticky(agent, memory_store):
    dated = {"user_id": "alice", "turn_at": "2020-01-01T00:00:00"}
    first = agent.invoke(user_turn("I moved to Oslo."), config=run_config(), context=dated)
    later = agent.invoke(
        user_turn("I adopted a cat."), config=run_config(), context={"user_id": "alice"}
    )
    stamps = [
        memory_store.get(NS, out["ops"][0]["key"]).value["timestamp"] for out in (first, later)
    ]
    assert stamps[0].startswith("2020-01-01")
    assert not stamps[1].startswith("2020-01-01")  # the thread did not keep the old date


def test_an_item_without_a_vector_in_the_user_namespace_does_not_break_recall(agent, memory_store):
    memory_store.put(NS, "profile", {"name": "Alice", "tz": "Europe/Lisbon"}, index=False)
    agent.invoke(user_turn("I drink green tea."), config=run_config(), context={"user_id": "alice"})
    out = agent.invoke(
        user_turn("What do I drink?"), config=run_config(), context={"user_id": "alice"}
    )
    assert [m["content"] for m in out["recalled"]][:1] == ["I drink green tea."]
    assert "profile" not in {m["key"] for m in out["recalled"]}


def test_a_derived_graph_keeps_the_storage_it_uses_open(tmp_path):
    settings = Settings(db_path=tmp_path / "home" / "memories.db")
    derived = build_agent(settings=settings).with_config(recursion_limit=10)
    gc.collect()  # the agent itself is gone; only the derived graph is left
    out = derived.invoke(
        user_turn("My cat is called Tom."), config=run_config(), context={"user_id": "u"}
    )
    assert [op["op"] for op in out["ops"]] == ["ADD"]
    store = derived.store
    del derived, out
    gc.collect()  # the last graph is gone: what build_agent opened is closed
    with pytest.raises(Exception, match="closed"):
        store.search(memory_namespace("u"))
