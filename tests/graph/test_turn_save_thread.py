"""A turn's checkpoint saves share one background thread (issue 16): at LangGraph's default
durability each save went to a new thread of a per-run pool (4–5 thread starts per turn,
which on 2 cores cost more than the saves). The agent's runs run one node per step, so
they keep that work on one thread — unless the caller chose `max_concurrency`, or the run
streams while its nodes run (tokens, custom events), where LangGraph needs its pool."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END

from hippograph.graph import build_agent
from hippograph.graph.agent import build_agent_graph
from hippograph.graph.checkpoints import TurnSqliteSaver
from hippograph.scripted import ScriptedChatModel
from hippograph.turns import TurnStream
from tests.conftest import run_config, user_turn


class SaveRecorder(TurnSqliteSaver):
    """The real default saver, recording the thread of each save and the run's
    `max_concurrency` it was given."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self.threads: list[str] = []
        self.max_concurrency: set[Any] = set()

    def _record(self, config: RunnableConfig) -> None:
        self.threads.append(threading.current_thread().name)
        self.max_concurrency.add(config.get("max_concurrency"))

    def put(self, config: RunnableConfig, *args: Any, **kwargs: Any) -> RunnableConfig:
        self._record(config)
        return super().put(config, *args, **kwargs)

    def put_writes(self, config: RunnableConfig, *args: Any, **kwargs: Any) -> None:
        self._record(config)
        super().put_writes(config, *args, **kwargs)


@pytest.fixture
def saver(tmp_path):
    with SaveRecorder.from_conn_string(str(tmp_path / "checkpoints.db")) as recorder:
        yield recorder


def _main() -> str:
    return threading.main_thread().name


def test_a_default_turn_saves_every_step_on_one_background_thread(memory_store, saver):
    agent = build_agent(store=memory_store, checkpointer=saver)
    for text in ["I live in Lisbon.", "I play chess on Sundays."]:
        saver.threads.clear()
        out = agent.invoke(user_turn(text), run_config("t1"), context={"user_id": "al"})
        assert out["ops"], "the turn stored its fact"
        # the input and each of the four nodes: a checkpoint and the node's writes
        assert len(saver.threads) >= 9
        assert len(set(saver.threads)) == 1 and _main() not in saver.threads
    history = list(agent.get_state_history(run_config("t1")))
    assert len(history) == 2 * 6  # every step of both turns is a checkpoint, as before
    assert [m.content for m in history[0].values["messages"][::2]] == [
        "I live in Lisbon.",
        "I play chess on Sundays.",
    ]


def test_sync_durability_keeps_its_saves_on_one_thread_too(memory_store, saver):
    agent = build_agent(store=memory_store, checkpointer=saver)
    agent.invoke(
        user_turn("I live in Lisbon."), run_config(), context={"user_id": "al"}, durability="sync"
    )
    assert len(saver.threads) >= 9 and len(set(saver.threads)) == 1


def test_a_callers_max_concurrency_is_theirs(memory_store, saver):
    agent = build_agent(store=memory_store, checkpointer=saver)
    config = {**run_config(), "max_concurrency": 3}
    agent.invoke(user_turn("I live in Lisbon."), config, context={"user_id": "al"})
    assert saver.max_concurrency == {3}
    saver.max_concurrency.clear()
    bound = agent.with_config(max_concurrency=2)
    bound.invoke(user_turn("I play chess."), run_config("t2"), context={"user_id": "al"})
    assert saver.max_concurrency == {2}


def test_a_run_that_streams_tokens_keeps_langgraphs_pool(memory_store, saver):
    """With `messages`, LangGraph runs each node on a worker beside a stream waiter: one
    worker would hold the tokens back until the node ends."""
    model = ScriptedChatModel(default="Noted, Lisbon it is.")
    agent = build_agent(store=memory_store, checkpointer=saver, model=model)
    chunks = list(TurnStream(agent, "I live in Lisbon.", thread_id="t1", user_id="al"))
    assert "".join(chunks) == "Noted, Lisbon it is."
    assert saver.max_concurrency == {None}
    saver.max_concurrency.clear()
    for _ in agent.stream(
        user_turn("I play chess."),
        run_config("t2"),
        context={"user_id": "al"},
        stream_mode="custom",
    ):
        pass
    assert saver.max_concurrency == {None}


def test_a_node_added_beside_the_agents_keeps_langgraphs_pool(memory_store, saver):
    """Two nodes in one step run on LangGraph's pool: one worker would run them in turn."""
    builder = build_agent_graph()
    builder.add_node("note", lambda state: {})
    builder.add_edge("retrieve", "note")  # beside respond, in the same step
    builder.add_edge("note", END)
    agent = builder.compile(store=memory_store, checkpointer=saver)
    out = agent.invoke(user_turn("I live in Lisbon."), run_config(), context={"user_id": "al"})
    assert out["ops"] and saver.max_concurrency == {None}
    chain = build_agent_graph().compile(store=memory_store, checkpointer=saver)
    saver.max_concurrency.clear()
    chain.invoke(user_turn("I play chess."), run_config("t2"), context={"user_id": "al"})
    assert saver.max_concurrency == {1}
