"""A chat turn (CLI, UI: `TurnStream`) is checkpointed once, when it ends: the thread holds
whole turns, and a turn pays for one checkpoint write instead of one per node."""

from __future__ import annotations

from langgraph.checkpoint.memory import InMemorySaver

from hippograph.graph import build_agent
from hippograph.turns import TurnStream
from tests.conftest import run_config


def test_a_chat_turn_is_one_checkpoint_with_the_whole_exchange(memory_store):
    agent = build_agent(store=memory_store, checkpointer=InMemorySaver())
    for text in ["I live in Lisbon.", "Where do I live?"]:
        turn = TurnStream(agent, text, thread_id="chat", user_id="alice")
        answer = "".join(turn)
        assert answer == turn.answer and answer
    history = list(agent.get_state_history(run_config("chat")))
    assert [len(snapshot.values["messages"]) for snapshot in history] == [4, 2]
    assert agent.get_state(run_config("chat")).values["recalled"][0]["content"] == (
        "I live in Lisbon."
    )
