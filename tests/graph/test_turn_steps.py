"""A turn takes one superstep per node it needs — the thread check is part of `retrieve` —
and the check still refuses another user's turn when the agent runs inside another graph
(issue 16: each superstep is a checkpoint write and a task)."""

from __future__ import annotations

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph

from hippograph.graph import build_agent
from hippograph.graph.agent import build_agent_graph
from hippograph.memory.context import Context
from hippograph.memory.state import State
from hippograph.store import memory_namespace
from hippograph.store.threads import ThreadOwnerError, thread_owner
from tests.conftest import run_config, user_turn


def test_a_turn_checkpoints_once_per_node_and_claims_its_thread(memory_store):
    agent = build_agent(store=memory_store, checkpointer=InMemorySaver())
    config = run_config("t1")
    steps = [
        next(iter(chunk))
        for chunk in agent.stream(
            user_turn("I live in Lisbon."), config, context={"user_id": "alice"}
        )
    ]
    assert steps == ["retrieve", "respond", "extract", "reconcile"]
    assert len(list(agent.get_state_history(config))) == 1 + 1 + len(steps)  # input, START
    assert thread_owner(memory_store, "t1") == "alice"


def test_the_agent_as_a_subgraph_still_refuses_another_users_thread(memory_store):
    parent = StateGraph(State, context_schema=Context)
    parent.add_node("memory", build_agent_graph().compile())
    parent.add_edge(START, "memory")
    graph = parent.compile(store=memory_store, checkpointer=InMemorySaver())
    graph.invoke(user_turn("I live in Lisbon."), run_config("t1"), context={"user_id": "alice"})
    assert thread_owner(memory_store, "t1") == "alice"
    with pytest.raises(ThreadOwnerError):
        graph.invoke(user_turn("I live in Porto."), run_config("t1"), context={"user_id": "bob"})
    assert memory_store.search(memory_namespace("bob"), limit=5) == []
    alice = [item.value["content"] for item in memory_store.search(memory_namespace("alice"))]
    assert alice == ["I live in Lisbon."]
