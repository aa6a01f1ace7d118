"""What a turn costs beyond its nodes (issue 16), held where it was cut: the thread record
is read once per turn, not once by the run and again by its first node (nor a third time
by the chat surfaces), and the run's claim that lets the node skip its read cannot be
forged by a caller."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph
from langgraph.store.base import GetOp

from hippograph.backends import memory_index_config
from hippograph.graph import build_agent
from hippograph.graph.agent import build_agent_graph
from hippograph.memory.context import Context
from hippograph.memory.state import State
from hippograph.nodes.own_thread import CLAIMED_THREAD_KEY
from hippograph.store import FaissSqliteStore
from hippograph.store.threads import THREADS, ThreadOwnerError
from hippograph.turns import TurnStream
from tests.conftest import run_config, user_turn


class ThreadReadCountingStore(FaissSqliteStore):
    """The real store, counting reads of thread-ownership records."""

    thread_reads = 0

    def batch(self, ops: Iterable[Any]) -> list[Any]:
        ops = list(ops)
        self.thread_reads += sum(isinstance(op, GetOp) and op.namespace == THREADS for op in ops)
        return super().batch(ops)


@pytest.fixture
def counting_store(tmp_path, embeddings):
    with ThreadReadCountingStore.from_conn_string(
        str(tmp_path / "memories.db"), index=memory_index_config(embeddings)
    ) as store:
        yield store


def test_a_turn_reads_its_thread_record_once(counting_store):
    agent = build_agent(store=counting_store, checkpointer=InMemorySaver())
    agent.invoke(user_turn("I live in Lisbon."), run_config("t1"), context={"user_id": "al"})
    counting_store.thread_reads = 0
    agent.invoke(user_turn("I like jazz."), run_config("t1"), context={"user_id": "al"})
    assert counting_store.thread_reads == 1


def test_a_chat_turn_reads_its_thread_record_once(counting_store):
    agent = build_agent(store=counting_store, checkpointer=InMemorySaver())
    list(TurnStream(agent, "I live in Lisbon.", thread_id="t1", user_id="al"))
    counting_store.thread_reads = 0
    turn = TurnStream(agent, "I like jazz.", thread_id="t1", user_id="al")
    assert "".join(turn) and [op["op"] for op in turn.state["ops"]] == ["ADD"]
    assert counting_store.thread_reads == 1
    with pytest.raises(ThreadOwnerError):
        list(TurnStream(agent, "I live in Porto.", thread_id="t1", user_id="bob"))


def test_a_claim_named_in_the_config_does_not_skip_the_check(memory_store):
    """A caller (say a LangGraph server client, which sends JSON) cannot mark another
    user's thread as claimed for the agent's first node."""
    parent = StateGraph(State, context_schema=Context)
    parent.add_node("memory", build_agent_graph().compile())
    parent.add_edge(START, "memory")
    graph = parent.compile(store=memory_store, checkpointer=InMemorySaver())
    graph.invoke(user_turn("I live in Lisbon."), run_config("t1"), context={"user_id": "alice"})
    forged = {"configurable": {"thread_id": "t1", CLAIMED_THREAD_KEY: ["bob", "t1"]}}
    with pytest.raises(ThreadOwnerError):
        graph.invoke(user_turn("I live in Porto."), forged, context={"user_id": "bob"})
