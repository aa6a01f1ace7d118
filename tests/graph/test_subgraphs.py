"""The recall and remember subgraphs, alone and inside someone else's graph."""

from __future__ import annotations

from typing import Any, NotRequired

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, MessagesState, StateGraph

from hippograph.graph import build_recall_graph, build_remember_graph
from hippograph.scripted import ScriptedChatModel
from hippograph.store import memory_namespace
from tests.graph.helpers import facts


class ParentState(MessagesState):
    recalled: NotRequired[list[dict[str, Any]]]
    ops: NotRequired[list[dict[str, Any]]]


def _own_respond(state: ParentState) -> dict[str, Any]:
    remembered = ", ".join(m["content"] for m in state.get("recalled") or []) or "nothing"
    return {"messages": [AIMessage(f"I remember: {remembered}")]}


def test_parent_graph_uses_subgraphs_with_its_own_store(memory_store, checkpointer):
    builder = StateGraph(ParentState)
    builder.add_node("recall", build_recall_graph())
    builder.add_node("answer", _own_respond)
    builder.add_node("remember", build_remember_graph())
    builder.add_edge(START, "recall")
    builder.add_edge("recall", "answer")
    builder.add_edge("answer", "remember")
    builder.add_edge("remember", END)
    parent = builder.compile(store=memory_store, checkpointer=checkpointer)
    config = {"configurable": {"thread_id": "p1"}}
    context = {"user_id": "carol"}

    first = parent.invoke(
        {"messages": [HumanMessage("I play the cello.")]}, config, context=context
    )
    assert [op["op"] for op in first["ops"]] == ["ADD"]
    stored = memory_store.search(memory_namespace("carol"))
    assert [i.value["content"] for i in stored] == ["I play the cello."]

    second = parent.invoke(
        {"messages": [HumanMessage("Which instrument do I play?")]}, config, context=context
    )
    assert second["messages"][-1].content == "I remember: I play the cello."


def test_remember_graph_contract_for_transcripts(memory_store):
    remember = build_remember_graph(store=memory_store, model=None)
    out = remember.invoke(
        {
            "messages": [
                HumanMessage("How was your week?", name="Melanie", id="D1:2"),
                HumanMessage(
                    "I went to a LGBTQ support group yesterday", name="Caroline", id="D1:3"
                ),
            ]
        },
        config={"configurable": {"thread_id": "conv-26"}},
        context={"user_id": "conv-26", "turn_at": "2023-05-08T13:56:00"},
    )
    (op,) = out["ops"]
    assert op["op"] == "ADD"
    value = memory_store.get(memory_namespace("conv-26"), op["key"]).value
    assert value["content"] == "Caroline: I went to a LGBTQ support group yesterday"
    assert value["context"] == "Melanie: How was your week?"
    assert value["timestamp"].startswith("2023-05-08T13:56:00")
    assert value["source"] == {
        "thread_id": "conv-26",
        "message_ids": ["D1:3"],
        "turn_at": "2023-05-08T13:56:00+00:00",
    }
    assert set(out) == {"candidates", "ops", "warnings"}


def test_remember_graph_with_a_model(memory_store):
    model = ScriptedChatModel(responses=[facts(("Attends a support group", "habits", 0.6))])
    remember = build_remember_graph(store=memory_store, model=model)
    out = remember.invoke(
        {"messages": [HumanMessage("I went to a support group yesterday", id="m1")]},
        context={"user_id": "dora"},
    )
    assert [(op["op"], op["content"]) for op in out["ops"]] == [("ADD", "Attends a support group")]


def test_recall_graph_alone(memory_store):
    memory_store.put(memory_namespace("erin"), "k1", {"content": "Allergic to peanuts"})
    recall = build_recall_graph(store=memory_store)
    out = recall.invoke(
        {"messages": [HumanMessage("Any food allergies I have?")]}, context={"user_id": "erin"}
    )
    assert [m["key"] for m in out["recalled"]] == ["k1"]
    assert 0 < out["recalled"][0]["score"] <= 1
