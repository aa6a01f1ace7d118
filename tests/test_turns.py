"""`TurnStream`: a chat turn streamed token by token, then its final state."""

from __future__ import annotations

import pytest
from langgraph.graph import START, StateGraph

from hippograph.graph import build_agent
from hippograph.memory.chat_models import ModelCallError
from hippograph.scripted import ScriptedChatModel
from hippograph.turns import TurnStream, stream_modes


def test_a_model_answer_streams_in_tokens(memory_store, checkpointer):
    model = ScriptedChatModel(
        responses=[
            "Nice to meet you, Ana!",
            {"facts": [{"content": "Is called Ana", "category": "personal", "importance": 0.6}]},
            {"actions": [{"op": "ADD"}]},
        ]
    )
    agent = build_agent(store=memory_store, checkpointer=checkpointer, model=model)
    turn = TurnStream(agent, "Hi, I'm Ana.", thread_id="t1", user_id="ana")
    tokens = list(turn)
    assert len(tokens) > 1 and "".join(tokens) == "Nice to meet you, Ana!" == turn.answer
    assert [op["op"] for op in turn.state["ops"]] == ["ADD"]


def test_offline_the_answer_arrives_whole(memory_store, checkpointer):
    agent = build_agent(store=memory_store, checkpointer=checkpointer)
    turn = TurnStream(agent, "What is my name?", thread_id="t1", user_id="ana")
    tokens = list(turn)
    assert tokens == [turn.answer] and "No chat model is configured" in turn.answer
    assert turn.state["ops"] == []  # a question is not stored in the chat context


def test_a_failing_model_raises_from_the_iteration(memory_store, checkpointer):
    model = ScriptedChatModel(responses=[TimeoutError("provider timed out")])
    agent = build_agent(store=memory_store, checkpointer=checkpointer, model=model)
    with pytest.raises(ModelCallError, match="timed out"):
        list(TurnStream(agent, "Hello", thread_id="t1", user_id="ana"))


def test_only_an_agent_with_a_model_is_asked_for_its_tokens(memory_store, checkpointer):
    """LangGraph's `messages` mode runs every node on a worker thread: an offline agent's
    turns skip it (its answer arrives whole anyway); any other graph keeps it."""
    offline = build_agent(store=memory_store, checkpointer=checkpointer)
    assert stream_modes(offline) == ["values"]
    model = ScriptedChatModel(responses=["Hi"])
    online = build_agent(store=memory_store, checkpointer=checkpointer, model=model)
    assert stream_modes(online) == ["messages", "values"]
    builder = StateGraph(dict)
    builder.add_node("n", lambda state: state)
    builder.add_edge(START, "n")
    assert stream_modes(builder.compile()) == ["messages", "values"]


def test_a_failed_chat_turn_resumes_from_its_last_good_node(memory_store, tmp_path):
    """Chat turns checkpoint once, at the end (`CHAT_DURABILITY`), and LangGraph saves that
    end also when the turn raises: the thread keeps the user's message and what retrieve
    found, and running it again finishes the turn from respond."""
    from hippograph.backends import open_checkpointer

    model = ScriptedChatModel(responses=[TimeoutError("provider timed out"), "Hello, Ana."])
    model.default = {"facts": []}
    config = {"configurable": {"thread_id": "t1"}}
    with open_checkpointer(tmp_path / "memories.db") as saver:
        agent = build_agent(store=memory_store, checkpointer=saver, model=model)
        with pytest.raises(ModelCallError):
            list(TurnStream(agent, "Hi, I'm Ana.", thread_id="t1", user_id="ana"))
        failed = agent.get_state(config)
        assert failed.next == ("respond",)
        assert [m.text for m in failed.values["messages"]] == ["Hi, I'm Ana."]
        assert "recalled" in failed.values
        out = agent.invoke(None, config=config, context={"user_id": "ana"})
    assert [m.text for m in out["messages"]] == ["Hi, I'm Ana.", "Hello, Ana."]
