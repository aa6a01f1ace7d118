"""The README's "Memory as subgraphs" example runs as written, and the reason it insists on
a parent state with the subgraphs' keys is real (LangGraph drops the others silently)."""

from __future__ import annotations

import re
from pathlib import Path

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, MessagesState, StateGraph

from hippograph.backends import open_store
from hippograph.graph import build_recall_graph
from hippograph.store import memory_namespace

README = Path(__file__).resolve().parents[2] / "README.md"


def _subgraph_example() -> str:
    section = README.read_text().split("### Memory as subgraphs\n", 1)[1]
    section = re.split(r"\n##+ ", section, maxsplit=1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    return block


def test_readme_subgraph_example_runs_as_written(capsys):
    exec(compile(_subgraph_example(), "README.md (Memory as subgraphs)", "exec"), {})
    assert capsys.readouterr().out.strip() == "What I remember: I play the cello."
    with open_store() as store:  # the same HIPPOGRAPH_DB the example used
        stored = [item.value["content"] for item in store.search(memory_namespace("alice"))]
    assert stored == ["I play the cello."]  # the question was not stored


def test_a_messages_state_parent_loses_recall_output(memory_store):
    """Why the README asks for `hippograph.State`: this parent never sees `recalled`."""
    memory_store.put(memory_namespace("erin"), "k1", {"content": "Allergic to peanuts"})
    seen: list[set[str]] = []

    def answer(state: MessagesState) -> dict[str, list[AIMessage]]:
        seen.append(set(state))
        return {"messages": [AIMessage("ok")]}

    builder = StateGraph(MessagesState)
    builder.add_node("recall", build_recall_graph())
    builder.add_node("answer", answer)
    builder.add_edge(START, "recall")
    builder.add_edge("recall", "answer")
    builder.add_edge("answer", END)
    parent = builder.compile(store=memory_store)
    parent.invoke({"messages": [HumanMessage("Food allergies?")]}, context={"user_id": "erin"})
    assert seen == [{"messages"}]
